// Where migrations happen besides batches (batch.ts): a flow's live TCP move, and every flow of a
// server at once (evacuate). Called with the lab's lock held.
import { engineFor } from '../engines/registry.js';
import { FlowmigError } from '../errors.js';
import type { StepRecord } from '../exec/execute.js';
import type { Lab } from '../lab/model.js';
import { type MigrationPlan, planEvacuation } from '../plan/migrate.js';
import type { LabState } from '../state/store.js';
import type { Applied, ApplyPaths } from './apply-path.js';
import { endDueDrains, recordDrain } from './drains.js';
import { type ControlContext, fromStateFlow, labOf, toStateFlow } from './lab-state.js';
import { migrateLive } from './live-move.js';
import type { EvacuationResult, MigrationResult } from './results.js';

/** What the migrations act through: the lab's state, commands, and the paths to its translator. */
export interface MigrationContext extends ControlContext {
  readonly paths: ApplyPaths;
}

/**
 * A responder move of a flow with `tcp: migrate` as `p` plans it: its TCP connections move with it
 * (live-move.ts). Throws when they could not and the flow was switched back: it stays where it was.
 * Records nothing: the caller does, as for every move of its batch.
 */
export async function moveLive(
  ctx: MigrationContext,
  state: LabState,
  lab: Lab,
  p: MigrationPlan,
): Promise<{ applied: Applied; tcp: NonNullable<MigrationResult['tcp']> }> {
  const moved = await migrateLive(ctx.runner, state, lab, p, {
    apply: (change) => ctx.paths.apply(state, lab, change),
    agent: async () => (await ctx.paths.agentFor(state, lab)).client,
  });
  if (moved.tcp.rolledBack)
    throw new FlowmigError(
      `flow ${p.flow.address} stays on ${p.from.responder}: ${moved.tcp.rolledBack}`,
    );
  return moved;
}

/** Moves every flow served by `from` to `to`: one rule transaction, one conntrack pass. */
export async function evacuateServer(
  ctx: MigrationContext,
  state: LabState,
  from: string,
  to: string,
): Promise<EvacuationResult> {
  const lab = labOf(state);
  await endDueDrains(ctx, state, lab, Date.now());
  const flows = state.flows.map(fromStateFlow);
  const p = planEvacuation(lab, engineFor(lab.engine), flows, from, to);
  const applied = await ctx.paths.apply(state, lab, p);
  if (p.moved.length > 0) {
    for (const f of p.moved) recordDrain(state, lab, f.address, from, to);
    state.flows = p.flows.map(toStateFlow);
    state.migrations += p.moved.length;
    await ctx.store.write(state);
  }
  return {
    lab: state.id,
    from,
    to,
    moved: p.moved.length,
    ...timings(applied),
    path: applied.path,
    note: applied.note,
  };
}

/** Where the time of an applied change went: total, rule transaction, conntrack deletes. */
export function timings(applied: Applied): {
  totalMs: number;
  ruleMs: number;
  conntrackMs: number;
  conntrackDeleted: number;
} {
  const { steps } = applied;
  const ct = steps.filter((s: StepRecord) => s.op.kind === 'conntrackDelete');
  const first = steps[0];
  const last = steps[steps.length - 1];
  return {
    totalMs:
      applied.totalMs ?? (first && last ? last.startedAt + last.durationMs - first.startedAt : 0),
    ruleMs: steps.find((s) => s.op.kind === 'netfilterApply')?.durationMs ?? 0,
    conntrackMs: ct.reduce((sum, s) => sum + s.durationMs, 0),
    conntrackDeleted: ct.reduce((sum, s) => sum + (s.deleted ?? 0), 0),
  };
}
