// The migration gap histogram: last packet at the old server to first at the new one, per swap.
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults } from '../../results/schema.js';
import { base, type Layer, type Plot, shortMs } from './frame.js';

/** A "nice" step near `x`: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  const f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

/**
 * (b) Histogram of migration gaps: last packet at the old server to first at the new one. The
 * bins cover the body of the gaps (up to the 99th percentile) when a few far larger ones would
 * set a linear axis and put everything else in one bin; those are counted in one bar beyond.
 */
export function gapPlot(r: ExperimentResults): Plot {
  const name = 'gaps';
  const title = 'Migration gap per swap';
  if (r.swaps.length === 0) return { name, title, omitted: 'no swaps recorded' };
  const gaps = r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs])).sort((a, b) => a - b);
  if (gaps.length === 0) return { name, title, omitted: 'no migration gaps measured' };
  const overlaps = gaps.filter((g) => g <= 0).length;
  const lo = gaps[0] ?? 0;
  const max = gaps[gaps.length - 1] ?? 0;
  const p99 = gaps[Math.max(0, Math.ceil(0.99 * gaps.length) - 1)] ?? max;
  // "Far": beyond the body by more than three times its width.
  const far = max > p99 + 3 * Math.max(p99 - lo, 1e-9);
  const hi = far ? p99 : max;
  const width = niceStep((hi - lo) / 30 || Math.abs(lo) / 10 || 0.001);
  const start = Math.floor(lo / width) * width;
  const bins = Math.max(1, Math.floor((hi - start) / width) + 1);
  const counts = new Array<number>(bins).fill(0);
  let beyond = 0;
  for (const g of gaps) {
    if (far && g > hi) beyond++;
    else {
      const k = Math.min(bins - 1, Math.max(0, Math.floor((g - start) / width)));
      counts[k] = (counts[k] ?? 0) + 1;
    }
  }
  const edge = (k: number) => Number((start + k * width).toPrecision(12));
  const values = counts.map((count, k) => ({
    start: edge(k),
    end: edge(k + 1),
    count,
    beyond: false,
  }));
  if (far)
    // Drawn two bins wide past the last bin, so it stands apart; its label gives its range.
    values.push({ start: edge(bins + 1), end: edge(bins + 3), count: beyond, beyond: true });
  const subtitle = [
    `${gaps.length} of ${r.swaps.length} swaps measured, in ${shortMs(width)} bins; ${overlaps} overlapped (gap ≤ 0: the new server got packets before the old one's last)`,
    ...(far
      ? [
          `the orange bar: ${beyond} gap${beyond === 1 ? '' : 's'} above ${shortMs(hi)} (the 99th percentile), up to ${shortMs(max)}`,
        ]
      : []),
  ];
  const spec: TopLevelSpec = {
    ...base(title, subtitle),
    layer: [
      {
        data: { values },
        mark: { type: 'bar', binSpacing: 0, stroke: 'white', strokeWidth: 0.5, aria: false },
        encoding: {
          x: {
            field: 'start',
            type: 'quantitative',
            title: 'gap: last packet at old server → first at new server (ms)',
            scale: { domain: [edge(0), edge(far ? bins + 3 : bins)], nice: false, zero: false },
          },
          x2: { field: 'end' },
          y: { field: 'count', type: 'quantitative', title: 'swaps (count)' },
          y2: { datum: 0 },
          color: {
            field: 'beyond',
            type: 'nominal',
            scale: { domain: [false, true], range: ['#4c78a8', '#f58518'] },
            legend: null,
          },
        },
      },
      ...(far
        ? [
            {
              data: { values: values.filter((v) => v.beyond) },
              mark: { type: 'text', dy: -6, color: '#b35900', fontSize: 11, aria: false },
              encoding: {
                x: { field: 'start', type: 'quantitative' },
                y: { field: 'count', type: 'quantitative' },
                text: { value: `> ${shortMs(hi)}` },
              },
            } satisfies Layer,
          ]
        : []),
    ],
  };
  return { name, title, spec };
}
