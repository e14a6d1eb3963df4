// A batch of moves (swaps, migrations) applied round by round to a lab whose state the controller
// holds in memory: each round one rule transaction and one conntrack pass, the batch one commit.
import { engineFor } from '../engines/registry.js';
import type { StepRecord } from '../exec/execute.js';
import type { Lab, LabFlow } from '../lab/model.js';
import {
  type BatchRound,
  type Move,
  type OwnOps,
  ownOps,
  type PlannedMove,
  planBatch,
} from '../plan/batch.js';
import { planMigration } from '../plan/migrate.js';
import type { Op } from '../plan/ops.js';
import type { StateChange } from '../state/store.js';
import type { Applied } from './apply-path.js';
import { endDueDrains, recordDrain } from './drains.js';
import type { HeldLab } from './held.js';
import { labOf, toStateFlow } from './lab-state.js';
import { type MigrationContext, moveLive, timings } from './migrations.js';
import type { MigrationResult } from './results.js';

export type { Move };

/** What became of one move of a batch: its result, or why it failed (the others went on). */
export type MoveOutcome =
  | { readonly ok: true; readonly result: MigrationResult }
  | { readonly ok: false; readonly error: Error };

/**
 * Applies `moves` in arrival order (see planBatch): due drains end first; each round goes through
 * the apply paths as one change (a live TCP move through its own path); a round that fails as a
 * whole is tried again move by move, so a failure stays with its own move, and what follows is
 * planned again against the flows as they are. The held state records every move; the batch is
 * committed once, before this resolves. Lock held.
 */
export async function changeFlows(
  ctx: MigrationContext,
  held: HeldLab,
  moves: readonly Move[],
): Promise<MoveOutcome[]> {
  const { state } = held;
  const lab = labOf(state);
  const engine = engineFor(lab.engine);
  const drainingBefore = state.draining;
  await endDueDrains(ctx, state, lab, Date.now(), false);
  const outcomes: (MoveOutcome | undefined)[] = moves.map(() => undefined);
  const changed = new Map<string, LabFlow>();
  // Groups of moves (indices into `moves`) planned together, in arrival order.
  const groups: number[][] = [moves.map((_, i) => i)];
  for (let group = groups.shift(); group; group = groups.shift()) {
    const g = group;
    const plan = planBatch(
      lab,
      engine,
      held,
      g.map((i) => moves[i] as Move),
    );
    for (const r of plan.refused) outcomes[g[r.index] as number] = { ok: false, error: r.error };
    for (const [n, round] of plan.rounds.entries()) {
      const indices = round.moves.map((m) => g[m.index] as number);
      let results: MigrationResult[];
      try {
        results = await applyRound(ctx, held, lab, round);
      } catch (error) {
        const rest = plan.rounds.slice(n + 1).flatMap((r) => r.moves.map((m) => g[m.index]));
        const again = rest.length > 0 ? [rest as number[]] : [];
        if (indices.length > 1) groups.unshift(...indices.map((i) => [i]), ...again);
        else {
          const failed = error instanceof Error ? error : new Error(String(error));
          outcomes[indices[0] as number] = { ok: false, error: failed };
          groups.unshift(...again);
        }
        break;
      }
      for (const [k, m] of round.moves.entries()) {
        const result = results[k] as MigrationResult;
        outcomes[indices[k] as number] = { ok: true, result };
        if (!m.changed) continue;
        if (m.role === 'responder') recordDrain(state, lab, m.flow.address, result.from, result.to);
        held.set(m.flow);
        changed.set(m.flow.address, m.flow);
        state.migrations += 1;
        state.lastMigration = {
          flow: result.flow,
          from: result.from,
          to: result.to,
          at: new Date(result.steps[0]?.startedAt ?? Date.now()).toISOString(),
          totalMs: result.totalMs,
          ruleMs: result.ruleMs,
          conntrackMs: result.conntrackMs,
          conntrackDeleted: result.conntrackDeleted,
          path: result.path,
        };
      }
    }
  }
  const change: StateChange = {
    ...(changed.size > 0
      ? {
          flows: [...changed.values()].map(toStateFlow),
          migrations: state.migrations,
          lastMigration: state.lastMigration,
        }
      : {}),
    ...(state.draining !== drainingBefore ? { draining: state.draining ?? [] } : {}),
  };
  // Durable before any move is answered: one journal entry for the whole batch.
  if (Object.keys(change).length > 0) await ctx.store.commit(state, change);
  return outcomes.map(
    (o) => o ?? { ok: false, error: new Error('the move was not applied (flowmig bug)') },
  );
}

/** Applies one round; its moves' results in order (they share its rule transaction and pass). */
async function applyRound(
  ctx: MigrationContext,
  held: HeldLab,
  lab: Lab,
  round: BatchRound,
): Promise<MigrationResult[]> {
  const { state } = held;
  let applied: Applied;
  let tcp: MigrationResult['tcp'];
  const [first] = round.moves;
  if (round.live && first) {
    const p = planMigration(
      lab,
      engineFor(lab.engine),
      held.all(),
      first.from.address,
      first.flow.responder,
    );
    ({ applied, tcp } = await moveLive(ctx, state, lab, p));
  } else {
    const moved = new Map(round.moves.map((m) => [m.flow.address, m.flow]));
    applied = await ctx.paths.apply(state, lab, {
      ops: round.ops,
      // Only when the agent failed and the programs restate the whole table.
      flows: () => held.all().map((f) => moved.get(f.address) ?? f),
    });
  }
  const together = round.moves.filter((m) => m.changed).length;
  const engine = engineFor(lab.engine);
  return round.moves.map((m) => {
    // A move shared its round: its result shows its own part (see ownSteps).
    const own =
      m.changed && together > 1
        ? ownSteps(applied, round, ownOps(lab, engine, round, m), m)
        : undefined;
    const steps = own ?? applied.steps;
    return {
      lab: state.id,
      flow: m.flow.address,
      role: m.role,
      from: m.from[m.role],
      to: m.flow[m.role],
      changed: m.changed,
      ...timings({ ...applied, steps }),
      path: applied.path,
      note: applied.note,
      steps,
      ...(own ? { batched: together } : {}),
      ...(tcp ? { tcp } : {}),
    };
  });
}

/**
 * The round's steps as one move's: each rule and release step with the move's own part of the op
 * (the same time: the step was one transaction), and of the conntrack steps the pass for all of the
 * round's flows (a netlink path: the move's delete as its op, the pass's count) or the move's own
 * delete (the programs: one per flow). A restatement (the agent failed) is shown as it was.
 */
function ownSteps(
  applied: Applied,
  round: BatchRound,
  own: OwnOps,
  move: PlannedMove,
): StepRecord[] {
  const first = round.ops.findIndex((o) => o.kind === 'conntrackDelete');
  const rules = round.ops.slice(0, first);
  const mine = new Map<Op, Op>(rules.map((op, i) => [op, own.rules[i] ?? op]));
  const release = round.ops.at(-1);
  if (release?.kind === 'netfilterApply' && own.release) mine.set(release, own.release);
  const onePass = applied.path !== 'programs';
  return applied.steps.flatMap((s) => {
    if (s.op.kind !== 'conntrackDelete') return [{ ...s, op: mine.get(s.op) ?? s.op }];
    if (onePass) return [{ ...s, op: own.conntrack }];
    return s.op.origDst === move.flow.address ? [s] : [];
  });
}
