// The ping plot: round-trip times over the run, with the swaps marked.
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults } from '../../results/schema.js';
import { base, type Plot, swapMarks, swapNote } from './frame.js';

/** More points than this only make the SVG heavy. */
const MAX_POINTS = 2500;

/** (d) Ping round-trip times over the run, with the swaps marked. */
export function rttPlot(r: ExperimentResults): Plot {
  const name = 'rtt';
  const title = 'Ping round-trip time over the run';
  const ping = r.traffic.ping;
  if (!ping) return { name, title, omitted: 'no ping traffic in this run' };
  if (ping.rtt.length === 0) return { name, title, omitted: 'no ping round-trip times recorded' };
  const stride = Math.ceil(ping.rtt.length / MAX_POINTS);
  const kept = ping.rtt.filter((_, i) => i % stride === 0);
  const rtts = kept.map((p) => p.rttMs).sort((a, b) => a - b);
  const min = rtts[0] ?? 0;
  const median = rtts[Math.floor(rtts.length / 2)] ?? 0;
  const max = rtts[rtts.length - 1] ?? 0;
  // A few slow replies at swaps would flatten the rest against the axis on a linear scale.
  const log = min > 0 && max / median > 50;
  const sampled =
    stride > 1 ? `${kept.length} of ${ping.rtt.length} samples shown` : `${kept.length} samples`;
  const spec: TopLevelSpec = {
    ...base(title, `${sampled}${log ? ' (log scale)' : ''}; ${swapNote(r.swaps, r.durationMs)}`),
    layer: [
      ...swapMarks(r.swaps, r.durationMs, 's'),
      {
        data: { values: kept.map((p) => ({ t: p.tMs / 1000, rtt: p.rttMs })) },
        mark: {
          type: 'point',
          shape: 'square',
          filled: true,
          size: 6,
          opacity: 0.6,
          color: '#e45756',
          clip: true,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time since start (s)' },
          y: {
            field: 'rtt',
            type: 'quantitative',
            title: 'round-trip time (ms)',
            scale: log ? { type: 'log' } : { zero: true },
          },
        },
      },
    ],
  };
  return { name, title, spec };
}
