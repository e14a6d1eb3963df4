// Where a migration happens: plan → apply → record, for one flow (migrate, swap) and for every
// flow of a server (evacuate). Called with the lab's lock held.
import { engineFor } from '../engines/registry.js';
import { FlowmigError } from '../errors.js';
import type { StepRecord } from '../exec/execute.js';
import { type Lab, type LabFlow, policyOf } from '../lab/model.js';
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

/** Plans one flow's move (a migration or a swap) from the lab and its current flows. */
export type FlowPlanner = (lab: Lab, flows: readonly LabFlow[]) => MigrationPlan;

/**
 * Moves one flow as `plan` says (a migration or a swap): due drains end first; a responder move
 * of a flow with `tcp: migrate` takes its TCP connections along. The state records the move.
 */
export async function migrateFlow(
  ctx: MigrationContext,
  state: LabState,
  plan: FlowPlanner,
): Promise<MigrationResult> {
  const lab = labOf(state);
  await endDueDrains(ctx, state, lab, Date.now());
  const p = plan(lab, state.flows.map(fromStateFlow));
  const live =
    p.role === 'responder' && p.ops.length > 0 && policyOf(lab, p.flow.address).tcp === 'migrate';
  const moved = live
    ? await migrateLive(ctx.runner, state, lab, p, {
        apply: (change) => ctx.paths.apply(state, lab, change),
        agent: async () => (await ctx.paths.agentFor(state, lab)).client,
      })
    : undefined;
  const applied = moved ? moved.applied : await ctx.paths.apply(state, lab, p);
  if (moved?.tcp.rolledBack)
    throw new FlowmigError(
      `flow ${p.flow.address} stays on ${p.from.responder}: ${moved.tcp.rolledBack}`,
    );
  const result: MigrationResult = {
    lab: state.id,
    flow: p.flow.address,
    role: p.role,
    from: p.from[p.role],
    to: p.flow[p.role],
    changed: p.ops.length > 0,
    ...timings(applied),
    path: applied.path,
    note: applied.note,
    steps: applied.steps,
    ...(moved ? { tcp: moved.tcp } : {}),
  };
  if (result.changed) {
    if (p.role === 'responder') recordDrain(state, lab, p.flow.address, result.from, result.to);
    state.flows = p.flows.map(toStateFlow);
    state.migrations += 1;
    state.lastMigration = {
      flow: result.flow,
      from: result.from,
      to: result.to,
      at: new Date(applied.steps[0]?.startedAt ?? Date.now()).toISOString(),
      totalMs: result.totalMs,
      ruleMs: result.ruleMs,
      conntrackMs: result.conntrackMs,
      conntrackDeleted: result.conntrackDeleted,
      path: result.path,
    };
    await ctx.store.write(state);
  }
  return result;
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
function timings(applied: Applied): {
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
