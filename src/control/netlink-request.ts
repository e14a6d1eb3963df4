// A planned change as one request to a netlink path (in-process or the agent), and that path's
// answer as the step records a program-run change would have left.
import type { ApplyRequest, ApplyResult, ConntrackTarget } from '../agent/agent.js';
import type { Engine, NetfilterApplyOp } from '../engines/engine.js';
import type { StepRecord } from '../exec/execute.js';
import type { Op } from '../plan/ops.js';

/** A change a netlink path can apply: the request, and the ops it stands for. */
export interface NetlinkChange {
  readonly request: ApplyRequest;
  /** The rule transaction (the first netfilterApply op). */
  readonly rule: NetfilterApplyOp;
  /** Rule changes that follow the conntrack delete (the late table's release). */
  readonly later: readonly NetfilterApplyOp[];
  /** The first conntrack delete, which one conntrack pass reports on. */
  readonly firstDelete: Op | undefined;
}

/**
 * The netlink request for `ops`, or undefined when the engine has no netlink path or an op is not
 * a set of element edits (only programs can apply it then).
 */
export function netlinkChange(engine: Engine, ops: readonly Op[]): NetlinkChange | undefined {
  const rule = ops.find((o): o is NetfilterApplyOp => o.kind === 'netfilterApply');
  const deleteAt = ops.findIndex((o) => o.kind === 'conntrackDelete');
  const later = ops.filter(
    (o, i): o is NetfilterApplyOp => o.kind === 'netfilterApply' && deleteAt >= 0 && i > deleteAt,
  );
  if (!engine.fastPath || !rule?.edits || !later.every((o) => o.edits)) return undefined;
  const conntrack = ops.flatMap((o): ConntrackTarget[] =>
    o.kind === 'conntrackDelete'
      ? [
          {
            address: o.origDst,
            ...(o.keepReplySrc ? { keepReplySrc: o.keepReplySrc } : {}),
            ...(o.keepTcp ? { keepTcp: true } : {}),
          },
        ]
      : [],
  );
  return {
    request: {
      table: engine.fastPath.table,
      edits: rule.edits,
      conntrack,
      after: later.flatMap((o) => o.edits ?? []),
    },
    rule,
    later,
    firstDelete: ops[deleteAt],
  };
}

/** The step records of a netlink apply: rule, one conntrack pass, release. */
export function netlinkSteps(
  change: NetlinkChange,
  r: ApplyResult,
  startedAt: number,
): StepRecord[] {
  const steps: StepRecord[] = [{ op: change.rule, startedAt, durationMs: r.ruleMs }];
  // One conntrack pass for all flows: reported as one step on the first delete op.
  if (change.firstDelete) {
    steps.push({
      op: change.firstDelete,
      startedAt: startedAt + r.ruleMs,
      durationMs: r.conntrackMs,
      deleted: r.deleted,
    });
  }
  const release = change.later[0];
  if (release && (r.releaseMs !== undefined || r.releasing)) {
    // `releasing`: the agent commits it right after its answer (its time is not known).
    steps.push({
      op: release,
      startedAt: startedAt + r.ruleMs + r.conntrackMs,
      durationMs: r.releaseMs ?? 0,
    });
  }
  return steps;
}
