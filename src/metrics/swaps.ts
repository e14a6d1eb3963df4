// Swap marks on the experiment's clock, and which swap window a time falls in.

/** A migration as the experiment saw it: when it was issued (epoch ms) and between which nodes. */
export interface SwapMark {
  readonly issuedMs: number;
  readonly from: string;
  readonly to: string;
}

/** Throws unless the swaps are in issue order (equal times are allowed: an empty window). */
export function checkSwapOrder(swaps: readonly { readonly issuedMs: number }[]): void {
  for (let i = 1; i < swaps.length; i++) {
    const before = swaps[i - 1]?.issuedMs ?? Number.NaN;
    const now = swaps[i]?.issuedMs ?? Number.NaN;
    if (!(now >= before)) throw new RangeError(`swap ${i} issued before swap ${i - 1}`);
  }
}

/**
 * Window i is [issued_i, issued_{i+1}), the last one is open-ended; before the first swap is -1.
 * The locator remembers the last window, so times met in order cost O(1) each (a time earlier than
 * the last one falls back to a binary search).
 */
export function windowLocator(
  swaps: readonly { readonly issuedMs: number }[],
): (tMs: number) => number {
  checkSwapOrder(swaps);
  const starts = swaps.map((s) => s.issuedMs);
  const n = starts.length;
  const start = (i: number) => starts[i] ?? Number.POSITIVE_INFINITY;
  let w = -1;
  return (t) => {
    if (w >= 0 && t < start(w)) {
      // Binary search for the last start <= t.
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (start(mid) <= t) lo = mid + 1;
        else hi = mid;
      }
      w = lo - 1;
      return w;
    }
    while (w + 1 < n && start(w + 1) <= t) w++;
    return w;
  };
}
