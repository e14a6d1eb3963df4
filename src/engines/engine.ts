// The engine interface: how a netfilter back end realises the flow table in the translator.
import type { EngineName } from '../lab/schema.js';
import type { Transaction } from '../nft/transaction.js';

/** One flow as the translator sees it: addresses only. */
export interface FlowMapping {
  /** The abstract address (names the flow). */
  readonly address: string;
  /** Concrete address of the initiator: its source is rewritten to `address`. */
  readonly initiatorAddress: string;
  /** Concrete address of the responder: `address` as destination is rewritten to it. */
  readonly responderAddress: string;
}

/** One flow's mapping before and after a change. */
export interface FlowChange {
  readonly before?: FlowMapping;
  readonly after?: FlowMapping;
}

/** What an engine reads back from the kernel. */
export interface KernelFlowTable {
  /** Whether the engine's own objects (chains, hooks) are present. */
  readonly installed: boolean;
  readonly mappings: readonly FlowMapping[];
  /** Rules and chains in flowmig's own table or chains that flowmig does not write, or wrote otherwise. */
  readonly foreignRules?: number;
  /** Built-in chains whose jump to flowmig's chain is missing while the other one is there. */
  readonly missingHooks?: readonly ('PREROUTING' | 'POSTROUTING')[];
}

/**
 * A semantic change to one of flowmig's maps or sets: keys and values as address strings (a key of
 * a concatenated map has several parts; an added map element's last part is its value): the agent's
 * wire form of a transaction's element verbs (editTransaction in edits.ts makes the transaction,
 * which the agent renders to netlink, nft to text). The last part of every key is the flow's
 * abstract address (the agent groups a flow's changes by it).
 *
 * In one transaction all `remove`s of all edits come first, then all `add`s, then the `absent`
 * elements are added and deleted again: that makes sure they are gone whether or not they were
 * there (a plain delete of a missing element would fail the whole transaction).
 */
export interface MapEdit {
  /** The table; absent means the engine's fast-path table. */
  readonly table?: string;
  readonly map: string;
  /** The edit is on a set: added elements have no value. */
  readonly set?: boolean;
  readonly remove: readonly (readonly string[])[];
  readonly add: readonly (readonly string[])[];
  /**
   * Added elements expire after this long (the set or map has the timeout flag). On an edit with
   * only `absent` elements: how long such an element, added earlier, may live.
   */
  readonly timeoutMs?: number;
  readonly absent?: readonly (readonly string[])[];
}

/**
 * One atomic netfilter transaction in a namespace: typed nftables verbs (rendered to `nft -f -`
 * input, or to netlink by the agent), or another program's input (ip6tables-restore).
 */
export type NetfilterApplyOp = {
  readonly kind: 'netfilterApply';
  readonly netns: string;
  /** What the transaction does, for progress and reports. */
  readonly summary: string;
  /** The same change as map edits, for an agent that applies it over netlink. */
  readonly edits?: readonly MapEdit[];
} & ({ readonly nft: Transaction } | { readonly argv: readonly string[]; readonly stdin: string });

/** A program run in the translator whose output an engine (or table) reads back. */
export interface Inspection {
  readonly argv: readonly string[];
  readonly netns: string;
}

/**
 * Engines are planners: they return operations, never run anything. Every method that changes
 * mappings returns exactly one `netfilterApply` op, applied as one atomic transaction.
 */
export interface Engine {
  readonly name: EngineName;
  /** Programs the engine's operations need in the translator. */
  readonly programs: readonly string[];
  /** Set when the translator agent can apply this engine's edits over netlink (its table). */
  readonly fastPath?: { readonly table: string };
  /** Creates the engine's objects and the given mappings, in one transaction. */
  install(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp;
  /** Sets exactly these mappings, in one transaction: no moment without a mapping for any flow. */
  replace(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp;
  /**
   * Applies `changes` (flows whose mapping differs: `before` absent for a new flow, `after` absent
   * for a removed one) in one transaction. `all` gives every mapping after the change, for engines
   * that must restate the whole table; engines that edit elements never call it (O(changes)).
   */
  update(
    netns: string,
    changes: readonly FlowChange[],
    all: () => readonly FlowMapping[],
  ): NetfilterApplyOp;
  /**
   * Restates the engine's objects and exactly these mappings in one transaction, whatever the
   * kernel holds now (`kernel`, as parsed): missing objects come back, foreign changes to flowmig's
   * own objects go. Objects that are not flowmig's are never touched.
   */
  repair(
    netns: string,
    mappings: readonly FlowMapping[],
    kernel: KernelFlowTable,
  ): NetfilterApplyOp;
  /** Removes the engine's objects (undefined when deleting the namespace is enough). */
  uninstall(netns: string): NetfilterApplyOp | undefined;
  /** The command whose output `parse` reads. */
  inspect(netns: string): Inspection;
  parse(output: string): KernelFlowTable;
}
