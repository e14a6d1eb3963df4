// Plans a migration: new flow assignments, then one atomic rule change, then that flow's conntrack.

import { joinNftOps } from '../engines/edits.js';
import type { Engine, FlowChange, FlowMapping } from '../engines/engine.js';
import { lateTable } from '../engines/late.js';
import { InputError } from '../errors.js';
import {
  concreteAddress,
  type Lab,
  type LabFlow,
  nodeByName,
  policyOf,
  servers,
} from '../lab/model.js';
import { canonicalAddress } from '../net/ipv6.js';
import { mappingsFor } from './build.js';
import type { Op } from './ops.js';

export interface MigrationPlan {
  /** Which end of the flow moves: the responder (to a server) or the initiator (to a client). */
  readonly role: 'responder' | 'initiator';
  readonly flow: LabFlow;
  readonly from: LabFlow;
  /** The assignments after the migration (all flows). */
  readonly flows: readonly LabFlow[];
  /** Rule change first, conntrack cleanup second; empty when nothing changes. */
  readonly ops: readonly Op[];
}

/** How many flows an unknown flow's error names; a large lab's list would not fit one line. */
const NAMED_IN_ERROR = 10;

/** The error for a flow `ref` that is not one of `flows`: one line, naming the first few. */
export function unknownFlow(flows: readonly LabFlow[], ref: string): InputError {
  const known = flows
    .slice(0, NAMED_IN_ERROR)
    .map((f) => (f.name ? `${f.address} (${f.name})` : f.address))
    .join(', ');
  const more =
    flows.length > NAMED_IN_ERROR
      ? `, … and ${flows.length - NAMED_IN_ERROR} more; 'flowmig flows' lists them`
      : '';
  return new InputError('', [`unknown flow '${ref}' (flows: ${known || 'none'}${more})`]);
}

/** Finds a flow by abstract address (any spelling) or by name. */
export function findFlow(flows: readonly LabFlow[], ref: string): LabFlow {
  const address = canonicalAddress(ref);
  const flow = flows.find(
    (f) => (address !== undefined && f.address === address) || f.name === ref,
  );
  if (!flow) throw unknownFlow(flows, ref);
  return flow;
}

/** Makes `nodeName` the responder (a server) or the initiator (a client) of the flow. */
export function planMigration(
  lab: Lab,
  engine: Engine,
  current: readonly LabFlow[],
  flowRef: string,
  nodeName: string,
): MigrationPlan {
  const from = findFlow(current, flowRef);
  const { role, flow } = moveTo(lab, from, nodeName);
  const flows = current.map((f) => (f.address === from.address ? flow : f));
  if (flow.responder === from.responder && flow.initiator === from.initiator) {
    return { role, flow, from, flows, ops: [] };
  }
  // Order matters (SPEC invariant 1): with the rule changed first, the first packet after the
  // conntrack delete creates a new entry with the new mapping. The other way round, a packet
  // arriving in between re-creates the entry with the old mapping and the flow stays put.
  const changes = [{ before: mappingsFor(lab, [from])[0], after: mappingsFor(lab, [flow])[0] }];
  const ops: Op[] = [
    ...ruleChange(lab, engine, changes, () => mappingsFor(lab, flows)),
    conntrackDelete(lab, flow, role === 'responder'),
    ...release(lab, changes),
  ];
  return { role, flow, from, flows, ops };
}

/**
 * The flow `from` with `nodeName` as its responder (a server) or its initiator (a client); refuses
 * an unknown node and the translator.
 */
export function moveTo(
  lab: Lab,
  from: LabFlow,
  nodeName: string,
): { role: MigrationPlan['role']; flow: LabFlow } {
  const node = nodeByName(lab, nodeName);
  if (!node) {
    const known = lab.nodes.map((n) => n.name).join(', ');
    throw new InputError('', [`unknown node '${nodeName}' (nodes: ${known})`]);
  }
  if (node.role === 'server') return { role: 'responder', flow: { ...from, responder: node.name } };
  if (node.role === 'client') return { role: 'initiator', flow: { ...from, initiator: node.name } };
  throw new InputError('', [
    `'${nodeName}' is the translator; a flow migrates to a client or a server`,
  ]);
}

/**
 * The rule change of a migration: the engine's mapping change, and the late-packet table's (the
 * former responders). With nftables both are one nft transaction (and one agent batch); with
 * ip6tables the mapping changes first, then the late table.
 */
export function ruleChange(
  lab: Lab,
  engine: Engine,
  changes: readonly FlowChange[],
  all: () => readonly FlowMapping[],
): Op[] {
  const t = lab.translator.netns;
  const rules = engine.update(t, changes, all);
  const late = lateTable.update(t, changes, lab.graceMs);
  if (!late) return [rules];
  return engine.fastPath ? [joinNftOps(rules, late)] : [rules, late];
}

