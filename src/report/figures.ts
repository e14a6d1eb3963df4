// The report's figures as plain-text tables, computed once for both the HTML and Markdown output.
import type { ExperimentResults, SwapRecord } from '../results/schema.js';
import {
  distribution,
  formatMs,
  type SwapTimeNames,
  swapTimeNames,
  swapTimeNotes,
  swapTimeRows,
  swapTimes,
} from '../results/stats.js';

/** A titled two-column table: what was measured, and its value as text. */
export interface FigureTable {
  readonly title: string;
  readonly rows: readonly (readonly [string, string])[];
  /** Free text shown under the table (e.g. ping's error lines), already capped. */
  readonly lines?: readonly string[];
}

export interface SwapTable {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** How many swaps there were; `rows` holds at most SWAP_ROWS of them. */
  readonly total: number;
}

export interface ReportFigures {
  readonly title: string;
  readonly verdict: { readonly ok: boolean; readonly lines: readonly string[] };
  readonly run: FigureTable;
  /** One table per traffic kind the run had. */
  readonly traffic: readonly FigureTable[];
  readonly swaps: FigureTable;
  readonly config: FigureTable;
  readonly swapTable: SwapTable;
  readonly files: readonly string[];
}

export const SWAP_ROWS = 200;
const ERROR_LINES = 20;

const int = (x: number): string => x.toLocaleString('en');

/** Milliseconds with the precision that matters at their size. */
export const ms = formatMs;

function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((part / whole) * 100).toPrecision(3)}%`;
}

function ofSwaps(x: number, swaps: number): string {
  if (swaps === 0) return '';
  const per = x / swaps;
  // Two significant digits below 1, so 3 losses in 1000 swaps do not read as none.
  return `, ${per === 0 || per >= 1 ? per.toFixed(2) : per.toPrecision(2)} per swap`;
}

function runTable(r: ExperimentResults): FigureTable {
  const flows = r.lab.flows.map(
    (f) =>
      `${f.address}${f.name === undefined ? '' : ` (${f.name})`}: ${f.initiator} → ${f.responders.join(' | ')}`,
  );
  return {
    title: 'Run',
    rows: [
      ['run id', r.id],
      ['started at', r.startedAt],
      ['measured for', `${(r.durationMs / 1000).toFixed(r.durationMs < 10_000 ? 2 : 1)} s`],
      ['lab', r.lab.id],
      ['engine', r.lab.engine],
      ['control path', r.lab.controlPath],
      [
        'nodes',
        r.lab.nodes
          .map(
            (n) => `${n.name} (${n.role}, netns ${n.namespace}${n.host ? `, host ${n.host}` : ''})`,
          )
          .join(', '),
      ],
      ['flows', flows.join('; ')],
    ],
  };
}

function trafficTables(r: ExperimentResults): FigureTable[] {
  const tables: FigureTable[] = [];
  const swaps = r.swaps.length;
  const { ping, udp, ncatUdp, tcp } = r.traffic;
  if (ping) {
    const rtt = ping.rttMs;
    tables.push({
      title: 'Ping (ICMPv6 echo)',
      rows: [
        ['echo requests sent', int(ping.sent)],
        ['echo replies received', int(ping.received)],
        [
          'lost',
          `${int(ping.lost)} (${percent(ping.lost, ping.sent)}${ofSwaps(ping.lost, swaps)})`,
        ],
        ['errors reported by ping', int(ping.errors)],
        ['duplicates', int(ping.duplicates)],
        [
          'round-trip time min / p50 / p90 / p99 / max',
          rtt === null
            ? 'not measured'
            : `${[rtt.min, rtt.p50, rtt.p90, rtt.p99, rtt.max].map(ms).join(' / ')} (mean ${ms(rtt.mean)}, ${int(rtt.count)} replies)`,
        ],
      ],
      lines:
        ping.errorLines.length > ERROR_LINES
          ? [
              ...ping.errorLines.slice(0, ERROR_LINES),
              `… and ${int(ping.errorLines.length - ERROR_LINES)} more error lines`,
            ]
          : ping.errorLines,
    });
  }
  if (udp) {
    const perServer = udp.perServer;
    tables.push({
      title: 'UDP load',
      rows: [
        ['datagrams sent', int(udp.sent)],
        ['datagrams received', int(udp.received)],
        ['lost', `${int(udp.lost)} (${percent(udp.lost, udp.sent)}${ofSwaps(udp.lost, swaps)})`],
        ['duplicated', int(udp.duplicated)],
        ['reordered', int(udp.reordered)],
        ['send rate', `${int(Math.round(udp.ratePerS))} datagrams/s`],
        ...(perServer
          ? Object.entries(perServer).map(
              ([node, n]) => [`received by ${node}'s echo server`, int(n)] as const,
            )
          : ([['received per server', 'not known for this kind alone']] as const)),
      ],
    });
  }
  if (ncatUdp) {
    const received = Object.values(ncatUdp.perServer).reduce((a, b) => a + b, 0);
    tables.push({
      title: 'UDP lines (ncat)',
      rows: [
        ['lines sent', int(ncatUdp.sentLines)],
        ...Object.entries(ncatUdp.perServer).map(
          ([node, n]) => [`lines received by ${node}`, int(n)] as const,
        ),
        ['lines received in all', int(received)],
        ['lines missing', int(Math.max(0, ncatUdp.sentLines - received))],
      ],
    });
  }
  if (tcp) {
    const e = tcp.ended;
    tables.push({
      title: 'TCP connection',
      rows: [
        ['bytes sent', int(tcp.bytesSent)],
        [
          'bytes that arrived intact',
          `${int(tcp.bytesIntact)} (${percent(tcp.bytesIntact, tcp.bytesSent)})`,
        ],
        ['ended', e.kind === 'open' ? 'still open at the end of the run' : e.kind],
        [
          "as the flow's tcp policy promises",
          `${tcp.asPromised ? 'yes' : 'no'} (policy ${tcp.policy})`,
        ],
        ['ended at', e.atMs === null ? '–' : ms(e.atMs)],
        [
          'after swap',
          e.afterSwap === null
            ? '–'
            : `#${e.afterSwap.index}, ${ms(e.afterSwap.ms)} after it was issued`,
        ],
        ['message', e.message === '' ? '–' : e.message],
        ...(tcp.longestStallMs !== undefined
          ? ([
              [
                'longest stall (no echo back)',
                `${ms(tcp.longestStallMs)}${tcp.longestStallAtMs == null ? '' : ` at ${ms(tcp.longestStallAtMs)}`}`,
              ],
            ] as const)
          : []),
        ...(tcp.migrations
          ? ([
              [
                'connections moved (policy migrate)',
                `${int(tcp.migrations.moved)} over ${int(tcp.migrations.swaps)} swaps`,
              ],
              [
                'move time hold → resume p50 / p99 / max',
                `${msOrDash(tcp.migrations.p50Ms)} / ${msOrDash(tcp.migrations.p99Ms)} / ${msOrDash(tcp.migrations.maxMs)}`,
              ],
            ] as const)
          : []),
      ],
    });
  }
  return tables;
}

