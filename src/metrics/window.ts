// A window of a few swaps at a fine time scale: what a swap does to the packets of each server,
// when the whole run is too long to see one swap.
import { bucketCounts } from './series.js';

export interface ArrivalWindow {
  /** Start of the first bin, in the caller's clock (e.g. ms from the run's start). */
  readonly fromMs: number;
  readonly binMs: number;
  /** Packets per bin at each node. */
  readonly nodes: Record<string, number[]>;
}

/** Bin widths a window may use, in ms: "nice" numbers, so the axis reads well. */
const BINS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

/**
 * Packets per bin at each node over `swaps` swaps in the middle of the run, from half a swap
 * period before the first of them to half a period after the last, in nice bins (at most
 * `maxBins`, some 20 packets each on average, at most a quarter of a swap period). `arrivals` and `issuedMs` share a clock (ascending); the window
 * is returned on it. Undefined without swaps or arrivals.
 */
export function arrivalWindow(
  arrivals: ReadonlyMap<string, ArrayLike<number>>,
  issuedMs: readonly number[],
  options: { readonly swaps?: number; readonly maxBins?: number } = {},
): ArrivalWindow | undefined {
  const want = Math.max(1, options.swaps ?? 6);
  const maxBins = options.maxBins ?? 400;
  if (issuedMs.length === 0 || arrivals.size === 0) return undefined;
  const first = Math.max(0, Math.floor((issuedMs.length - want) / 2));
  const shown = issuedMs.slice(first, first + want);
  const gaps = shown.slice(1).map((t, i) => t - (shown[i] ?? t));
  const sorted = [...gaps].sort((a, b) => a - b);
  // One swap alone: a window of 20 ms around it.
  const period = sorted.length ? (sorted[Math.floor(sorted.length / 2)] ?? 20) : 20;
  const from = (shown[0] ?? 0) - period / 2;
  const to = (shown[shown.length - 1] ?? 0) + period / 2;
  let inWindow = 0;
  for (const times of arrivals.values())
    for (let i = 0; i < times.length; i++) {
      const t = times[i] ?? 0;
      if (t >= from && t < to) inWindow++;
    }
  // The narrowest nice bin within maxBins that holds some 20 packets on average (a sparse flow in
  // narrow bins is a comb of its bursts), but never wider than a quarter of a swap period.
  const binMs =
    BINS.find(
      (b) => (to - from) / b <= maxBins && (inWindow / ((to - from) / b) >= 20 || b >= period / 4),
    ) ??
    BINS[BINS.length - 1] ??
    1000;
  const fromMs = Math.floor(from / binMs) * binMs;
  const durationMs = Math.ceil((to - fromMs) / binMs) * binMs;
  const nodes: Record<string, number[]> = {};
  for (const [node, times] of arrivals)
    nodes[node] = bucketCounts(Array.from(times), fromMs, binMs, durationMs);
  return { fromMs, binMs, nodes };
}
