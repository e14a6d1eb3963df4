// `flowmig bench swap --dashboard`'s figures: the order of its phases, the quiet and loaded
// distributions, their ratios and the target's verdict, and the text the terminal shows.
import { distribution } from '../results/stats.js';
import { columns } from './api-render.js';

/** quiet: the daemon alone; loaded: the dashboard streaming in Chromium and Prometheus scraping. */
export type PhaseKind = 'quiet' | 'loaded';

/** The most the loaded p50 may be, as a multiple of the quiet one (issue 14: within 10 %). */
export const P50_RATIO_LIMIT = 1.1;

/**
 * Quiet, loaded, quiet, loaded, ...: `pairs` of each, alternating, so a drift of the machine over
 * the run (another process, the CPU's clock) falls on both kinds alike.
 */
export function phasePlan(pairs: number): PhaseKind[] {
  if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`pairs must be ≥ 1: ${pairs}`);
  return Array.from({ length: pairs * 2 }, (_, i) => (i % 2 === 0 ? 'quiet' : 'loaded'));
}

/** What the loaded side did during one loaded phase, checked after it. */
export interface LoadedCheck {
  /** Scrapes of the daemon by Prometheus while the phase ran (its `up` series). */
  readonly scrapes: number;
  /** sum(flowmig_migrations_total) as Prometheus read it after the phase. */
  readonly migrations_total: number;
  /** Seconds of rate samples the page drew during the phase (its chart's newest sample moved). */
  readonly page_streamed_s: number;
  /** The page's connection state after the phase ('connected'). */
  readonly page_connection: string;
}

export interface PhaseResult {
  readonly index: number;
  readonly kind: PhaseKind;
  readonly samples: number;
  readonly seconds: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  /** The daemon's CPU time over the swaps, in % of one CPU. */
  readonly daemon_cpu_pct: number;
  /** Chromium's CPU time over the swaps (all its processes; 0 when quiet), in % of one CPU. */
  readonly browser_cpu_pct: number;
  /** Prometheus's CPU time over the swaps (0 when quiet), in % of one CPU. */
  readonly prometheus_cpu_pct: number;
  /** All CPUs busy over the swaps, in % of all of them (the machine taken by anything). */
  readonly machine_busy_pct: number;
  readonly loaded?: LoadedCheck;
}

export interface KindSummary {
  readonly phases: number;
  readonly samples: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
}

export interface DashboardTarget {
  readonly name: string;
  readonly limit: number;
  readonly ratio: number;
  readonly met: boolean;
}

export interface DashboardSummary {
  readonly quiet: KindSummary;
  readonly loaded: KindSummary;
  /** loaded / quiet, of the p50 and the p99 over all samples of each kind. */
  readonly ratio_p50: number;
  readonly ratio_p99: number;
  /** loaded p50 / quiet p50 pair by pair (each loaded phase against the quiet one before it). */
  readonly pair_ratios_p50: readonly number[];
  readonly target: DashboardTarget;
}

/** A ratio, or NaN when the base is 0 (no samples: not a figure to compare). */
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);

function summary(samples: readonly (readonly number[])[]): KindSummary {
  const d = distribution(samples.flat());
  return { phases: samples.length, samples: d.count, p50_ms: d.p50, p99_ms: d.p99, max_ms: d.max };
}

/**
 * The figures of a run from each phase's latencies (in plan order): each kind's distribution over
 * all its samples, the ratios, and whether the p50 ratio is within the limit.
 */
