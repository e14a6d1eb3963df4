// The executor: applies planned operations one by one through a Runner, timing each step.
import { parseDeletedCount } from '../engines/conntrack.js';
import { CommandError } from '../errors.js';
import { commandsFor } from '../plan/command.js';
import { describeOp, type Op } from '../plan/ops.js';
import type { Runner } from './runner.js';

export interface StepRecord {
  readonly op: Op;
  /** Wall-clock start, ms since the epoch (sub-ms precision). */
  readonly startedAt: number;
  readonly durationMs: number;
  /** For conntrackDelete: how many entries were removed. */
  readonly deleted?: number;
}

export interface ExecuteHooks {
  /** Runs before an op; used to record intent (e.g. a namespace about to be created). */
  readonly before?: (op: Op) => Promise<void> | void;
  readonly after?: (step: StepRecord, index: number, total: number) => void;
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function executeOp(runner: Runner, op: Op): Promise<StepRecord> {
  const startedAt = nowMs();
  let deleted = 0;
  for (const command of commandsFor(op)) {
    const result = await runner.run(command.argv, {
      netns: command.netns,
      stdin: command.stdin,
      okExitCodes: command.okExitCodes,
      nft: command.nft,
    });
    if (op.kind !== 'conntrackDelete') continue;
    const n = parseDeletedCount(result.stderr);
    // Exit 1 is fine only when it means "nothing matched"; anything else is a real failure.
    if (n === undefined) {
      throw new CommandError({
        argv: command.argv,
        netns: command.netns,
        exitCode: result.exitCode,
        stderr: result.stderr || `unexpected output while trying to ${describeOp(op)}`,
      });
    }
    deleted += n;
  }
  const durationMs = nowMs() - startedAt;
  return op.kind === 'conntrackDelete'
    ? { op, startedAt, durationMs, deleted }
    : { op, startedAt, durationMs };
}

/** Runs `ops` in order; stops at the first failure (the caller decides how to roll back). */
export async function execute(
  runner: Runner,
  ops: readonly Op[],
  hooks: ExecuteHooks = {},
): Promise<StepRecord[]> {
  const steps: StepRecord[] = [];
  for (const [i, op] of ops.entries()) {
    await hooks.before?.(op);
    const step = await executeOp(runner, op);
    steps.push(step);
    hooks.after?.(step, i, ops.length);
  }
  return steps;
}
