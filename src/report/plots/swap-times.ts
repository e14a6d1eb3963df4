// The swap-time plot: an empirical CDF of each time of a swap, under the names every reader uses.
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults, SwapRecord } from '../../results/schema.js';
import { type SwapTime, swapTimeNames } from '../../results/stats.js';
import { base, maxOf, minOf, type Plot } from './frame.js';

const MAX_ECDF_POINTS = 600;

/** Points of an empirical CDF, at most `max` of them (evenly spaced ranks, always the last). */
export function ecdf(samples: readonly number[], max = MAX_ECDF_POINTS): [number, number][] {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const step = Math.max(1, Math.ceil(n / max));
  // Starts at 0 at the smallest sample, so the first step is drawn like the others.
  const points: [number, number][] = n > 0 ? [[sorted[0] ?? 0, 0]] : [];
  for (let i = 0; i < n; i += step) points.push([sorted[i] ?? 0, (i + 1) / n]);
  if (n > 0 && (n - 1) % step !== 0) points.push([sorted[n - 1] ?? 0, 1]);
  return points;
}

/** (c) ECDF of each time of a swap, under the names every reader uses (swapTimeNames). */
export function latencyPlot(r: ExperimentResults): Plot {
  const name = 'swap-latency';
  const title = 'Swap times (ECDF)';
  if (r.swaps.length === 0) return { name, title, omitted: 'no swaps recorded' };
  const steps: SwapTime[] = ['total', 'wait', 'rule', 'conntrack', 'apply'];
  const SWAP_TIMES = swapTimeNames(r.lab);
  const of = (s: SwapRecord, step: SwapTime) => (step === 'apply' ? s.applyMs : s.controlMs[step]);
  const values = steps.flatMap((step) =>
    ecdf(r.swaps.map((s) => of(s, step))).map(([ms, fraction]) => ({
      step: SWAP_TIMES[step],
      ms,
      fraction,
    })),
  );
  const all = values.map((v) => v.ms);
  const min = minOf(all);
  const max = maxOf(all);
  // Latencies have a long tail: a log axis keeps the body readable, when every value is > 0.
  const log = min > 0 && max / min > 10;
  const spec: TopLevelSpec = {
    ...base(title, [
      `${r.swaps.length} swaps${log ? ' (log scale)' : ''}; "${SWAP_TIMES.total}" = "${SWAP_TIMES.wait}" + "${SWAP_TIMES.rule}" + "${SWAP_TIMES.conntrack}"`,
      `"${SWAP_TIMES.apply}": what the ${SWAP_TIMES.apply === 'host daemon answer' ? 'host daemon timed itself, from the call' : 'controller timed itself, from the rule change starting'} to its answer`,
    ]),
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5, aria: false },
    encoding: {
      x: {
        field: 'ms',
        type: 'quantitative',
        title: 'time (ms)',
        scale: log ? { type: 'log', nice: false } : { zero: true },
      },
      y: {
        field: 'fraction',
        type: 'quantitative',
        title: 'fraction of swaps (≤ x)',
        scale: { domain: [0, 1] },
        axis: { format: '.0%' },
      },
      color: {
        field: 'step',
        type: 'nominal',
        title: 'time',
        scale: { domain: steps.map((s) => SWAP_TIMES[s]) },
      },
    },
  };
  return { name, title, spec };
}
