// The packets plots: each node's packets over the whole run (kernel counters), and the flow's
// packets at each server over a few swaps (captures).
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults } from '../../results/schema.js';
import {
  base,
  crowded,
  formatPeriod,
  maxOf,
  type Plot,
  swapMarks,
  swapNote,
  swapPeriod,
} from './frame.js';

/** More points than this per line only make the SVG heavy: a pixel column holds one already. */
const MAX_BINS = 800;

/**
 * (a) Packets each node received per second over the whole run, from the kernel counters. Bins
 * are merged so no line has more than MAX_BINS points and, when swaps crowd the axis, so each bin
 * spans at least four swap periods: a server's line is then its share of the flow, not a band
 * that flips every bin (the window plot shows single swaps).
 */
export function packetsPlot(r: ExperimentResults): Plot {
  const name = 'packets';
  const title = 'Packets received per node';
  const nodes = Object.entries(r.series.nodes).filter(([, counts]) => counts.length > 0);
  if (nodes.length === 0) return { name, title, omitted: 'no per-node packet series recorded' };
  const longest = maxOf(nodes.map(([, c]) => c.length));
  const period = swapPeriod(r.swaps);
  const dense = crowded(r.swaps, r.durationMs) && period !== undefined;
  const factor = Math.max(
    Math.ceil(longest / MAX_BINS),
    dense ? Math.ceil((4 * period) / r.series.intervalMs) : 1,
  );
  const binMs = factor * r.series.intervalMs;
  const values: { node: string; t: number; rate: number }[] = [];
  for (const [node, counts] of nodes) {
    for (let start = 0; start < counts.length; start += factor) {
      const chunk = counts.slice(start, start + factor);
      const sum = chunk.reduce((a, b) => a + b, 0);
      // Each bin is `binMs` wide on the axis, the last one too: its rate is over that width.
      values.push({ node, t: (start * r.series.intervalMs) / 1000, rate: sum / (binMs / 1000) });
    }
  }
  const spec: TopLevelSpec = {
    ...base(
      title,
      `${formatPeriod(binMs)} bins (kernel counters); ${swapNote(r.swaps, r.durationMs)}`,
    ),
    layer: [
      ...swapMarks(r.swaps, r.durationMs, 's'),
      {
        data: { values },
        mark: {
          type: 'line',
          interpolate: 'step-after',
          strokeWidth: 1.2,
          clip: true,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time since start (s)' },
          y: {
            field: 'rate',
            type: 'quantitative',
            title: 'packets received (1/s)',
            // Headroom, so a node at the top rate is not drawn on the frame.
            scale: {
              domain: [0, Math.max(1, maxOf(values.map((v) => v.rate))) * 1.05],
              nice: true,
            },
          },
          color: { field: 'node', type: 'nominal', title: 'node' },
        },
      },
    ],
  };
  return { name, title, spec };
}

/**
 * (a') The flow's packets at each server over a few swaps, from the captures, in bins a fraction
 * of a swap period wide: each swap hands the packets from one server to the other.
 */
export function packetsWindowPlot(r: ExperimentResults): Plot {
  const name = 'packets-window';
  const a = r.arrivals;
  if (!a)
    return {
      name,
      title: 'Packets at each server around a few swaps',
      omitted: 'no captures of the servers: the window is drawn from them',
    };
  const length = maxOf(Object.values(a.nodes).map((c) => c.length));
  const toMs = a.fromMs + length * a.binMs;
  const shown = r.swaps.filter((s) => s.issuedMs >= a.fromMs && s.issuedMs <= toMs);
  const values = Object.entries(a.nodes).flatMap(([node, counts]) =>
    counts.map((n, k) => ({ node, t: Number((a.fromMs + k * a.binMs).toFixed(6)), n })),
  );
  const numbers =
    shown.length === 0
      ? 'no swap'
      : shown.length === 1
        ? `swap ${shown[0]?.index}`
        : `swaps ${shown[0]?.index}–${shown[shown.length - 1]?.index}`;
  const marks = shown.map((s) => ({ t: s.issuedMs, label: String(s.index) }));
  const title = `Packets at each server, ${numbers}`;
  const spec: TopLevelSpec = {
    ...base(
      title,
      `the flow's packets as each server's capture saw them, ${a.binMs} ms bins; grey rules: the swaps (numbered, when issued)`,
    ),
    layer: [
      {
        data: { values: marks },
        mark: { type: 'rule', color: '#8a8a8a', strokeDash: [4, 3], opacity: 0.7, aria: false },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
      {
        data: { values: marks },
        mark: {
          type: 'text',
          dy: -6,
          dx: 3,
          align: 'left',
          color: '#555',
          fontSize: 10,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative' },
          y: { value: 0 },
          text: { field: 'label' },
        },
      },
      {
        data: { values },
        mark: {
          type: 'line',
          interpolate: 'step-after',
          strokeWidth: 1.2,
          clip: true,
          aria: false,
        },
        encoding: {
          x: {
            field: 't',
            type: 'quantitative',
            title: 'time since start (ms)',
            scale: { domain: [a.fromMs, toMs], nice: false, zero: false },
          },
          y: { field: 'n', type: 'quantitative', title: `packets received (per ${a.binMs} ms)` },
          color: { field: 'node', type: 'nominal', title: 'server' },
        },
      },
    ],
  };
  return { name, title, spec };
}
