// Drains (policy `tcp: drain`): a former responder keeps its open TCP connections for drainSeconds;
// recorded at each move, ended (their conntrack entries deleted) once due.
import { execute } from '../exec/execute.js';
import { type Lab, policyOf } from '../lab/model.js';
import { drainEnd } from '../plan/migrate.js';
import type { LabState } from '../state/store.js';
import type { ControlContext } from './lab-state.js';

/**
 * After a flow with `tcp: drain` moved from `from` to `to`: `from` drains until now + drainSeconds;
 * `to`, if it was draining this flow, serves it again (its connections are current).
 */
export function recordDrain(
  state: LabState,
  lab: Lab,
  flow: string,
  from: string,
  to: string,
): void {
  const policy = policyOf(lab, flow);
  const rest = (state.draining ?? []).filter(
    (d) => d.flow !== flow || (d.responder !== to && d.responder !== from),
  );
  if (policy.tcp === 'drain')
    rest.push({ flow, responder: from, until: Date.now() + policy.drainMs });
  state.draining = rest.length ? rest : undefined;
}

/** Whether a drain of the state is due at `at` (read without the lab's lock, to skip taking it). */
export function drainsDue(state: LabState | undefined, at: number): boolean {
  return state?.draining?.some((d) => d.until <= at) ?? false;
}

/**
 * Ends the drains due at `at`, with the lab's lock held: the flow's TCP entries on the former
 * responder go (unless it serves the flow again), and the state forgets them (and writes itself,
 * unless `persist` is false: a batch records it with its moves). Returns how many.
 */
export async function endDueDrains(
  ctx: ControlContext,
  state: LabState,
  lab: Lab,
  at: number,
  persist = true,
): Promise<number> {
  const due = (state.draining ?? []).filter((d) => d.until <= at);
  if (due.length === 0) return 0;
  const ops = due.flatMap((d) => {
    const current = state.flows.find((f) => f.address === d.flow)?.responder;
    const op = current === d.responder ? undefined : drainEnd(lab, d.flow, d.responder);
    return op ? [op] : [];
  });
  await execute(ctx.runner, ops);
  const rest = (state.draining ?? []).filter((d) => d.until > at);
  state.draining = rest.length ? rest : undefined;
  if (persist) await ctx.store.write(state);
  return due.length;
}
