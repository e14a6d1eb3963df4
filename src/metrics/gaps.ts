// Migration gaps: per swap, the time between the old server's last packet and the new server's first.
import { checkSwapOrder, type SwapMark } from './swaps.js';

/** Packet arrival times (epoch ms, ascending) per server node, on the swaps' clock. */
export type ArrivalsByNode =
  | ReadonlyMap<string, ArrayLike<number>>
  | Readonly<Record<string, ArrayLike<number>>>;

export type GapUnmeasurable = 'no-arrival-at-new' | 'no-arrival-at-old' | 'same-node';

export interface MigrationGap {
  readonly index: number;
  readonly issuedMs: number;
  readonly from: string;
  readonly to: string;
  /** End of the swap's window: the next swap's issue time; null for the last swap. */
  readonly windowEndMs: number | null;
  /** First arrival at `to` in [issued, windowEnd). */
  readonly firstNewMs: number | null;
  /** Last arrival at `from` before windowEnd: before the swap, or after it (in flight, late). */
  readonly lastOldMs: number | null;
  /**
   * firstNew − lastOld: the time the flow reached neither server. Negative when `from` still got
   * packets after `to` got its first one (both served the flow at once, by that much).
   */
  readonly gapMs: number | null;
  readonly unmeasurable?: GapUnmeasurable;
  /**
   * Arrivals at `from` in [issued, firstNew]: packets already on their way to the old server when
   * the swap was issued. With no arrival at `to`, every arrival at `from` in the window.
   */
  readonly inFlight: number;
  /** Arrivals at `from` after firstNew and before windowEnd: the overlap's packets. */
  readonly overlap: number;
}

/**
 * A read position in one node's ascending arrivals. Each query kind only moves forward, and the
 * swaps ask with non-decreasing times, so all queries of a run cost O(arrivals + swaps).
 */
class Cursor {
  private atLeastAt = 0;
  private aboveAt = 0;
  private lastAtLeast = Number.NEGATIVE_INFINITY;
  private lastAbove = Number.NEGATIVE_INFINITY;

  constructor(readonly times: ArrayLike<number>) {}

  /** Index of the first arrival >= t. */
  atLeast(t: number): number {
    if (t < this.lastAtLeast) throw new Error('gaps: cursor moved backwards (swaps out of order)');
    this.lastAtLeast = t;
    const a = this.times;
    while (this.atLeastAt < a.length && (a[this.atLeastAt] ?? 0) < t) this.atLeastAt++;
    return this.atLeastAt;
  }

  /** Index of the first arrival > t. */
  above(t: number): number {
    if (t < this.lastAbove) throw new Error('gaps: cursor moved backwards (swaps out of order)');
    this.lastAbove = t;
    const a = this.times;
    while (this.aboveAt < a.length && (a[this.aboveAt] ?? 0) <= t) this.aboveAt++;
    return this.aboveAt;
  }
}

function cursorsFor(arrivals: ArrivalsByNode): (node: string) => Cursor {
  const entries: [string, ArrayLike<number>][] =
    arrivals instanceof Map ? [...arrivals] : Object.entries(arrivals);
  const cursors = new Map<string, Cursor>();
  for (const [node, times] of entries) {
    for (let i = 1; i < times.length; i++) {
      if (!((times[i] ?? 0) >= (times[i - 1] ?? 0))) {
        throw new RangeError(`arrivals at ${node} are not sorted (index ${i})`);
      }
    }
    cursors.set(node, new Cursor(times));
  }
  return (node) => {
    let c = cursors.get(node);
    if (!c) {
      c = new Cursor([]);
      cursors.set(node, c);
    }
    return c;
  };
}

/**
 * One gap per swap. Swaps must be in issue order and on the arrivals' clock; a node without
 * arrivals may be left out. Each query is a forward-only cursor move (no search per swap), so
 * 1000 swaps over millions of packets cost one pass over the packets.
 */
export function migrationGaps(
  arrivals: ArrivalsByNode,
  swaps: readonly SwapMark[],
): MigrationGap[] {
  checkSwapOrder(swaps);
  const cursor = cursorsFor(arrivals);
  const gaps: MigrationGap[] = [];
  for (let i = 0; i < swaps.length; i++) {
    const swap = swaps[i] as SwapMark;
    const next = swaps[i + 1];
    const end = next ? next.issuedMs : Number.POSITIVE_INFINITY;
    const base = {
      index: i,
      issuedMs: swap.issuedMs,
      from: swap.from,
      to: swap.to,
      windowEndMs: next ? next.issuedMs : null,
    };
    if (swap.from === swap.to) {
      gaps.push({
        ...base,
        firstNewMs: null,
        lastOldMs: null,
        gapMs: null,
        unmeasurable: 'same-node',
        inFlight: 0,
        overlap: 0,
      });
      continue;
    }
    const to = cursor(swap.to);
    const from = cursor(swap.from);
    const n = to.atLeast(swap.issuedMs);
    const candidate = to.times[n];
    const firstNewMs = candidate !== undefined && candidate < end ? candidate : null;

    const oldStart = from.atLeast(swap.issuedMs);
    const oldEnd = from.atLeast(end);
    const lastOldMs = oldEnd > 0 ? (from.times[oldEnd - 1] ?? null) : null;
    let inFlight = oldEnd - oldStart;
    let overlap = 0;
    if (firstNewMs !== null) {
      const afterNew = Math.min(from.above(firstNewMs), oldEnd);
      inFlight = Math.max(0, afterNew - oldStart);
      overlap = oldEnd - Math.max(afterNew, oldStart);
    }
    const unmeasurable: GapUnmeasurable | undefined =
      firstNewMs === null
        ? 'no-arrival-at-new'
        : lastOldMs === null
          ? 'no-arrival-at-old'
          : undefined;
    gaps.push({
      ...base,
      firstNewMs,
      lastOldMs,
      gapMs: firstNewMs !== null && lastOldMs !== null ? firstNewMs - lastOldMs : null,
      ...(unmeasurable ? { unmeasurable } : {}),
      inFlight,
      overlap,
    });
  }
  return gaps;
}
