// Turns experiment results into vega-lite specs, one per plot, or the reason a plot is left out.
import type { Config, TopLevelSpec } from 'vega-lite';
import type { ExperimentResults, SwapRecord } from '../results/schema.js';
import { SWAP_TIMES, type SwapTime } from '../results/stats.js';

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

/**
 * Swaps closer than this many pixels on a whole-run axis are drawn as one band, not rules, and
 * the counters' bins are widened to several swaps: between two rules 15 px apart a 10 ms bin per
 * server zigzags into a band (the window plot shows single swaps).
 */
const MIN_SWAP_PX = 15;
/** A TCP plot draws at most this many moves of the migration log (each then gets ≥ 15 px). */
const MAX_TCP_MOVES = 40;
const UDP_MEASURES = ['lost', 'duplicated', 'reordered'] as const;

/** The frame of every plot; a subtitle of several lines is an array (one line per element). */
function base(title: string, subtitle: string | string[]) {
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
      legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 320 },
      title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555' },
      view: { stroke: '#ccc' },
    },
  } satisfies Partial<TopLevelSpec> & { config: Config };
}

/** The swaps' median period (ms), or undefined with fewer than two swaps. */
function swapPeriod(swaps: readonly SwapRecord[]): number | undefined {
  const d = swaps
    .slice(1)
    .map((s, i) => s.issuedMs - (swaps[i]?.issuedMs ?? s.issuedMs))
    .sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)] : undefined;
}

/** Whether the swaps crowd a whole-run axis of `durationMs`: closer than MIN_SWAP_PX pixels. */
function crowded(swaps: readonly SwapRecord[], durationMs: number): boolean {
  const period = swapPeriod(swaps);
  return period !== undefined && durationMs > 0 && (WIDTH * period) / durationMs < MIN_SWAP_PX;
}

/**
 * Swap markers on a time axis in `unit` (s or ms from the start): a thin rule at each swap, or,
 * when they crowd the axis, one grey band from the first to the last (a rule per swap would be a
 * grey wall hiding the data).
 */
function swapMarks(swaps: readonly SwapRecord[], durationMs: number, unit: 's' | 'ms'): Layer[] {
  if (swaps.length === 0) return [];
  const t = (ms: number) => (unit === 's' ? ms / 1000 : ms);
  if (crowded(swaps, durationMs)) {
    const first = swaps[0]?.issuedMs ?? 0;
    const last = swaps[swaps.length - 1]?.issuedMs ?? 0;
    return [
      {
        data: { values: [{ from: t(first), to: t(last) }] },
        mark: { type: 'rect', color: '#8a8a8a', opacity: 0.15, aria: false },
        encoding: {
          x: { field: 'from', type: 'quantitative' },
          x2: { field: 'to' },
        },
      },
    ];
  }
  const n = swaps.length;
  return [
    {
      data: { values: swaps.map((s) => ({ t: t(s.issuedMs), swap: s.index })) },
      mark: {
        type: 'rule',
        aria: false,
        color: '#8a8a8a',
        strokeWidth: 1,
        // Few swaps: dashed, so a rule stays visible where a line jumps at the same time.
        ...(n <= 20 ? { strokeDash: [4, 3] } : {}),
        opacity: n <= 20 ? 0.6 : 0.4,
      },
      encoding: { x: { field: 't', type: 'quantitative' } },
    },
  ];
}

function swapNote(swaps: readonly SwapRecord[], durationMs: number): string {
  if (swaps.length === 0) return 'no swaps';
  if (crowded(swaps, durationMs)) {
    const period = swapPeriod(swaps) ?? 0;
    return `grey band: the ${swaps.length} swaps, one every ~${formatMs(Math.round(period))}`;
  }
  return `grey rules: the ${swaps.length === 1 ? 'swap' : `${swaps.length} swaps`} (when issued)`;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A number of ms in at most three significant digits, for subtitles ("3.5 ms", "0.0132 ms"). */
function shortMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}

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
    ...base(title, `${formatMs(binMs)} bins (kernel counters); ${swapNote(r.swaps, r.durationMs)}`),
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

/**
 * The flow's TCP connections per server over time: draining on a former server, or moving. With
 * `tcp: migrate` the migration log says when each move happened, so the lines are drawn from it
 * (the conntrack samples, a few per second, would miss most moves of swaps every 20 ms); the
 * samples are drawn as dots. Many moves: the first MAX_TCP_MOVES of them, so each can be seen.
 */
