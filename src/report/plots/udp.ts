// The UDP plot: datagrams lost, duplicated and reordered around each swap.
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults } from '../../results/schema.js';
import { base, maxOf, minOf, type Plot, WIDTH } from './frame.js';

const UDP_MEASURES = ['lost', 'duplicated', 'reordered'] as const;

/** (e) UDP datagrams lost, duplicated and reordered around each swap. */
export function udpPlot(r: ExperimentResults): Plot {
  const name = 'udp-per-swap';
  const title = 'UDP datagrams affected per swap';
  const swaps = r.swaps.filter((s) => s.udp !== undefined);
  if (swaps.length === 0) {
    return { name, title, omitted: 'no per-swap UDP figures (no swap has UDP counts)' };
  }
  const values = swaps.flatMap((s) =>
    UDP_MEASURES.map((measure) => ({ swap: s.index, measure, count: s.udp?.[measure] ?? 0 })),
  );
  const affected = swaps.filter((s) => UDP_MEASURES.some((m) => (s.udp?.[m] ?? 0) > 0)).length;
  const indices = swaps.map((s) => s.index);
  const first = minOf(indices);
  const last = maxOf(indices);
  const span = last - first + 1;
  const spec: TopLevelSpec = {
    ...base(title, `${affected} of ${swaps.length} swaps lost, duplicated or reordered datagrams`),
    data: { values },
    // Bars as wide as a swap's share of the axis, so neighbouring swaps never overlap.
    mark: { type: 'bar', size: Math.max(1, Math.min(8, (WIDTH / span) * 0.8)), aria: false },
    encoding: {
      x: {
        field: 'swap',
        type: 'quantitative',
        title: 'swap (number, from 1)',
        scale: { domain: [first - 1, last + 1], nice: false },
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: { aggregate: 'sum', field: 'count', type: 'quantitative', title: 'datagrams (count)' },
      color: {
        field: 'measure',
        type: 'nominal',
        title: 'datagrams',
        scale: { domain: [...UDP_MEASURES], range: ['#e45756', '#f58518', '#4c78a8'] },
      },
    },
  };
  return { name, title, spec };
}
