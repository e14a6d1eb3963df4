// Live packet rates: a uPlot chart with one series per node over the last 60 s (at most RATES_KEPT
// samples, older ones dropped as new ones come), a vertical mark at each migration, and each
// node's current rate as a number. Samples come every 100 ms; the chart is redrawn at the page's
// redraw tick (dom.ts), so a burst of events (many migrations a second, a reconnect) costs one draw.
import uPlot from 'uplot';
import { LOG_KEPT, RATES_KEPT, type RateSample } from '../../src/daemon-api/live.js';
import { colour, el, pps, redraw } from './dom.js';

/** The chart's window. */
const WINDOW_MS = 60_000;
const HEIGHT = 240;

export class Rates {
  private nodes: readonly string[] = [];
  private samples: RateSample[] = [];
  /** Migration times (epoch ms) inside the window, oldest first. */
  private marks: number[] = [];
  private chart: uPlot | undefined;
  private readonly numbers = new Map<string, HTMLElement>();

  constructor(
    private readonly chartRoot: HTMLElement,
    private readonly numbersRoot: HTMLElement,
  ) {
    new ResizeObserver(() => this.chart?.setSize(this.size())).observe(chartRoot);
  }

  /** Starts over with a snapshot's nodes, samples and migrations. */
  reset(nodes: readonly string[], samples: readonly RateSample[], marks: readonly number[]): void {
    this.nodes = nodes;
    this.samples = [];
    this.marks = [];
    for (const s of samples) this.keep(s);
    for (const m of marks) this.mark(m);
    this.chart?.destroy();
    this.chart = new uPlot(this.options(), this.data(), this.chartRoot);
    this.numbers.clear();
    this.numbersRoot.replaceChildren(
      ...nodes.map((n, i) => {
        const value = el('span', { class: 'value', 'data-testid': `rate-${n}` }, '0');
        this.numbers.set(n, value);
        const swatch = el('span', { class: 'swatch' });
        // Set through the CSSOM, which a CSP without 'unsafe-inline' allows (a style attribute not).
        swatch.style.background = colour(i);
        return el(
          'div',
          { class: 'rate' },
          swatch,
          el('span', { class: 'node' }, n),
          value,
          ' pps',
        );
      }),
    );
    this.schedule();
  }

  add(sample: RateSample): void {
    this.keep(sample);
    this.schedule();
  }

  /** A migration at `at` (epoch ms): a mark on the chart while it is inside the window. */
  mark(at: number): void {
    if (!Number.isFinite(at)) return;
    this.marks.push(at);
    if (this.marks.length > LOG_KEPT) this.marks.splice(0, this.marks.length - LOG_KEPT);
    this.schedule();
  }

  private keep(sample: RateSample): void {
    const last = this.samples[this.samples.length - 1];
    // A sample older than the newest (a reconnect's snapshot overlapping its events) is dropped:
    // uPlot needs its x values in order.
    if (last !== undefined && sample.t <= last.t) return;
    this.samples.push(sample);
    const from = sample.t - WINDOW_MS;
    let drop = Math.max(0, this.samples.length - RATES_KEPT);
    while (drop < this.samples.length && (this.samples[drop]?.t ?? 0) < from) drop++;
    if (drop > 0) this.samples.splice(0, drop);
  }

  /** Redraws at the page's next tick (at most once per REDRAW_MS), however many events come. */
  private readonly draw = () => this.flush();
  private schedule(): void {
    redraw(this.draw);
  }

  private flush(): void {
    const first = this.samples[0]?.t ?? Number.POSITIVE_INFINITY;
    const old = this.marks.findIndex((m) => m >= first);
    if (old !== 0) this.marks.splice(0, old < 0 ? this.marks.length : old);
    const data = this.data();
    this.chart?.setData(data);
    this.chartRoot.dataset.points = String(data[0].length);
    this.chartRoot.dataset.marks = String(this.marks.length);
    const newest = this.samples[this.samples.length - 1];
    this.chartRoot.dataset.last = newest === undefined ? '' : String(newest.t);
    for (const [node, e] of this.numbers) {
      const text = pps(newest?.pps[node] ?? 0);
      if (e.textContent !== text) e.textContent = text;
    }
  }

  private data(): uPlot.AlignedData {
    // uPlot's time scale counts seconds.
    const xs = this.samples.map((s) => s.t / 1000);
    const ys = this.nodes.map((n) => this.samples.map((s) => s.pps[n] ?? null));
    return [xs, ...ys];
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(300, this.chartRoot.clientWidth), height: HEIGHT };
  }

  private options(): uPlot.Options {
    return {
      ...this.size(),
      series: [
        {},
        ...this.nodes.map((n, i) => ({
          label: n,
          stroke: colour(i),
          width: 1.5,
          points: { show: false },
        })),
      ],
      scales: {
        // The window scrolls with the newest sample, whatever the samples' spread.
        x: { time: true, range: () => this.window() },
        y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] },
      },
      axes: [{}, { label: 'packets/s', size: 60 }],
      legend: { show: false },
      cursor: { show: true, drag: { x: false, y: false } },
      hooks: { draw: [(u) => this.drawMarks(u)] },
    };
  }

  /** The last 60 s up to the newest sample; before any sample, up to now. */
  private window(): [number, number] {
    const end = (this.samples[this.samples.length - 1]?.t ?? Date.now()) / 1000;
    return [end - WINDOW_MS / 1000, end];
  }

  /** Vertical lines at the migrations' times, on the plotting area. */
  private drawMarks(u: uPlot): void {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#b35900';
    ctx.lineWidth = Math.max(1, devicePixelRatio);
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    // One line per pixel column: migrations many times a second fall on the same few pixels.
    let drawn = Number.NaN;
    for (const m of this.marks) {
      const x = Math.round(u.valToPos(m / 1000, 'x', true));
      if (x < bbox.left || x > bbox.left + bbox.width || x === drawn) continue;
      drawn = x;
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
    }
    ctx.stroke();
    ctx.restore();
  }
}
