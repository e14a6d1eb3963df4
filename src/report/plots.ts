// Turns experiment results into vega-lite specs, one per plot, or the reason a plot is left out.
import type { Config, TopLevelSpec } from 'vega-lite';
import type { ExperimentResults, SwapRecord } from '../experiment/results.js';

/** A plot to draw, or one left out because the run gave it no data (`omitted` says why). */
export type Plot =
  | { readonly name: string; readonly title: string; readonly spec: TopLevelSpec }
  | { readonly name: string; readonly title: string; readonly omitted: string };

type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

const WIDTH = 680;
const HEIGHT = 240;
/** More points than this per line only make the SVG heavy: a pixel column holds one already. */
const MAX_BINS = 800;
const MAX_POINTS = 2500;
const MAX_ECDF_POINTS = 600;

/** Largest and smallest value, without spreading (thousands of swaps would overflow the stack). */
const maxOf = (xs: readonly number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
const minOf = (xs: readonly number[]) => xs.reduce((a, b) => Math.min(a, b), Infinity);

const STEP_LABELS = { total: 'total', rule: 'rule commit', conntrack: 'conntrack cleanup' };
const UDP_MEASURES = ['lost', 'duplicated', 'reordered'] as const;

function base(title: string, subtitle: string) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, anchor: 'start' as const },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    padding: 8,
    config: {
      font: 'sans-serif',
      axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', grid: true },
      legend: { labelFontSize: 11, titleFontSize: 11 },
      title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555' },
      view: { stroke: '#ccc' },
    },
  } satisfies Partial<TopLevelSpec> & { config: Config };
}

/**
 * Swap markers: a thin vertical rule at each swap. With hundreds of swaps each rule gets fainter,
 * so the rules read as a shading of where swaps happened instead of hiding the data behind them.
 */
function swapRules(swaps: readonly SwapRecord[]): Layer {
  const n = swaps.length;
  return {
    data: { values: swaps.map((s) => ({ t: s.issuedMs / 1000, swap: s.index })) },
    mark: {
      type: 'rule',
      aria: false,
      color: '#8a8a8a',
      strokeWidth: n > 200 ? 0.5 : 1,
      // Few swaps: dashed, so a rule stays visible where a line jumps at the same time.
      ...(n <= 20 ? { strokeDash: [4, 3] } : {}),
      opacity: n <= 20 ? 0.6 : Math.max(0.05, Math.min(0.4, 12 / n)),
    },
    encoding: { x: { field: 't', type: 'quantitative' } },
  };
}

