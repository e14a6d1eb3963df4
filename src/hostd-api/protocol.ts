// The host daemon's local API (one per translator of a cluster lab): one JSON object per line each
// way over a Unix socket in the state directory (root only). The contract between the host daemon
// (src/hostd) and its callers (the CLI, the cluster lifecycle); checked with a schema first.
import { z } from 'zod';

/** Longest request line accepted. */
export const MAX_HOSTD_REQUEST_BYTES = 64 * 1024;

/** The argv marker of a host daemon (its lab id and host follow), how `down` finds one. */
export const HOSTD_MARKER = '--flowmig-hostd';

const id = z.number().int().nonnegative().optional();
const name = z.string().min(1).max(200);
/** How long a change waits for every live translator to apply it (default 5 s). */
const waitMs = z.number().int().positive().max(600_000).optional();

export const hostdRequestSchema = z.discriminatedUnion('verb', [
  z.strictObject({ id, verb: z.literal('hello') }),
  /** This host: its lease, the revision it applied, the table's revision, flows by responder. */
  z.strictObject({ id, verb: z.literal('status') }),
  /** Every host of the cluster as etcd sees it: live translators, applied revisions, lag. */
  z.strictObject({ id, verb: z.literal('cluster') }),
  /** Every flow of the table: address, name, initiator and responder (node names), revision. */
  z.strictObject({ id, verb: z.literal('flows') }),
  /** Puts the lab's flows that the table lacks (the lab file's), then waits until applied. */
  z.strictObject({ id, verb: z.literal('load'), waitMs }),
  z.strictObject({ id, verb: z.literal('swap'), flow: name.optional(), waitMs }),
  z.strictObject({ id, verb: z.literal('migrate'), flow: name, node: name, waitMs }),
  z.strictObject({ id, verb: z.literal('evacuate'), from: name, to: name, waitMs }),
  /** The last revisions this host applied, timed (src/hostd/trace.ts), for `bench cluster`. */
  z.strictObject({ id, verb: z.literal('trace') }),
]);

export type HostdRequest = z.infer<typeof hostdRequestSchema>;
export type HostdVerb = HostdRequest['verb'];
export type HostdRequestBody = HostdRequest extends infer R
  ? R extends { verb: HostdVerb }
    ? Omit<R, 'id'>
    : never
  : never;

export type HostdReply =
  | { readonly id: number | null; readonly ok: true; readonly result: unknown }
  | {
      readonly id: number | null;
      readonly ok: false;
      readonly error: string;
      /** invalid (bad input, exit 2), conflict, no-quorum, unreachable, lag, failed. */
      readonly code: string;
    };

export interface HostdHello {
  readonly lab: string;
  readonly host: string;
  readonly pid: number;
  readonly socket: string;
  readonly startedAt: string;
  /** The last revision this host applied (0: none yet). */
  readonly applied: number;
}

export interface HostdStatus extends HostdHello {
  /** Whether this host's lease (its registration as a live translator) is alive. */
  readonly leaseAlive: boolean;
  /** The table's revision when asked (undefined: etcd did not answer). */
  readonly revision?: number;
  /** Flow changes this host knows of and has not applied yet (undefined: etcd did not answer). */
  readonly lag?: number;
  /** Flows by responder node, as this host applied them. */
  readonly byResponder: Readonly<Record<string, number>>;
  /** Flows this host is the ingress of (their initiator is on it): NAT, conntrack, late packets. */
  readonly ingress: number;
  /** Keys of the table this host skipped (malformed), with why. */
  readonly problems: readonly { readonly key: string; readonly problem: string }[];
  /** The last error of the watch or an apply, if the host is not in sync because of it. */
  readonly error?: string;
}

export interface ClusterHost {
  readonly host: string;
  readonly live: boolean;
  readonly applied?: number;
  readonly lag?: number;
  readonly pid?: number;
}

export interface ClusterView {
  readonly revision: number;
  readonly hosts: readonly ClusterHost[];
}

/** A change committed to etcd, and who applied it. */
export interface HostdChange {
  readonly lab: string;
  /** The flows that moved: address, from and to (node names). */
  readonly moves: readonly { readonly flow: string; readonly from: string; readonly to: string }[];
  /** The etcd revision of the change (its txn). */
  readonly revision: number;
  /** Whether anything changed (false: the flow was there already). */
  readonly changed: boolean;
  /** The live translators that applied it before the answer. */
  readonly appliedBy: readonly string[];
  /** Call → committed, and committed → applied by every live translator, in ms. */
  readonly commitMs: number;
  readonly appliedMs: number;
}

/** One revision a host applied; times are ms on the machine's monotonic clock (process.hrtime). */
export interface HostdTraceEntry {
  readonly revision: number;
  /** A watch event, or a list (the catch-up at start, after compaction or a failed apply). */
  readonly via: 'watch' | 'list';
  /** When the watch event arrived, or when the list was asked for. */
  readonly receivedAt: number;
  /** When its plan was applied (rules, conntrack, routes). */
  readonly appliedAt: number;
  /** The in-process apply's own rule and conntrack times, when it took that path. */
  readonly ruleMs?: number;
  readonly conntrackMs?: number;
  /** When a write of this host's applied revision at or past it completed. */
  readonly ackedAt?: number;
}

/** A change this daemon answered: when its txn committed and when the answer went out. */
export interface HostdTraceAnswer {
  readonly revision: number;
  readonly committedAt: number;
  readonly answeredAt: number;
  /**
   * When this daemon learned that each waited-for host applied the revision, and how: itself, a
   * peer's direct acknowledgement, etcd's applied key, or `before` the wait began.
   */
  readonly acks?: readonly {
    readonly host: string;
    readonly at: number;
    readonly via: 'self' | 'peer' | 'etcd' | 'before';
  }[];
}

export interface HostdTrace {
  readonly host: string;
  readonly pid: number;
  /** This daemon's clock when it answered (monotonic ms). */
  readonly now: number;
  /** Oldest first, the last ~1,000. */
  readonly entries: readonly HostdTraceEntry[];
  readonly answers: readonly HostdTraceAnswer[];
}

export function parseHostdRequest(
  value: unknown,
): { request: HostdRequest } | { error: string; id: number | null } {
  const maybeId = (value as { id?: unknown } | null)?.id;
  const replyId = typeof maybeId === 'number' && Number.isInteger(maybeId) ? maybeId : null;
  const parsed = hostdRequestSchema.safeParse(value);
  if (parsed.success) return { request: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    error: `malformed request: ${issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'invalid'}`,
    id: replyId,
  };
}

/** A host daemon's files in the state directory. */
export function hostdPaths(
  stateDir: string,
  lab: string,
  host: string,
): { socket: string; log: string } {
  return { socket: `${stateDir}/${lab}.${host}.sock`, log: `${stateDir}/${lab}.${host}.log` };
}
