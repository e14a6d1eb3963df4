// Plans a batch of moves (swaps and migrations of any flows) as rounds: one rule transaction for
// every flow of a round, then their conntrack entries in one pass, then the late release.
import type { Engine, FlowChange } from '../engines/engine.js';
import { type Lab, type LabFlow, policyOf } from '../lab/model.js';
import { canonicalAddress } from '../net/ipv6.js';
import { mappingsFor } from './build.js';
import {
  conntrackDelete,
  findFlow,
  type MigrationPlan,
  moveTo,
  nextServer,
  onlyFlow,
  release,
  ruleChange,
} from './migrate.js';
import type { Op } from './ops.js';

/** One requested move: a swap (to the next server) or a migration to a named node. */
export type Move =
  | { readonly kind: 'swap'; readonly flow?: string | undefined }
  | { readonly kind: 'migrate'; readonly flow: string; readonly node: string };

/**
 * The flows a batch is planned against. `find` looks a flow up by abstract address (any spelling)
 * or name without going through all of them: a batch of a few moves costs the same in a lab of
 * 20 flows or of 100,000. `all` is for error messages and engines that restate every mapping.
 */
export interface FlowSource {
  find(ref: string): LabFlow | undefined;
  all(): readonly LabFlow[];
}

/** A FlowSource over a list of flows (indexed once). */
export function flowSource(flows: readonly LabFlow[]): FlowSource {
  const byAddress = new Map<string, LabFlow>();
  const byName = new Map<string, LabFlow>();
  for (const f of flows) {
    byAddress.set(f.address, f);
    if (f.name !== undefined && !byName.has(f.name)) byName.set(f.name, f);
  }
  return {
    find: (ref) => findIn(byAddress, byName, ref),
    all: () => flows,
  };
}

/** The flow of `ref` in the two indexes: by address (as given, then canonical), else by name. */
export function findIn<T>(
  byAddress: ReadonlyMap<string, T>,
  byName: ReadonlyMap<string, T>,
  ref: string,
): T | undefined {
  const hit = byAddress.get(ref);
  if (hit !== undefined) return hit;
  const address = canonicalAddress(ref);
  return (address === undefined ? undefined : byAddress.get(address)) ?? byName.get(ref);
}

export interface PlannedMove {
  /** The move's position in the batch. */
  readonly index: number;
  /** Which end of the flow moves: the responder (to a server) or the initiator (to a client). */
  readonly role: MigrationPlan['role'];
  /** The flow before this move (after the batch's earlier moves of it). */
  readonly from: LabFlow;
  readonly flow: LabFlow;
  /** False when the flow was there already: the move changes nothing. */
  readonly changed: boolean;
}

export interface BatchRound {
  /** The round's moves in arrival order; no flow twice. */
  readonly moves: readonly PlannedMove[];
  /**
   * A responder move of a flow with `tcp: migrate`: alone in its round, as its TCP connections
   * move with it between the serve runtimes (the controller's live path), and its rollback must
   * fail only it.
   */
  readonly live: boolean;
  /**
   * One rule change for every flow the round moves (with nftables one transaction, the late
   * table's edits joined in), then each moved flow's conntrack delete (one pass on a netlink
   * path), then the late table's release. Empty when the round changes nothing.
   */
  readonly ops: readonly Op[];
}

export interface BatchPlan {
  readonly rounds: readonly BatchRound[];
  /** Moves refused while planning (an unknown flow or node, ...): each fails alone. */
  readonly refused: readonly { readonly index: number; readonly error: Error }[];
}

/**
 * Plans `moves` in arrival order, each against the flows as the batch's earlier moves left them,
 * each checked on its own (a refused move changes nothing, the others go on). Rounds keep arrival
 * order: a move of a flow that already moves in the open round starts the next round, so each
 * move has its own from → to, as it happens.
 */