function swapNote(swaps: readonly SwapRecord[]): string {
  if (swaps.length === 0) return 'no swaps';
  return `grey rules: the ${swaps.length === 1 ? 'swap' : `${swaps.length} swaps`} (when issued)`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** (a) Packets each node received per second over the run, binned, with the swaps marked. */
export function packetsPlot(r: ExperimentResults): Plot {
  const name = 'packets';
  const title = 'Packets received per node';
  const nodes = Object.entries(r.series.nodes).filter(([, counts]) => counts.length > 0);
  if (nodes.length === 0) return { name, title, omitted: 'no per-node packet series recorded' };
  const longest = maxOf(nodes.map(([, c]) => c.length));
  // Merge whole intervals so no line has more than MAX_BINS points; the rate stays exact.
  const factor = Math.ceil(longest / MAX_BINS);
  const binMs = factor * r.series.intervalMs;
  const values: { node: string; t: number; rate: number }[] = [];
  for (const [node, counts] of nodes) {
    for (let start = 0; start < counts.length; start += factor) {
      const chunk = counts.slice(start, start + factor);
      const sum = chunk.reduce((a, b) => a + b, 0);
      const seconds = (chunk.length * r.series.intervalMs) / 1000;
      values.push({ node, t: (start * r.series.intervalMs) / 1000, rate: sum / seconds });
    }
  }
  const spec: TopLevelSpec = {
    ...base(title, `${formatMs(binMs)} bins; ${swapNote(r.swaps)}`),
    layer: [
      ...(r.swaps.length > 0 ? [swapRules(r.swaps)] : []),
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

/** (b) Histogram of migration gaps: last packet at the old server to first at the new one. */
/** The flow's TCP connections per server over time: draining on a former server, or moving. */
export function tcpPlot(r: ExperimentResults): Plot {
  const name = 'tcp-connections';
  const title = 'TCP connections per server';
  const samples = r.tcpConnections ?? [];
  if (samples.length === 0) return { name, title, omitted: 'no TCP traffic in this run' };
  const values = samples.flatMap((s) =>
    Object.entries(s.perNode).map(([node, n]) => ({ node, t: s.tMs / 1000, n })),
  );
  const spec: TopLevelSpec = {
    ...base(
      title,
      `the flow's connections as the translator tracks them, by the server each is translated to; ${swapNote(r.swaps)}`,
    ),
    layer: [
      ...(r.swaps.length > 0 ? [swapRules(r.swaps)] : []),
      {
        data: { values },
        mark: {
          type: 'line',
          interpolate: 'step-after',
          strokeWidth: 1.5,
          clip: true,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time since start (s)' },
          y: {
            field: 'n',
            type: 'quantitative',
            title: 'TCP connections',
            scale: { domain: [0, Math.max(1, maxOf(values.map((v) => v.n))) + 0.5] },
            axis: { tickMinStep: 1 },
          },
          color: { field: 'node', type: 'nominal', title: 'server' },
        },
      },
    ],
  };
  return { name, title, spec };
}

export function gapPlot(r: ExperimentResults): Plot {
  const name = 'gaps';
  const title = 'Migration gap per swap';
  if (r.swaps.length === 0) return { name, title, omitted: 'no swaps recorded' };
  const gaps = r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]));
  if (gaps.length === 0) return { name, title, omitted: 'no migration gaps measured' };
  const overlaps = gaps.filter((g) => g <= 0).length;
  const subtitle =
    `${gaps.length} of ${r.swaps.length} swaps measured; ` +
    `${overlaps} overlapped (gap ≤ 0: the new server got packets before the old one's last)`;
  const spec: TopLevelSpec = {
    ...base(title, subtitle),
    data: { values: gaps.map((gap) => ({ gap })) },
    mark: { type: 'bar', color: '#4c78a8', binSpacing: 0.5, aria: false },
    encoding: {
      x: {
        field: 'gap',
        type: 'quantitative',
        bin: { maxbins: 50 },
        title: 'gap: last packet at old server → first at new server (ms)',
      },
      y: { aggregate: 'count', type: 'quantitative', title: 'swaps (count)' },
    },
  };
  return { name, title, spec };
}

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

/** (c) ECDF of the control-path latency of the swaps: total, rule commit, conntrack cleanup. */
export function latencyPlot(r: ExperimentResults): Plot {
  const name = 'swap-latency';
  const title = 'Swap control latency (ECDF)';
  if (r.swaps.length === 0) return { name, title, omitted: 'no swaps recorded' };
  const steps = ['total', 'rule', 'conntrack'] as const;
  const values = steps.flatMap((step) =>
    ecdf(r.swaps.map((s) => s.controlMs[step])).map(([ms, fraction]) => ({
      step: STEP_LABELS[step],
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
    ...base(
      title,
      `${r.swaps.length} swaps; time the controller spent on each step${log ? ' (log scale)' : ''}`,
    ),
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5, aria: false },
    encoding: {
      x: {
        field: 'ms',
        type: 'quantitative',
        title: 'control latency (ms)',
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
        title: 'step',
        scale: { domain: steps.map((s) => STEP_LABELS[s]) },
      },
    },
  };
  return { name, title, spec };
}

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
    ...base(title, `${sampled}${log ? ' (log scale)' : ''}; ${swapNote(r.swaps)}`),
    layer: [
      ...(r.swaps.length > 0 ? [swapRules(r.swaps)] : []),
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
        title: 'swap (index)',
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

/** Every plot of the report, in order: drawn ones with their spec, left-out ones with why. */
export function planPlots(r: ExperimentResults): Plot[] {
  return [packetsPlot(r), gapPlot(r), latencyPlot(r), rttPlot(r), udpPlot(r), tcpPlot(r)];
}
