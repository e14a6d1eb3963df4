// flowmig's etcd client: etcd3 with one explicit deadline per call (shared by its retries on other
// members), calls kept off members that do not answer, and failures classified as no quorum /
// unreachable / the call's own.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Etcd3, type IOptions } from 'etcd3';
import { classifyFailure, EtcdCallError, isAvailabilityFailure } from './errors.js';
import { MemberHealth, MemberSkipped, type PoolHost } from './health.js';

/** Every unary call's deadline unless the caller gives one: outlasts a leader election (~0.5-1 s). */
export const CALL_TIMEOUT_MS = 1_200;
/** How long a member may take to answer the status probe that counts live members after a failure. */
export const PROBE_TIMEOUT_MS = 300;
/**
 * One attempt's share of an idempotent call's deadline: a read or a put of the same value sent to a
 * member that went silent (cut off, before the channel's keepalive notices) is sent to the next
 * member after this, not after the whole deadline.
 */
export const ATTEMPT_TIMEOUT_MS = 400;

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * The absolute deadline of the call under way (Date.now() ms), carried through etcd3's promise
 * chain so every attempt of one call shares it: with etcd3's default, each retry on another member
 * got a fresh deadline (the research trial saw 7 s before an error).
 */
const deadlines = new AsyncLocalStorage<number>();

/**
 * Set for a call whose request may be sent again safely (a read; a put of the same value): it is
 * then also tried on the next member after a connection lost under it, or a timeout, while the
 * call's deadline holds.
 */
const idempotent = new AsyncLocalStorage<true>();

/**
 * gRPC channel settings: reconnect to a restarted member within 100-1,000 ms (gRPC's default
 * backoff grows to 120 s), and ping every second so a watch or lease stream on a member cut off by
 * the fabric (no RST) fails over within ~2 s instead of hanging (flowmig's members accept a ping
 * a second: `--grpc-keepalive-min-time 1s` in member.ts).
 */
const GRPC_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.keepalive_time_ms': 1_000,
  'grpc.keepalive_timeout_ms': 1_000,
};

const noSignal = new AbortController().signal;

/**
 * How soon etcd3 sets up a failed watch stream again: 100 ms, doubling up to 1 s (its default,
 * cockatiel's ExponentialBackoff, grows to 30 s: a watch that failed a few times while a member
 * was cut off would sit idle long after the fabric healed).
 */
class WatchBackoff {
  constructor(readonly duration = 100) {}
  next(): WatchBackoff {
    return new WatchBackoff(Math.min(1_000, this.duration * 2));
  }
}

/** A member's own policy: skipped while it does not answer and another member does. */
function memberPolicy(host: string, health: MemberHealth | undefined): Policy {
  return {
    async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> {
      // etcd3 then tries the next member (it did not call through).
      if (health?.skip(host)) throw new MemberSkipped(host);
      try {
        const result = await fn({ signal: noSignal });
        // A stream is returned before the member said anything: only a unary answer counts.
        if (typeof (result as { write?: unknown })?.write !== 'function') health?.answered(host);
        return result;
      } catch (error) {
        health?.failed(host, error);
        throw error;
      }
    },
  } as unknown as Policy;
}

/**
 * etcd3 runs each call through a per-member policy (default: a circuit breaker that refuses a
 * member for 5 s after 3 failures, so a restarted member stays unused) and a global one (default:
 * 3 retries). Ours: no breaker, and a retry on the next member (etcd3 shuffles them) only when the
 * request surely did nothing, while the call's deadline holds. etcd3 only calls `execute`.
 */
function policy(retries: number): Policy {
  return {
    async execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn({ signal: noSignal });
        } catch (error) {
          const deadline = deadlines.getStore() ?? 0;
          const message = (error as Error)?.message ?? '';
          // Only failures that prove the request was not carried out: no connection, or a member
          // refusing before it proposed anything. A timeout may hide a committed write, and a
          // compare-and-swap sent again would then fail against its own success.
          const noLeader = /etcdserver: no leader/.test(message);
          const again = idempotent.getStore() === true;
          // The deadline seen here, or the member's own ("context deadline exceeded": the
          // deadline travels with the request, and a 400 ms attempt often ends there first).
          const timedOut =
            again && /DEADLINE_EXCEEDED|Deadline exceeded|context deadline exceeded/.test(message);
          // A request that may be sent twice also goes on after a connection lost under it.
          const dropped = again && /UNAVAILABLE|Connection dropped/.test(message);
          // "Waiting for LB pick": the attempt timed out before any connection took the request
          // (a member cut off, its channel still connecting): nothing was sent.
          const notSent = /No connection established|ECONNREFUSED|Waiting for LB pick/.test(
            message,
          );
          const retry = noLeader || timedOut || dropped || notSent;
          if (!retry || Date.now() >= deadline) throw error;
          if (error instanceof MemberSkipped) {
            // etcd3's round over the members skipped every one (its shuffled order can visit a
            // member twice in a round and miss the usable one): no member was called, so it is
            // no attempt. A macrotask between rounds, so the skips cannot hold the event loop.
            attempt--;
            await new Promise((r) => setImmediate(r));
            continue;
          }
          // A call that may be sent twice goes on while its deadline holds (its attempts are
          // short); others get one attempt per member.
          if (attempt >= retries && !again) throw error;
          if (noLeader || again) await new Promise((r) => setTimeout(r, noLeader ? 50 : 10));
        }
      }
    },
  } as unknown as Policy;
}

