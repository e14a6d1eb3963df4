// Whether a TCP connection's end (or its lasting) is what the flow's TCP policy promises.

export type TcpPolicy = 'reset' | 'drain' | 'migrate';

export interface TcpEnd {
  readonly kind: 'reset' | 'closed' | 'error' | 'open';
  /** When it ended, ms from the run's start (null: still open). */
  readonly atMs: number | null;
  /** The swap it followed (numbered from 1) and how long after that swap was issued. */
  readonly afterSwap: { readonly index: number; readonly ms: number } | null;
  readonly message: string;
}

export interface TcpOutcomeInput {
  readonly policy: TcpPolicy;
  /** With `drain`: how long a former server keeps its connections (unknown: undefined). */
  readonly drainMs?: number;
  readonly ended: TcpEnd;
  readonly swaps: number;
  /** When the first swap was issued, ms from the run's start. */
  readonly firstSwapMs: number | null;
}

export interface TcpOutcome {
  readonly asPromised: boolean;
  /** One verdict line: what happened, and what the policy promises. */
  readonly line: string;
}

const PROMISE: Record<TcpPolicy, string> = {
  reset: 'resets it at a swap (the new server has no socket for it)',
  drain: 'keeps it on its server until it closes or its drain ends',
  migrate: 'moves it with the flow',
};

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

/**
 * `reset` promises a reset after a swap; `drain` and `migrate` promise an open connection (under
 * `drain`, a reset once the drain time has passed since the first swap is its end as promised).
 * A connection that closed, failed, or ended before any swap is never what a policy promises.
 */
export function tcpOutcome(o: TcpOutcomeInput): TcpOutcome {
  const { policy, ended } = o;
  const as = `as the flow's tcp policy ${policy} promises`;
  const but = `but the flow's tcp policy ${policy} ${PROMISE[policy]}`;
  if (ended.kind === 'open') {
    const lasted = `still open after ${o.swaps} swap${o.swaps === 1 ? '' : 's'}`;
    if (policy !== 'reset' || o.swaps === 0)
      return { asPromised: true, line: `tcp: ${lasted}, ${as}` };
    return { asPromised: false, line: `tcp: ${lasted}, ${but}` };
  }
  const what =
    ended.kind === 'reset' ? 'reset' : `${ended.kind} (${ended.message || 'no message'})`;
  const when = ended.afterSwap
    ? `${ms(ended.afterSwap.ms)} after swap ${ended.afterSwap.index}`
    : `before any swap${ended.atMs === null ? '' : `, at ${ms(ended.atMs)}`}`;
  const told = `tcp: ${what} ${when}`;
  if (ended.kind !== 'reset' || ended.afterSwap === null)
    return { asPromised: false, line: `${told}, ${but}` };
  if (policy === 'reset')
    return { asPromised: true, line: `${told}, ${as} (the new server has no socket for it)` };
  if (
    policy === 'drain' &&
    o.drainMs !== undefined &&
    o.firstSwapMs !== null &&
    ended.atMs !== null &&
    ended.atMs >= o.firstSwapMs + o.drainMs
  )
    return {
      asPromised: true,
      line: `${told}, once its drain (${o.drainMs / 1000} s) had ended, ${as}`,
    };
  return { asPromised: false, line: `${told}, ${but}` };
}

/** A TCP client started across one swap (the demo's ncat): did the swap end it? */
export interface ClientAcrossSwap {
  readonly from: string;
  readonly to: string;
  readonly clientTerminated: boolean;
  readonly clientExitCode: number | null;
  readonly clientMessage: string;
}

/** `reset` promises the client is reset by the swap; `drain` and `migrate` that it survives. */
export function clientOutcome(policy: TcpPolicy, c: ClientAcrossSwap): TcpOutcome {
  const what = c.clientTerminated
    ? `reset (client exit ${String(c.clientExitCode)}${c.clientMessage ? `: ${c.clientMessage}` : ''})`
    : 'survived';
  const told = `tcp (a client across swap ${c.from} → ${c.to}): ${what}`;
  const asPromised = c.clientTerminated === (policy === 'reset');
  return {
    asPromised,
    line: asPromised
      ? `${told}, as the flow's tcp policy ${policy} promises`
      : `${told}, but the flow's tcp policy ${policy} ${PROMISE[policy]}`,
  };
}