export function planBatch(
  lab: Lab,
  engine: Engine,
  flows: FlowSource,
  moves: readonly Move[],
): BatchPlan {
  // The batch's moves so far, by address: what the flows are now, as far as the plan goes.
  const moved = new Map<string, LabFlow>();
  const now = (f: LabFlow) => moved.get(f.address) ?? f;
  const all = () => flows.all().map(now);
  const find = (ref: string) => {
    const f = flows.find(ref);
    // findFlow over every flow says which flows there are.
    return f ? now(f) : findFlow(all(), ref);
  };
  const rounds: BatchRound[] = [];
  const refused: { index: number; error: Error }[] = [];
  let open: PlannedMove[] = [];
  const inOpen = new Set<string>();
  const close = () => {
    if (open.length > 0) rounds.push(round(lab, engine, open, false, all));
    open = [];
    inOpen.clear();
  };
  for (const [index, move] of moves.entries()) {
    let planned: PlannedMove;
    try {
      planned = planMove(lab, move, index, find, all);
    } catch (error) {
      refused.push({ index, error: error instanceof Error ? error : new Error(String(error)) });
      continue;
    }
    const address = planned.flow.address;
    const live =
      planned.changed && planned.role === 'responder' && policyOf(lab, address).tcp === 'migrate';
    if (live || inOpen.has(address)) close();
    // Recorded before its round's ops are made: `all` then includes the round's own moves.
    moved.set(address, planned.flow);
    if (live) {
      rounds.push(round(lab, engine, [planned], true, all));
      continue;
    }
    open.push(planned);
    inOpen.add(address);
  }
  close();
  return { rounds, refused };
}

/** One move against the flows as they are now (`find`); throws when it is refused. */
function planMove(
  lab: Lab,
  move: Move,
  index: number,
  find: (ref: string) => LabFlow,
  all: () => readonly LabFlow[],
): PlannedMove {
  const from = find(move.flow ?? onlyFlow(all()).address);
  const node = move.kind === 'swap' ? nextServer(lab, from) : move.node;
  const { role, flow } = moveTo(lab, from, node);
  const changed = flow.responder !== from.responder || flow.initiator !== from.initiator;
  return { index, role, from, flow, changed };
}

/** The ops of one round: as planMigration's for one flow, planEvacuation's for many. */
function round(
  lab: Lab,
  engine: Engine,
  moves: readonly PlannedMove[],
  live: boolean,
  all: () => readonly LabFlow[],
): BatchRound {
  const changing = moves.filter((m) => m.changed);
  if (changing.length === 0) return { moves, live, ops: [] };
  const changes: FlowChange[] = changing.map((m) => ({
    before: mappingsFor(lab, [m.from])[0],
    after: mappingsFor(lab, [m.flow])[0],
  }));
  // Rule first, then conntrack (see planMigration), for all of the round's flows at once.
  const ops: Op[] = [
    ...ruleChange(lab, engine, changes, () => mappingsFor(lab, all())),
    ...changing.map((m) => conntrackDelete(lab, m.flow, m.role === 'responder')),
    ...release(lab, changes),
  ];
  return { moves, live, ops };
}

/** A move's own part of its round's ops: what its result shows (see ownOps). */
export interface OwnOps {
  readonly rules: readonly Op[];
  readonly conntrack: Op;
  readonly release: Op | undefined;
}

/**
 * A changing move's own part of its round, for its result (a reply repeats no other flow's
 * edits): its flow's rule change as the round makes it, with an engine that edits elements
 * planned alone (the same edits); with one that restates the whole table, the round's rule ops
 * themselves. Then its conntrack delete and its part of the release.
 */
export function ownOps(lab: Lab, engine: Engine, round: BatchRound, move: PlannedMove): OwnOps {
  const change: FlowChange = {
    before: mappingsFor(lab, [move.from])[0],
    after: mappingsFor(lab, [move.flow])[0],
  };
  const first = round.ops.findIndex((o) => o.kind === 'conntrackDelete');
  const rules = engine.fastPath
    ? ruleChange(lab, engine, [change], () => [])
    : round.ops.slice(0, Math.max(first, 0));
  return {
    rules,
    conntrack: conntrackDelete(lab, move.flow, move.role === 'responder'),
    release: release(lab, [change])[0],
  };
}
