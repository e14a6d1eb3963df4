// Small DOM helpers for the dashboard: elements built from a tag, attributes and children, and the
// formats the panels share. No innerHTML anywhere: every string the daemon sends goes in as text.

type Child = Node | string | undefined;

function fill<E extends Element>(
  e: E,
  attrs: Record<string, string | undefined>,
  kids: Child[],
): E {
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const k of kids) if (k !== undefined) e.append(k);
  return e;
}

/** An HTML element. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...kids: Child[]
): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), attrs, kids);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element (SVG needs its namespace: createElement would make an unknown HTML element). */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...kids: Child[]
): SVGElementTagNameMap[K] {
  return fill(document.createElementNS(SVG_NS, tag), attrs, kids);
}

/** The element with this id; the page's markup is fixed, so a missing one is a bug. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`dashboard: no element #${id}`);
  return e as T;
}

/** A time of day with milliseconds (local time): the log is read to the millisecond. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Milliseconds as the log shows them; '–' when not known. */
export function ms(v: number | undefined): string {
  if (v === undefined) return '–';
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** A rate as text: one decimal below 10 pps, whole numbers above. */
export function pps(v: number): string {
  return v < 10 ? String(Math.round(v * 10) / 10) : String(Math.round(v));
}

/** A colour per node, the same in the chart and the topology (index in the snapshot's nodes). */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b'];
export function colour(index: number): string {
  return PALETTE[index % PALETTE.length] ?? '#555';
}

/** Replaces a select's options, keeping its choice when it is still offered. */
export function setOptions(
  select: HTMLSelectElement,
  options: readonly { value: string; label: string }[],
): void {
  const same =
    select.options.length === options.length &&
    options.every((o, i) => {
      const have = select.options[i];
      return have?.value === o.value && have.textContent === o.label;
    });
  if (same) return;
  const kept = select.value;
  select.replaceChildren(...options.map((o) => el('option', { value: o.value }, o.label)));
  if (options.some((o) => o.value === kept)) select.value = kept;
}

/** How often the page redraws at most: each rate sample's period, well inside the second a move may take to show. */
export const REDRAW_MS = 100;

const due = new Set<() => void>();
let tick: number | undefined;
let lastTick = Number.NEGATIVE_INFINITY;

/**
 * Runs `draw` at the page's next redraw tick, at most one per REDRAW_MS, with every other panel's
 * due draw: a burst of events (80 migrations a second, a reconnect) costs one style, layout and
 * paint per tick instead of one per event and panel. Pass the same function each time: a draw
 * already due is not run twice.
 */
export function redraw(draw: () => void): void {
  due.add(draw);
  if (tick !== undefined) return;
  const wait = Math.max(0, lastTick + REDRAW_MS - performance.now());
  tick = window.setTimeout(() => {
    tick = undefined;
    lastTick = performance.now();
    const draws = [...due];
    due.clear();
    for (const d of draws) d();
  }, wait);
}
