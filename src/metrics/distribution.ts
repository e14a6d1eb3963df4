// Summarizes samples (RTTs, gaps) as count, min, nearest-rank p50/p90/p99, max and mean.

export interface Distribution {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile: the smallest sample with at least p% of the samples at or below it. */
function rank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

/** All zeros for no samples. NaN samples are left out. */
export function summarize(samples: Iterable<number> | ArrayLike<number>): Distribution {
  const all = Float64Array.from(samples as ArrayLike<number>);
  const sorted = all.filter((x) => !Number.isNaN(x)).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: sorted.length,
    min: sorted[0] ?? 0,
    p50: rank(sorted, 50),
    p90: rank(sorted, 90),
    p99: rank(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length ? sum / sorted.length : 0,
  };
}
