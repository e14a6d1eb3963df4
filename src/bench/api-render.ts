// `flowmig bench api`'s targets and text: the cells, the in-process baseline, the ratios.
import type { ApiBaseline, ApiBenchResult, ApiBenchTarget, ApiCell, BatchStats } from './api.js';

/** The team's targets for the daemon path, for the cells that were measured. */
export function apiTargets(
  cells: readonly ApiCell[],
  baseline: readonly ApiBaseline[],
): ApiBenchTarget[] {
  const cell = (flows: number, clients: number) =>
    cells.find((c) => c.flows === flows && c.clients === clients);
  const out: ApiBenchTarget[] = [];
  const max = (name: string, value: number, limit: number) =>
    out.push({ name, value, limit, kind: 'max', met: value <= limit });
  const min = (name: string, value: number, limit: number) =>
    out.push({ name, value, limit, kind: 'min', met: value >= limit });
  for (const c of cells.filter((x) => x.clients === 1)) {
    max(`1 client at ${c.flows} flows: p50 ms`, c.p50_ms, 0.5);
    const base = baseline.find((b) => b.flows === c.flows);
    if (base && c.p50_vs_inprocess !== null)
      max(`1 client at ${c.flows} flows: p50 / in-process p50`, c.p50_vs_inprocess, 2.5);
  }
  const k1000 = cell(1000, 100);
  if (k1000) {
    min('100 clients at 1,000 flows: migrations/s', k1000.migrations_per_s, 10_000);
    max('100 clients at 1,000 flows: p99 ms', k1000.p99_ms, 20);
  }
  const one = { small: cell(1000, 1), large: cell(100_000, 1) };
  if (one.small && one.large && one.small.p50_ms > 0)
    max('1 client: p50 at 100,000 flows / at 1,000', one.large.p50_ms / one.small.p50_ms, 1.5);
  const many = { small: k1000, large: cell(100_000, 100) };
  if (many.small && many.large && many.large.migrations_per_s > 0)
    max(
      '100 clients: migrations/s at 1,000 flows / at 100,000',
      many.small.migrations_per_s / many.large.migrations_per_s,
      1.5,
    );
  return out;
}

function bundleText(b: ApiBenchResult['bundle']): string {
  const text = {
    fresh: 'from its bundle',
    stale: 'bundle stale: from its modules',
    none: 'no bundle',
  };
  return b.atStart === b.atEnd
    ? text[b.atStart]
    : `${text[b.atStart]} at the start, ${text[b.atEnd]} at the end`;
}

const sizesText = (s: BatchStats | null) =>
  s === null
    ? '-'
    : Object.entries(s.sizes)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ') || '-';

export function renderApiBench(r: ApiBenchResult): string {
  const x = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);
  const ms = (v: number) => v.toFixed(v < 10 ? 3 : 1);
  const loads = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  const rows = [
    ['FLOWS', 'CLIENTS', 'REQUESTS', 'MIGR/S', 'P50 ms', 'P99 ms', 'BATCHES', 'MEAN', 'SIZES'],
    ...r.cells.map((c) => [
      String(c.flows),
      String(c.clients),
      `${c.requests}${c.failed ? ` (${c.failed} failed)` : ''}${c.capped ? ' capped' : ''}`,
      c.migrations_per_s.toFixed(0),
      ms(c.p50_ms),
      ms(c.p99_ms),
      c.batches === null ? '-' : String(c.batches.batches),
      c.batches === null ? '-' : c.batches.mean.toFixed(1),
      sizesText(c.batches),
    ]),
  ];
  const ratios = [
    ['FLOWS', 'CLIENTS', 'P50/IN-PROCESS', 'RATE/IN-PROCESS'],
    ...r.cells.map((c) => [
      String(c.flows),
      String(c.clients),
      x(c.p50_vs_inprocess),
      x(c.rate_vs_inprocess),
    ]),
  ];
  const base = [
    ['FLOWS', 'SWAPS', 'MIGR/S', 'P50 ms', 'P99 ms', 'APPLY P50 ms'],
    ...r.baseline.map((b) => [
      String(b.flows),
      `${b.requests}${b.capped ? ' capped' : ''}`,
      b.migrations_per_s.toFixed(0),
      ms(b.p50_ms),
      ms(b.p99_ms),
      ms(b.apply_p50_ms),
    ]),
  ];
  const errors = r.cells.filter((c) => c.error !== undefined);
  return [
    `flowmig daemon API: swaps by concurrent DaemonClients (entry ${r.entry}, ${bundleText(r.bundle)})`,
    `run ${r.startedAt} → ${r.endedAt}; ${r.cpus} CPUs; load average ${loads(r.load.atStart)} at the start, ${loads(r.load.atEnd)} at the end`,
    '',
    columns(rows),
    '',
    'in-process swap (Flowmig.swap in this process, one call at a time):',
    columns(base),
    '',
    columns(ratios),
    '',
    ...r.targets.map(
      (t) =>
        `target: ${t.name} ${t.kind === 'max' ? '≤' : '≥'} ${t.limit}: ${t.value.toFixed(t.value < 10 ? 3 : 0)} (${t.met ? 'met' : 'not met'})`,
    ),
    ...errors.map((c) => `error at ${c.flows} flows, ${c.clients} client(s): ${c.error}`),
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

/** Left-aligned columns, two spaces apart. */
export function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, c] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
