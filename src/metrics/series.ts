// Time series for plots: event counts per fixed interval, and a max-keeping downsampler.

export interface SeriesPoint {
  readonly tMs: number;
  readonly value: number;
}

function checkInterval(intervalMs: number, durationMs: number): number {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
    throw new RangeError(`interval must be a positive number of ms, not ${intervalMs}`);
  }
  if (!(durationMs >= 0) || !Number.isFinite(durationMs)) {
    throw new RangeError(`duration must be a finite number of ms >= 0, not ${durationMs}`);
  }
  return Math.ceil(durationMs / intervalMs);
}

/**
 * Counts per bucket: bucket k holds times in [start + k·interval, start + (k+1)·interval), there
 * are ceil(duration / interval) buckets (the last may be shorter), times outside
 * [start, start + duration) are left out. Any order of times; O(n).
 */
export function bucketCounts(
  timesMs: Iterable<number>,
  startMs: number,
  intervalMs: number,
  durationMs: number,
): number[] {
  const n = checkInterval(intervalMs, durationMs);
  const counts = new Array<number>(n).fill(0);
  const endMs = startMs + durationMs;
  for (const t of timesMs) {
    if (!(t >= startMs && t < endMs)) continue;
    // Rounding can put a time just below the end into bucket n; it belongs to the last one.
    const k = Math.min(n - 1, Math.floor((t - startMs) / intervalMs));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/**
 * At most `maxPoints` points of a series sorted by time: the time span is cut into `maxPoints`
 * equal buckets and each non-empty bucket keeps its largest value (the first on ties), so a spike
 * survives however far the series is thinned. A series that fits is returned as it is (copied).
 */
export function downsampleMax(points: readonly SeriesPoint[], maxPoints: number): SeriesPoint[] {
  if (!Number.isInteger(maxPoints) || maxPoints < 1) {
    throw new RangeError(`maxPoints must be a positive integer, not ${maxPoints}`);
  }
  if (points.length <= maxPoints) return [...points];
  const first = points[0]?.tMs ?? 0;
  const span = (points[points.length - 1]?.tMs ?? 0) - first;
  const out: SeriesPoint[] = [];
  let bucket = -1;
  let previous = first;
  for (const p of points) {
    if (!(p.tMs >= previous)) throw new RangeError('downsampleMax needs points sorted by time');
    previous = p.tMs;
    const k =
      span > 0 ? Math.min(maxPoints - 1, Math.floor(((p.tMs - first) / span) * maxPoints)) : 0;
    if (k !== bucket) {
      out.push(p);
      bucket = k;
    } else if (p.value > (out[out.length - 1]?.value ?? Number.NEGATIVE_INFINITY)) {
      out[out.length - 1] = p;
    }
  }
  return out;
}

/** A reading of a counter that only grows (e.g. Ip6InReceives), at epoch or run ms. */
export interface CounterReading {
  readonly tMs: number;
  readonly value: number;
}

/**
 * What a sampled counter counted per bucket: bucket k covers [start + k·interval, start +
 * (k+1)·interval), ceil(duration / interval) buckets. The growth between two readings is spread
 * over the time between them, bucket by bucket, as a constant rate: a reading that came late (the
 * sampler waited for a CPU) does not put the packets of two intervals into one bucket and none
 * into the one before. Counts are rounded so their sum stays the counter's whole growth.
 */
export function counterBuckets(
  readings: readonly CounterReading[],
  startMs: number,
  intervalMs: number,
  durationMs: number,
): number[] {
  const n = Math.max(1, checkInterval(intervalMs, durationMs));
  const exact = new Float64Array(n);
  const last = startMs + n * intervalMs;
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1];
    const b = readings[i];
    if (!a || !b) continue;
    const grown = Math.max(0, b.value - a.value);
    if (grown === 0) continue;
    if (!(b.tMs > a.tMs)) {
      const k = Math.min(n - 1, Math.max(0, Math.floor((b.tMs - startMs) / intervalMs)));
      exact[k] = (exact[k] ?? 0) + grown;
      continue;
    }
    // A constant rate between the readings; what falls before the first bucket or after the last
    // (readings taken while the traffic started or stopped) goes to that bucket, so it counts.
    const rate = grown / (b.tMs - a.tMs);
    const before = Math.max(0, Math.min(b.tMs, startMs) - a.tMs);
    const after = Math.max(0, b.tMs - Math.max(a.tMs, last));
    exact[0] = (exact[0] ?? 0) + rate * before;
    exact[n - 1] = (exact[n - 1] ?? 0) + rate * after;
    const from = Math.max(startMs, a.tMs);
    const to = Math.min(last, b.tMs);
    for (let k = Math.max(0, Math.floor((from - startMs) / intervalMs)); k < n && to > from; k++) {
      const lo = Math.max(from, startMs + k * intervalMs);
      const hi = Math.min(to, startMs + (k + 1) * intervalMs);
      if (hi <= lo) break;
      exact[k] = (exact[k] ?? 0) + rate * (hi - lo);
    }
  }
  // Round the running total, not each bucket: the sum stays exact, each bucket is off by < 1.
  const counts = new Array<number>(n).fill(0);
  let running = 0;
  let rounded = 0;
  for (let k = 0; k < n; k++) {
    running += exact[k] ?? 0;
    const now = Math.round(running);
    counts[k] = Math.max(0, now - rounded);
    rounded = now;
  }
  return counts;
}
