// Classifies a failed etcd call into the one line flowmig reports: no quorum, unreachable, or the
// call's own failure (pure: the members' answers are counted by the caller, src/etcd/client.ts).
import {
  EtcdError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
} from 'etcd3';
import { FlowmigError } from '../errors.js';

export type EtcdFailureKind = 'no-quorum' | 'unreachable' | 'failed';

/** An etcd call failed; `kind` says whether the cluster (no quorum, unreachable) or the call is to blame. */
export class EtcdCallError extends FlowmigError {
  constructor(
    message: string,
    readonly kind: EtcdFailureKind,
    readonly endpoints: readonly string[],
    /** Members whose status answered the probe after the failure (undefined: not probed). */
    readonly answering: number | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'EtcdCallError';
  }
}

/**
 * Errors that say nothing about the request itself, only that no member completed it: the
 * deadline passed (seen here or by the member), no connection, the stream was cut, or etcd's own
 * "no leader" / "request timed out" / "leader changed" (a member that has lost its quorum answers
 * these). Counting the members
 * that answer tells which it is. Anything else (a compacted revision, a txn too large) is the
 * call's own failure and is reported as it is.
 */
export function isAvailabilityFailure(error: unknown): boolean {
  if (
    error instanceof GRPCDeadlineExceededError ||
    error instanceof GRPCUnavailableError ||
    error instanceof GRPCCancelledError
  ) {
    return true;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof EtcdError || /etcdserver:/.test(message)) {
    return /no leader|request timed out|leader changed|timed out waiting for read index/.test(
      message,
    );
  }
  // The member's own context ran out first (the deadline travels with the request): gRPC code 2,
  // "context deadline exceeded", as the member without quorum answers a call at its deadline.
  return /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|No connection established|context deadline exceeded/.test(
    message,
  );
}

/** A quorum of `of` members: more than half. */
export function quorumOf(of: number): number {
  return Math.floor(of / 2) + 1;
}

/**
 * The error to report for a failed call. `answering` is how many of the `endpoints` answered a
 * status probe right after (undefined when the error was not an availability failure and nothing
 * was probed): none → unreachable, fewer than a quorum → no quorum, a quorum → the call failed
 * anyway (a leader election under way, a deadline too short for the request).
 */
export function classifyFailure(
  what: string,
  error: unknown,
  endpoints: readonly string[],
  answering: number | undefined,
): EtcdCallError {
  const reason = oneLine(error);
  const of = endpoints.length;
  if (answering === undefined) {
    return new EtcdCallError(
      `etcd ${what} failed: ${reason}`,
      'failed',
      endpoints,
      answering,
      error,
    );
  }
  if (answering === 0) {
    return new EtcdCallError(
      `cannot reach etcd at ${endpoints.join(',')}: ${reason}`,
      'unreachable',
      endpoints,
      answering,
      error,
    );
  }
  if (answering < quorumOf(of)) {
    return new EtcdCallError(
      `etcd has no quorum: ${answering} of ${of} members answer`,
      'no-quorum',
      endpoints,
      answering,
      error,
    );
  }
  return new EtcdCallError(
    `etcd ${what} failed: ${reason} (${answering} of ${of} members answer)`,
    'failed',
    endpoints,
    answering,
    error,
  );
}

/** The error's message on one line, without etcd3's class-name prefix. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim() || (error as Error)?.name || 'unknown error';
}
