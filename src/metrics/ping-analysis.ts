// Combines ping's per-packet lines with the servers' captures: counts, RTT distribution and series, gaps.
import { type Distribution, summarize } from './distribution.js';
import { type ArrivalsByNode, type MigrationGap, migrationGaps } from './gaps.js';
import { type PingLine, seqUnwrapper } from './ping.js';
import { downsampleMax, type SeriesPoint } from './series.js';
import type { SwapMark } from './swaps.js';

export interface PingAnalysisInput {
  readonly lines: Iterable<PingLine>;
  /** "N packets transmitted" from the summary; without it, the highest icmp_seq seen. */
  readonly transmitted?: number;
  /** Echo-request arrival times per server node (see `arrivalTimes`), ascending. */
  readonly serverArrivals?: ArrivalsByNode;
  readonly swaps?: readonly SwapMark[];
  /** Most points in `rttSeries` (default 1000). */
  readonly maxPoints?: number;
}

export interface PingAnalysis {
  readonly sent: number;
  /** Requests answered at least once (replies without "(DUP!)"). */
  readonly received: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly noAnswer: number;
  /** sent − received (never below 0). */
  readonly lost: number;
  /** Error lines by their text, e.g. {"Destination unreachable: No route": 3}. */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** RTT of the first copy of every answered request. */
  readonly rttMs: Distribution;
  /** (receive time, RTT) of first copies, thinned to at most maxPoints keeping each bucket's max. */
  readonly rttSeries: readonly SeriesPoint[];
  /** Echo requests that reached each server. */
  readonly serverRequests: Readonly<Record<string, number>>;
  /** One per swap when swaps and server arrivals are given. */
  readonly gaps: readonly MigrationGap[];
}

export function analyzePing(input: PingAnalysisInput): PingAnalysis {
  const unwrap = seqUnwrapper();
  let highest = 0;
  let received = 0;
  let duplicates = 0;
  let errors = 0;
  let noAnswer = 0;
  const errorKinds: Record<string, number> = {};
  const rtts: number[] = [];
  const points: SeriesPoint[] = [];
  for (const line of input.lines) {
    if (line.seq !== undefined) highest = Math.max(highest, unwrap(line.seq));
    if (line.kind === 'reply') {
      if (line.dup) {
        duplicates++;
        continue;
      }
      received++;
      if (line.rttMs !== undefined) {
        rtts.push(line.rttMs);
        if (line.tMs !== undefined) points.push({ tMs: line.tMs, value: line.rttMs });
      }
    } else if (line.kind === 'error') {
      errors++;
      errorKinds[line.error] = (errorKinds[line.error] ?? 0) + 1;
    } else noAnswer++;
  }
  const sent = input.transmitted ?? highest;
  points.sort((a, b) => a.tMs - b.tMs);

  const serverRequests: Record<string, number> = {};
  const arrivals = input.serverArrivals;
  if (arrivals) {
    const entries = arrivals instanceof Map ? [...arrivals] : Object.entries(arrivals);
    for (const [node, times] of entries) serverRequests[node] = times.length;
  }
  return {
    sent,
    received,
    duplicates,
    errors,
    noAnswer,
    lost: Math.max(0, sent - received),
    errorKinds,
    rttMs: summarize(rtts),
    rttSeries: downsampleMax(points, input.maxPoints ?? 1000),
    serverRequests,
    gaps: arrivals && input.swaps ? migrationGaps(arrivals, input.swaps) : [],
  };
}
