// Small statistics over samples (percentiles and mean), and a swap's times under their names.
import type { SwapRecord } from './schema.js';

export interface Distribution {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of sorted samples. */
function rank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? 0,
    p50: rank(sorted, 50),
    p99: rank(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length ? sum / sorted.length : 0,
  };
}

/**
 * A swap's times, each under the one name the terminal, the report and the results use. `total`
 * runs from the swap being issued to the old server's conntrack entries deleted: it holds `wait`
 * (the controller taking the lab's lock, reading its state, planning, and the issuing process
 * getting a CPU; with `tcp: migrate` also the connections' prepare, hold and checkpoint), `rule`
 * and `conntrack`. `apply` is what the controller timed itself: from the
 * rule change starting to its answer.
 */
export const SWAP_TIMES = {
  total: 'swap issued → flow moved',
  wait: 'waiting before the rule',
  rule: 'rule commit',
  conntrack: 'conntrack cleanup',
  apply: 'controller apply',
} as const;

export type SwapTime = keyof typeof SWAP_TIMES;
export type SwapTimeNames = { readonly [K in SwapTime]: string };

/**
 * The same times on a cluster lab: `rule` is the change's etcd transaction (from the host daemon
 * taking the call to its commit), `conntrack` the commit until every live translator applied it
 * (rule and conntrack entries on each host), `apply` their sum as the host daemon answered.
 */
export const CLUSTER_SWAP_TIMES: SwapTimeNames = {
  total: 'swap issued → applied on every host',
  wait: 'waiting before the commit',
  rule: 'etcd commit',
  conntrack: 'commit → applied on every host',
  apply: 'host daemon answer',
};

/** The names for a lab's results: a cluster lab's nodes name their hosts. */
export function swapTimeNames(lab: { readonly nodes: readonly { readonly host?: string }[] }) {
  return lab.nodes.some((n) => n.host !== undefined) ? CLUSTER_SWAP_TIMES : SWAP_TIMES;
}

/** The times of many swaps, summarised: the results' fields (`controlMs.*`, `applyMs`). */
export interface SwapTimes {
  readonly controlMs: {
    readonly wait: Distribution;
    readonly rule: Distribution;
    readonly conntrack: Distribution;
    readonly total: Distribution;
  };
  readonly applyMs: Distribution;
}

export function swapTimes(swaps: readonly SwapRecord[]): SwapTimes {
  const of = (pick: (s: SwapRecord) => number) => distribution(swaps.map(pick));
  return {
    controlMs: {
      wait: of((s) => s.controlMs.wait),
      rule: of((s) => s.controlMs.rule),
      conntrack: of((s) => s.controlMs.conntrack),
      total: of((s) => s.controlMs.total),
    },
    applyMs: of((s) => s.applyMs),
  };
}

/** One summarised time by its name. */
export function swapTime(t: SwapTimes, name: SwapTime): Distribution {
  return name === 'apply' ? t.applyMs : t.controlMs[name];
}

/** Milliseconds with the precision that matters at their size. */
export function formatMs(x: number): string {
  const a = Math.abs(x);
  const digits = a === 0 ? 0 : a < 1 ? 3 : a < 100 ? 2 : a < 10_000 ? 1 : 0;
  return `${x.toFixed(digits)} ms`;
}

/** "p50 / p99 / max" of a distribution, each with its unit. */
export function formatP50P99Max(d: Distribution): string {
  return `${formatMs(d.p50)} / ${formatMs(d.p99)} / ${formatMs(d.max)}`;
}

/**
 * The swap-time rows every reader prints, in order, as [label, value]: the parts of `total` are
 * indented under it. The same labels and the same formatting in the terminal and the report.
 */
export function swapTimeRows(t: SwapTimes, names: SwapTimeNames = SWAP_TIMES): [string, string][] {
  const row = (name: SwapTime, indent = '') =>
    [`${indent}${names[name]} p50 / p99 / max`, formatP50P99Max(swapTime(t, name))] as [
      string,
      string,
    ];
  return [row('total'), row('wait', '  '), row('rule', '  '), row('conntrack', '  '), row('apply')];
}

/** What the swap times mean, in one line each (printed under them). */
export function swapTimeNotes(names: SwapTimeNames): readonly string[] {
  return names === CLUSTER_SWAP_TIMES ? CLUSTER_SWAP_TIME_NOTES : SWAP_TIME_NOTES;
}

const CLUSTER_SWAP_TIME_NOTES = [
  `${CLUSTER_SWAP_TIMES.total}: from the runner issuing the swap to every live host daemon having applied it (${CLUSTER_SWAP_TIMES.rule} + ${CLUSTER_SWAP_TIMES.conntrack}; ${CLUSTER_SWAP_TIMES.wait}: the call reaching a host daemon)`,
  `${CLUSTER_SWAP_TIMES.rule}: the flow's compare-and-swap transaction in etcd, from the host daemon taking the call; ${CLUSTER_SWAP_TIMES.conntrack}: the watch delivering it and each host applying it (NAT rule, the flow's conntrack entries, routes) until the last live one acknowledged`,
  `${CLUSTER_SWAP_TIMES.apply}: what the host daemon timed itself, from the call to its answer`,
] as const;

export const SWAP_TIME_NOTES = [
  `${SWAP_TIMES.total}: from the runner issuing the swap to the old server's conntrack entries deleted (${SWAP_TIMES.wait} + ${SWAP_TIMES.rule} + ${SWAP_TIMES.conntrack})`,
  `${SWAP_TIMES.wait}: the controller taking the lab's lock and reading its state, and the issuing process waiting for a CPU the traffic keeps busy (with tcp: migrate, also the connections' prepare, hold and checkpoint)`,
  `${SWAP_TIMES.apply}: what the controller timed itself, from the rule change starting to its answer`,
] as const;
