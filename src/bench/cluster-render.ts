// `flowmig bench cluster`'s text: a row per cell and mode (idle, flood) with the phases' p50s,
// the load and restart times, the in-process baseline, the ratios and the targets.
import { columns } from './api-render.js';
import type { ClusterBenchResult, ClusterCell, MigrationStats } from './cluster-result.js';

/**
 * The phases shown, in the order they happen (delivery with its slowest host's in brackets); the
 * applied write last: off the path when a peer's message told host 1 of the last host.
 */
const PHASES = ['commit', 'delivery', 'apply', 'conntrack', 'ack', 'reply', 'write'] as const;

const ms = (v: number) => v.toFixed(Math.abs(v) < 10 ? 2 : 0);
const opt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : ms(v));

/** How host 1 learned of the last host, e.g. `peer 196 etcd 4`. */
const vias = (s: MigrationStats) =>
  Object.entries(s.last_ack_via ?? {})
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([via, n]) => `${via} ${n}`)
    .join(' ') || '-';

function row(c: ClusterCell, s: MigrationStats, p99 = false): string[] {
  const b = p99 ? s.breakdown_p99 : s.breakdown_p50;
  if (p99)
    return [
      String(c.hosts),
      String(c.flows),
      s.flood ? 'flood' : 'idle',
      ...PHASES.map((n) =>
        n === 'delivery' ? `${ms(b.delivery)} (${ms(b.deliveryMax)})` : ms(b[n]),
      ),
    ];
  return [
    String(c.hosts),
    String(c.flows),
    s.flood ? 'flood' : 'idle',
    `${s.migrations}${s.failed ? ` (${s.failed} failed)` : ''}`,
    ms(s.p50_ms),
    ms(s.p99_ms),
    ms(b.commit),
    `${ms(b.delivery)} (${ms(b.deliveryMax)})`,
    ms(b.apply),
    ms(b.conntrack),
    ms(b.ack),
    ms(b.reply),
    vias(s),
    ms(b.write),
    s.flood || !c.load ? '' : `${ms(c.load.applied_ms)} (${ms(c.load.received_ms)})`,
    s.flood
      ? ''
      : `${opt(c.restart.in_sync_ms)} (${opt(c.restart.serving_ms)}, ${opt(c.restart.asked_ms)}, ${ms(c.restart.status_ms)})`,
  ];
}

export function renderClusterBench(r: ClusterBenchResult): string {
  const loads = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  const rows = [
    [
      'HOSTS',
      'FLOWS',
      'MODE',
      'MIGR',
      'P50 ms',
      'P99 ms',
      'COMMIT',
      'DELIVERY (MAX)',
      'APPLY',
      'CT',
      'ACK',
      'REPLY',
      'LAST ACK VIA',
      'WRITE*',
      'LOAD ms (RECEIVED)',
      'RESTART ms (SERVING, ASKED, STATUS)',
    ],
    ...r.cells.flatMap((c) => [row(c, c.idle), ...(c.flood ? [row(c, c.flood)] : [])]),
  ];
  const tails = [
    ['HOSTS', 'FLOWS', 'MODE', 'COMMIT', 'DELIVERY (MAX)', 'APPLY', 'CT', 'ACK', 'REPLY', 'WRITE*'],
    ...r.cells.flatMap((c) => [row(c, c.idle, true), ...(c.flood ? [row(c, c.flood, true)] : [])]),
  ];
  const base = [
    ['FLOWS', 'SWAPS', 'P50 ms', 'P99 ms', 'APPLY P50 ms'],
    ...r.baseline.map((b) => [
      String(b.flows),
      String(b.swaps),
      ms(b.p50_ms),
      ms(b.p99_ms),
      ms(b.apply_p50_ms),
    ]),
  ];
  const ratios = [
    ['HOSTS', 'FLOWS', 'IDLE P50 / IN-PROCESS P50'],
    ...r.cells.map((c) => [
      String(c.hosts),
      String(c.flows),
      c.p50_vs_inprocess === null ? '-' : `${c.p50_vs_inprocess.toFixed(1)}×`,
    ]),
  ];
  const floods = r.cells.flatMap((c) =>
    c.flood?.ping
      ? [
          `flood at ${c.hosts} hosts, ${c.flows} flows: ping sent ${c.flood.ping.transmitted}, received ${c.flood.ping.received}`,
        ]
      : [],
  );
  const errors = r.cells.flatMap((c) =>
    [c.idle, c.flood].flatMap((s) =>
      s?.error ? [`error at ${c.hosts} hosts, ${c.flows} flows: ${s.error}`] : [],
    ),
  );
  return [
    'flowmig cluster: migrations through host 1’s daemon, API call → applied on every translator',
    `run ${r.startedAt} → ${r.endedAt}; ${r.cpus} CPUs; load average ${loads(r.load.atStart)} at the start, ${loads(r.load.atEnd)} at the end`,
    '',
    columns(rows),
    '* the last host’s applied write to etcd: on the path only when etcd told host 1 of it (VIA etcd, or write: a daemon without acknowledgements)',
    '',
    'the phases’ p99 (ms):',
    columns(tails),
    '',
    'in-process swap (Flowmig.swap in this process, single-host lab, one call at a time):',
    columns(base),
    '',
    columns(ratios),
    '',
    ...floods,
    ...r.targets.map(
      (t) =>
        `target: ${t.name} ≤ ${t.limit}: ${t.value === null ? 'not measured' : ms(t.value)} (${t.met ? 'met' : 'not met'})`,
    ),
    ...errors,
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