export function tcpPlot(r: ExperimentResults): Plot {
  const name = 'tcp-connections';
  const title = 'TCP connections per server';
  const samples = r.tcpConnections ?? [];
  if (samples.length === 0) return { name, title, omitted: 'no TCP traffic in this run' };
  const sampled = samples.flatMap((s) =>
    Object.entries(s.perNode).map(([node, n]) => ({ node, t: s.tMs / 1000, n })),
  );
  const moves = r.swaps.filter((s) => (s.tcp?.moved ?? 0) > 0);
  const top = Math.max(1, maxOf(sampled.map((v) => v.n)));
  const y = {
    field: 'n',
    type: 'quantitative' as const,
    title: 'TCP connections (count)',
    scale: { domain: [0, top + 0.5] },
    axis: { tickMinStep: 1 },
  };
  const color = { field: 'node', type: 'nominal' as const, title: 'server' };
  if (moves.length === 0) {
    const spec: TopLevelSpec = {
      ...base(
        title,
        `the flow's connections as the translator tracks them (conntrack, sampled), by the server each is translated to; ${swapNote(r.swaps, r.durationMs)}`,
      ),
      layer: [
        ...swapMarks(r.swaps, r.durationMs, 's'),
        {
          data: { values: sampled },
          mark: {
            type: 'line',
            interpolate: 'step-after',
            strokeWidth: 1.5,
            clip: true,
            aria: false,
          },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'time since start (s)' },
            y,
            color,
          },
        },
      ],
    };
    return { name, title, spec };
  }
  // Connections per server as the last sample before the first move saw them, then moved at each
  // swap of the log.
  const shown = moves.slice(0, MAX_TCP_MOVES);
  const windowed = moves.length > MAX_TCP_MOVES;
  const period = swapPeriod(shown) ?? 100;
  const firstMove = shown[0]?.issuedMs ?? 0;
  const fromMs = windowed ? Math.max(0, firstMove - period) : 0;
  const toMs = windowed ? (shown[shown.length - 1]?.issuedMs ?? 0) + period / 2 : r.durationMs;
  const anchor = samples.filter((s) => s.tMs <= firstMove).at(-1) ?? samples[0];
  const count: Record<string, number> = { ...(anchor?.perNode ?? {}) };
  const servers = Object.keys(count);
  const logged: { node: string; t: number; n: number }[] = servers.map((node) => ({
    node,
    t: fromMs / 1000,
    n: count[node] ?? 0,
  }));
  for (const m of shown) {
    const moved = m.tcp?.moved ?? 0;
    count[m.from] = Math.max(0, (count[m.from] ?? 0) - moved);
    count[m.to] = (count[m.to] ?? 0) + moved;
    for (const node of servers) logged.push({ node, t: m.issuedMs / 1000, n: count[node] ?? 0 });
  }
  for (const node of servers) logged.push({ node, t: toMs / 1000, n: count[node] ?? 0 });
  // A sample is a dot where it saw connections, on top of that server's band.
  const inView = sampled.filter((v) => v.n > 0 && v.t >= fromMs / 1000 && v.t <= toMs / 1000);
  const which =
    moves.length > MAX_TCP_MOVES
      ? `the first ${shown.length} of ${moves.length} moves (all in results.json)`
      : `all ${moves.length} moves`;
  const spec: TopLevelSpec = {
    ...base(title, [
      `bands: the connections on each server (stacked), ${which}, from the migration log`,
      'dots: what the conntrack samples of the translator saw, a few per second',
    ]),
    layer: [
      {
        data: { values: logged },
        // Stacked bands, not lines: one server's 1 and the other's 0 would be drawn on each other.
        mark: { type: 'area', interpolate: 'step-after', opacity: 0.85, clip: true, aria: false },
        encoding: {
          x: {
            field: 't',
            type: 'quantitative',
            title: 'time since start (s)',
            scale: { domain: [fromMs / 1000, toMs / 1000], nice: false, zero: false },
          },
          y,
          color,
        },
      },
      {
        data: { values: inView },
        mark: {
          type: 'point',
          filled: true,
          size: 40,
          stroke: 'black',
          strokeWidth: 0.8,
          clip: true,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative' },
          y: { field: 'n', type: 'quantitative' },
          color,
        },
      },
    ],
  };
  return { name, title, spec };
}

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

/** (c) ECDF of each time of a swap, under the names every reader uses (SWAP_TIMES). */
export function latencyPlot(r: ExperimentResults): Plot {
  const name = 'swap-latency';
  const title = 'Swap times (ECDF)';
  if (r.swaps.length === 0) return { name, title, omitted: 'no swaps recorded' };
  const steps: SwapTime[] = ['total', 'wait', 'rule', 'conntrack', 'apply'];
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
      `"${SWAP_TIMES.apply}": what the controller timed itself, from the rule change starting to its answer`,
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

/** Every plot of the report, in order: drawn ones with their spec, left-out ones with why. */
export function planPlots(r: ExperimentResults): Plot[] {
  return [
    packetsPlot(r),
    packetsWindowPlot(r),
    gapPlot(r),
    latencyPlot(r),
    rttPlot(r),
    udpPlot(r),
    tcpPlot(r),
  ];
}