export interface EtcdClientOptions {
  /** Client URLs of the cluster's members, e.g. `http://127.0.0.1:2379` (all of them: a quorum is counted among these). */
  readonly endpoints: readonly string[];
  readonly callTimeoutMs?: number;
  readonly probeTimeoutMs?: number;
}

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly callTimeoutMs: number;
  readonly probeTimeoutMs: number;
  /** The etcd3 client, for builders; use it inside `call` so the deadline and errors apply. */
  readonly etcd: Etcd3;
  #closed = false;

  constructor(o: EtcdClientOptions) {
    if (o.endpoints.length === 0) throw new Error('an etcd client needs at least one endpoint');
    this.endpoints = [...o.endpoints];
    this.callTimeoutMs = o.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.probeTimeoutMs = o.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    // The pool is etcd3's (private; etcd3 is pinned to 1.1.2): its hosts' channels say which
    // members are connected.
    const health = new MemberHealth(
      () => (this.etcd as unknown as { pool: { hosts: PoolHost[] } }).pool.hosts,
    );
    this.etcd = newEtcd3(this.endpoints, this.endpoints.length - 1, health);
  }

  /**
   * Runs `fn` (etcd3 calls) with one deadline for all of them, `timeoutMs` from now. A failure is
   * thrown as an EtcdCallError: when it looks like the cluster's (deadline, refused, no
   * leader), every endpoint's status is asked in parallel first, to say "etcd has no quorum: K
   * of N members answer" or "cannot reach etcd at ...", within timeoutMs + probeTimeoutMs.
   * `what` names the call in other messages ("etcd <what> failed: ...").
   */
  async call<T>(
    what: string,
    fn: (etcd: Etcd3) => Promise<T>,
    timeoutMs?: number,
    options: { idempotent?: boolean } = {},
  ): Promise<T> {
    const deadline = Date.now() + (timeoutMs ?? this.callTimeoutMs);
    const run = () => deadlines.run(deadline, () => fn(this.etcd));
    try {
      return await (options.idempotent ? idempotent.run(true, run) : run());
    } catch (error) {
      throw await this.classify(what, error);
    }
  }

  /** The error to throw for `error`: counts answering members when the failure calls for it. */
  async classify(what: string, error: unknown): Promise<EtcdCallError> {
    if (error instanceof EtcdCallError) return error;
    if (this.#closed || !isAvailabilityFailure(error)) {
      return classifyFailure(what, error, this.endpoints, undefined);
    }
    return classifyFailure(what, error, this.endpoints, await this.answering());
  }

  /**
   * How many endpoints answer a status request within the probe timeout, all asked at once, each
   * on a channel of its own (a fresh one, so a member just restarted is not hidden by a
   * connection's backoff). A member without quorum still answers status: this counts the live.
   */
  async answering(): Promise<number> {
    const answers = await Promise.all(
      this.endpoints.map(async (endpoint) => {
        const probe = newEtcd3([endpoint], 0);
        try {
          await deadlines.run(Date.now() + this.probeTimeoutMs, () => probe.maintenance.status());
          return true;
        } catch {
          return false;
        } finally {
          probe.close();
        }
      }),
    );
    return answers.filter(Boolean).length;
  }

  /** Closes every connection; watchers and leases made on it should be stopped first. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.etcd.close();
  }
}

function newEtcd3(endpoints: readonly string[], retries: number, health?: MemberHealth): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    grpcOptions: GRPC_OPTIONS,
    // Unary calls end at the call's deadline (an idempotent call's attempt sooner, so the next
    // member gets the rest); streams (watch, lease keepalive) have none unless given: they live
    // until stopped. A unary call outside `call` (none of flowmig's) gets the default.
    defaultCallOptions: (context) => {
      if (context.isStream) return {};
      const deadline = deadlines.getStore() ?? Date.now() + CALL_TIMEOUT_MS;
      const attempt =
        idempotent.getStore() === true
          ? Math.min(deadline, Date.now() + ATTEMPT_TIMEOUT_MS)
          : deadline;
      return { deadline: new Date(attempt) };
    },
    faultHandling: {
      host: (host) => memberPolicy(host.replace(/^https?:\/\//, ''), health),
      global: policy(retries),
      watchBackoff: new WatchBackoff(),
    },
  });
}