function msOrDash(v: number | null): string {
  return v === null ? '–' : ms(v);
}

function pcts(samples: readonly number[]): string {
  const d = distribution(samples);
  return `${ms(d.p50)} / ${ms(d.p99)} / ${ms(d.max)}`;
}

function swapsTable(swaps: readonly SwapRecord[], names: SwapTimeNames): FigureTable {
  const title = 'Swaps';
  if (swaps.length === 0) return { title, rows: [['swaps', '0']] };
  const gaps = swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]));
  const inFlight = swaps.flatMap((s) => (s.inFlight === null ? [] : [s.inFlight]));
  const withUdp = swaps.flatMap((s) => (s.udp === undefined ? [] : [s.udp]));
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const rows: (readonly [string, string])[] = [
    ['swaps', int(swaps.length)],
    ...swapTimeRows(swapTimes(swaps), names),
    [
      'migration gap p50 / p99 / max',
      gaps.length === 0
        ? 'not measured'
        : `${pcts(gaps)} (${int(gaps.length)} measured, ${int(gaps.filter((g) => g <= 0).length)} overlapped)`,
    ],
    [
      'packets in flight to the old server',
      inFlight.length === 0
        ? 'not measured'
        : `${int(sum(inFlight))} in all, at most ${int(inFlight.reduce((a, b) => Math.max(a, b), 0))} at one swap (${int(inFlight.length)} measured)`,
    ],
  ];
  if (withUdp.length > 0) {
    rows.push([
      'UDP lost / duplicated / reordered at swaps',
      `${int(sum(withUdp.map((u) => u.lost)))} / ${int(sum(withUdp.map((u) => u.duplicated)))} / ${int(sum(withUdp.map((u) => u.reordered)))}`,
    ]);
  }
  return { title, rows, lines: [...swapTimeNotes(names)] };
}

function perSwap(swaps: readonly SwapRecord[], names: SwapTimeNames): SwapTable {
  const udp = swaps.some((s) => s.udp !== undefined);
  const num = (x: number) => ms(x).replace(/ ms$/, '');
  const columns = [
    '#',
    'flow',
    'from → to',
    'issued (ms)',
    'committed (ms)',
    'conntrack done (ms)',
    // The swap times under the names the tables above use.
    `${names.wait} (ms)`,
    `${names.rule} (ms)`,
    `${names.conntrack} (ms)`,
    `${names.total} (ms)`,
    `${names.apply} (ms)`,
    'gap (ms)',
    'in flight',
    ...(udp ? ['UDP lost / dup / reord'] : []),
  ];
  const rows = swaps
    .slice(0, SWAP_ROWS)
    .map((s) => [
      String(s.index),
      s.flow,
      `${s.from} → ${s.to}`,
      num(s.issuedMs),
      num(s.committedMs),
      num(s.conntrackDoneMs),
      num(s.controlMs.wait),
      num(s.controlMs.rule),
      num(s.controlMs.conntrack),
      num(s.controlMs.total),
      num(s.applyMs),
      s.gapMs === null ? '–' : num(s.gapMs),
      s.inFlight === null ? '–' : int(s.inFlight),
      ...(udp ? [s.udp ? `${s.udp.lost} / ${s.udp.duplicated} / ${s.udp.reordered}` : '–'] : []),
    ]);
  return { columns, rows, total: swaps.length };
}

function configTable(config: Readonly<Record<string, unknown>>): FigureTable {
  return {
    title: 'Configuration',
    rows: Object.entries(config).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)),
    ]),
  };
}

export function reportFigures(r: ExperimentResults): ReportFigures {
  return {
    title: `flowmig experiment ${r.id}`,
    verdict: r.verdict,
    run: runTable(r),
    traffic: trafficTables(r),
    swaps: swapsTable(r.swaps, swapTimeNames(r.lab)),
    config: configTable(r.config),
    swapTable: perSwap(r.swaps, swapTimeNames(r.lab)),
    files: r.files,
  };
}
