// What every plot of the report shares: the Plot type, the frame (size, fonts, title) and the
// swaps drawn on a whole-run time axis (rules, or one band when they crowd it).
import type { Config, TopLevelSpec } from 'vega-lite';
import type { SwapRecord } from '../../results/schema.js';

/** A plot to draw, or one left out because the run gave it no data (`omitted` says why). */
export type Plot =
  | { readonly name: string; readonly title: string; readonly spec: TopLevelSpec }
  | { readonly name: string; readonly title: string; readonly omitted: string };

export type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

export const WIDTH = 680;
const HEIGHT = 240;

/** Largest and smallest value, without spreading (thousands of swaps would overflow the stack). */
export const maxOf = (xs: readonly number[]) => xs.reduce((a, b) => Math.max(a, b), -Infinity);
export const minOf = (xs: readonly number[]) => xs.reduce((a, b) => Math.min(a, b), Infinity);

/**
 * Swaps closer than this many pixels on a whole-run axis are drawn as one band, not rules, and
 * the counters' bins are widened to several swaps: between two rules 15 px apart a 10 ms bin per
 * server zigzags into a band (the window plot shows single swaps).
 */
const MIN_SWAP_PX = 15;

/** The frame of every plot; a subtitle of several lines is an array (one line per element). */
export function base(title: string, subtitle: string | string[]) {
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
export function swapPeriod(swaps: readonly SwapRecord[]): number | undefined {
  const d = swaps
    .slice(1)
    .map((s, i) => s.issuedMs - (swaps[i]?.issuedMs ?? s.issuedMs))
    .sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)] : undefined;
}

/** Whether the swaps crowd a whole-run axis of `durationMs`: closer than MIN_SWAP_PX pixels. */
export function crowded(swaps: readonly SwapRecord[], durationMs: number): boolean {
  const period = swapPeriod(swaps);
  return period !== undefined && durationMs > 0 && (WIDTH * period) / durationMs < MIN_SWAP_PX;
}

/**
 * Swap markers on a time axis in `unit` (s or ms from the start): a thin rule at each swap, or,
 * when they crowd the axis, one grey band from the first to the last (a rule per swap would be a
 * grey wall hiding the data).
 */
export function swapMarks(
  swaps: readonly SwapRecord[],
  durationMs: number,
  unit: 's' | 'ms',
): Layer[] {
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

export function swapNote(swaps: readonly SwapRecord[], durationMs: number): string {
  if (swaps.length === 0) return 'no swaps';
  if (crowded(swaps, durationMs)) {
    const period = swapPeriod(swaps) ?? 0;
    return `grey band: the ${swaps.length} swaps, one every ~${formatPeriod(Math.round(period))}`;
  }
  return `grey rules: the ${swaps.length === 1 ? 'swap' : `${swaps.length} swaps`} (when issued)`;
}

/** A bin width or period in ms, as "20 ms" or "1.5 s". */
export function formatPeriod(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

/** A number of ms in at most three significant digits, for subtitles ("3.5 ms", "0.0132 ms"). */
export function shortMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}
