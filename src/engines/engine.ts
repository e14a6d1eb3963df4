// The engine interface: how a netfilter back end realises the flow table in the translator.
import type { EngineName } from '../lab/schema.js';
import type { Command } from '../plan/command.js';
import type { Op } from '../plan/ops.js';

/** One flow as the translator sees it: addresses only. */
export interface FlowMapping {
  /** The abstract address (names the flow). */
  readonly address: string;
  /** Concrete address of the initiator: its source is rewritten to `address`. */
  readonly initiatorAddress: string;
  /** Concrete address of the responder: `address` as destination is rewritten to it. */
  readonly responderAddress: string;
}

/** What an engine reads back from the kernel. */
export interface KernelFlowTable {
  /** Whether the engine's own objects (chains, hooks) are present. */
  readonly installed: boolean;
  readonly mappings: readonly FlowMapping[];
}

/**
 * Engines are planners: they return operations, never run anything. Every method that changes
 * mappings returns exactly one `netfilterApply` op, applied as one atomic transaction.
 */
export interface Engine {
  readonly name: EngineName;
  /** Programs the engine's operations need in the translator. */
  readonly programs: readonly string[];
  /** Creates the engine's objects and the given mappings, in one transaction. */
  install(netns: string, mappings: readonly FlowMapping[]): Op;
  /** Replaces all mappings in one transaction: no moment without a mapping for any flow. */
  replace(netns: string, mappings: readonly FlowMapping[]): Op;
  /** The command whose output `parse` reads. */
  inspect(netns: string): Command;
  parse(output: string): KernelFlowTable;
}