/** After the conntrack delete: the new responders are tracked again (see releaseEdits). */
export function release(lab: Lab, changes: readonly FlowChange[]): Op[] {
  const op = lateTable.release(lab.translator.netns, changes, lab.graceMs);
  return op ? [op] : [];
}

/**
 * Deletes the flow's conntrack entries, except those already translated to its new responder.
 * Only a new responder tells those apart (by the entries' reply source): when the initiator moves,
 * the old initiator's entries have the same reply source, and all of them go.
 */
export function conntrackDelete(lab: Lab, flow: LabFlow, newResponder: boolean): Op {
  const responder = newResponder ? concreteAddress(lab, flow.responder) : undefined;
  // A draining flow keeps its TCP connections on the old responder (until drainEnd).
  const drain = newResponder && policyOf(lab, flow.address).tcp === 'drain';
  return {
    kind: 'conntrackDelete',
    netns: lab.translator.netns,
    origDst: flow.address,
    ...(responder ? { keepReplySrc: responder } : {}),
    ...(drain ? { keepTcp: true } : {}),
  };
}

/** The end of a drain: the flow's entries still translated to a former responder go. */
export function drainEnd(lab: Lab, address: string, formerResponder: string): Op | undefined {
  const at = concreteAddress(lab, formerResponder);
  return at
    ? { kind: 'conntrackDelete', netns: lab.translator.netns, origDst: address, onlyReplySrc: at }
    : undefined;
}

/** The seed's `swap`: migrate the flow to the next server after its current responder. */
export function planSwap(
  lab: Lab,
  engine: Engine,
  current: readonly LabFlow[],
  flowRef: string | undefined,
): MigrationPlan {
  const flow = findFlow(current, flowRef ?? onlyFlow(current).address);
  return planMigration(lab, engine, current, flow.address, nextServer(lab, flow));
}

/** The flow a swap without a flow moves: the lab's only one (refused when it has several). */
export function onlyFlow(current: readonly LabFlow[]): LabFlow {
  const only = current[0];
  if (current.length !== 1 || !only) {
    throw new InputError('swap', [
      `the lab has ${current.length} flows (${current.map((f) => f.address).join(', ')}); name one with --flow FLOW (at the prompt: swap FLOW)`,
    ]);
  }
  return only;
}

/** The server a swap moves the flow to: the next one after its responder, in the lab's order. */
export function nextServer(lab: Lab, flow: LabFlow): string {
  const all = servers(lab);
  if (all.length < 2) throw new InputError('swap', ['the lab needs at least two servers to swap']);
  const at = all.findIndex((s) => s.name === flow.responder);
  const next = all[(at + 1) % all.length];
  if (!next) throw new Error('no server to swap to');
  return next.name;
}

export interface EvacuationPlan {
  /** The flows that move, as they will be. */
  readonly moved: readonly LabFlow[];
  readonly flows: readonly LabFlow[];
  /** One rule transaction for all of them, then one conntrack delete per moved flow. */
  readonly ops: readonly Op[];
}

/** Moves every flow whose responder is `from` to `to` (both servers), in one transaction. */
export function planEvacuation(
  lab: Lab,
  engine: Engine,
  current: readonly LabFlow[],
  from: string,
  to: string,
): EvacuationPlan {
  for (const name of [from, to]) {
    const node = nodeByName(lab, name);
    if (!node)
      throw new InputError('', [
        `unknown node '${name}' (nodes: ${lab.nodes.map((n) => n.name).join(', ')})`,
      ]);
    if (node.role !== 'server')
      throw new InputError('', [
        `'${name}' is a ${node.role}; evacuation moves flows between servers`,
      ]);
  }
  if (from === to) throw new InputError('', ['evacuation needs two different servers']);
  const moved = current.filter((f) => f.responder === from).map((f) => ({ ...f, responder: to }));
  const movedSet = new Set(moved.map((f) => f.address));
  const flows = current.map((f) => (movedSet.has(f.address) ? { ...f, responder: to } : f));
  if (moved.length === 0) return { moved, flows, ops: [] };
  const before = mappingsFor(
    lab,
    current.filter((f) => movedSet.has(f.address)),
  );
  const after = mappingsFor(lab, moved);
  const changes = before.map((b, i) => ({ before: b, after: after[i] }));
  const ops: Op[] = [
    ...ruleChange(lab, engine, changes, () => mappingsFor(lab, flows)),
    ...moved.map((f) => conntrackDelete(lab, f, true)),
    ...release(lab, changes),
  ];
  return { moved, flows, ops };
}