export function summarize(
  phases: readonly { readonly kind: PhaseKind; readonly ms: readonly number[] }[],
  limit = P50_RATIO_LIMIT,
): DashboardSummary {
  const of = (k: PhaseKind) => phases.filter((p) => p.kind === k).map((p) => p.ms);
  const quiet = summary(of('quiet'));
  const loaded = summary(of('loaded'));
  const pairs: number[] = [];
  phases.forEach((p, i) => {
    const before = phases[i - 1];
    if (p.kind === 'loaded' && before?.kind === 'quiet')
      pairs.push(ratio(distribution(p.ms).p50, distribution(before.ms).p50));
  });
  const r50 = ratio(loaded.p50_ms, quiet.p50_ms);
  return {
    quiet,
    loaded,
    ratio_p50: r50,
    ratio_p99: ratio(loaded.p99_ms, quiet.p99_ms),
    pair_ratios_p50: pairs,
    target: {
      name: 'p50 with the dashboard streaming and Prometheus scraping / p50 without',
      limit,
      ratio: r50,
      // NaN (no samples) is never met.
      met: r50 <= limit,
    },
  };
}

export interface DashboardBenchResult extends DashboardSummary {
  readonly lab: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly cpus: number;
  readonly load: { readonly atStart: readonly number[]; readonly atEnd: readonly number[] };
  /** Swaps per phase, and the pause between two swaps. */
  readonly samples: number;
  /** The daemon's traffic load that ran through every phase. */
  readonly loadKind: string;
  /** What watched the dashboard when loaded: 'chromium' (the page) or 'stream' (a reader). */
  readonly viewer: string;
  readonly gapMs: number;
  readonly phases: readonly PhaseResult[];
  readonly notes: readonly string[];
}

const ms = (v: number) => v.toFixed(v < 10 ? 3 : 1);
const x = (v: number) => (Number.isNaN(v) ? '-' : `${v.toFixed(3)}×`);

export function renderDashboardBench(r: DashboardBenchResult): string {
  const loads = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  const phases = [
    [
      'PHASE',
      'KIND',
      'SWAPS',
      'SECONDS',
      'P50 ms',
      'P99 ms',
      'MAX ms',
      'DAEMON CPU %',
      'VIEWER %',
      'PROM %',
      'MACHINE %',
      'SCRAPES',
      'PAGE s',
    ],
    ...r.phases.map((p) => [
      String(p.index + 1),
      p.kind,
      String(p.samples),
      p.seconds.toFixed(1),
      ms(p.p50_ms),
      ms(p.p99_ms),
      ms(p.max_ms),
      p.daemon_cpu_pct.toFixed(1),
      p.browser_cpu_pct.toFixed(1),
      p.prometheus_cpu_pct.toFixed(1),
      p.machine_busy_pct.toFixed(0),
      p.loaded ? String(p.loaded.scrapes) : '-',
      p.loaded ? p.loaded.page_streamed_s.toFixed(1) : '-',
    ]),
  ];
  const kinds = [
    ['', 'PHASES', 'SWAPS', 'P50 ms', 'P99 ms', 'MAX ms'],
    ...(['quiet', 'loaded'] as const).map((k) => [
      k,
      String(r[k].phases),
      String(r[k].samples),
      ms(r[k].p50_ms),
      ms(r[k].p99_ms),
      ms(r[k].max_ms),
    ]),
  ];
  const t = r.target;
  return [
    `swap latency through lab ${r.lab}'s daemon (a ${r.loadKind} load from A throughout), quiet and with ${r.viewer === 'chromium' ? 'the dashboard streaming in Chromium' : 'the event stream read (no browser)'} and Prometheus scraping`,
    `run ${r.startedAt} → ${r.endedAt}; ${r.cpus} CPUs; load average ${loads(r.load.atStart)} at the start, ${loads(r.load.atEnd)} at the end`,
    '',
    columns(phases),
    '',
    columns(kinds),
    '',
    `loaded / quiet: p50 ${x(r.ratio_p50)}, p99 ${x(r.ratio_p99)}; p50 pair by pair: ${r.pair_ratios_p50.map(x).join(' ')}`,
    `target: ${t.name} ≤ ${t.limit.toFixed(2)}: ${x(t.ratio)} (${t.met ? 'met' : 'not met'})`,
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
