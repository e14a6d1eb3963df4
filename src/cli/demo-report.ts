// Renders the demo's verdict table and notes for the terminal.
import type { DemoResult } from '../experiment/demo.js';
import { formatMs, swapTimeRows } from '../results/stats.js';
import { table } from './render.js';

const n = (x: number) => x.toLocaleString('en');

export function renderDemo(r: DemoResult): string {
  const s = r.ping.summary;
  const rows: string[][] = [
    ['MEASURE', 'VALUE'],
    ['echo requests sent', n(s.transmitted)],
    ['echo replies received', n(s.received)],
    [
      'lost (sent − received)',
      `${n(r.ping.lost)} (${((r.ping.lost / Math.max(1, s.transmitted)) * 100).toFixed(4)}%, ${(r.ping.lost / Math.max(1, r.swaps.done)).toFixed(2)} per swap)`,
    ],
    ['errors reported by ping', n(s.errors)],
    [
      'late replies translated',
      `${n(r.late.translated)} (${r.late.perSwap.toFixed(2)} per swap, grace ${(r.late.graceMs / 1000).toFixed(1)} s)`,
    ],
    ['duplicates', n(s.duplicates)],
    ...Object.entries(r.reached).map(([node, count]) => [
      `echo requests that reached ${node}`,
      n(count),
    ]),
    ['swaps', `${r.swaps.done} of ${r.swaps.requested}`],
    ...swapTimeRows(r.swaps, r.swapTimeNames),
    [
      'migration gap p50 / p99 / max',
      r.swaps.gapMs.count
        ? `${[r.swaps.gapMs.p50, r.swaps.gapMs.p99, r.swaps.gapMs.max].map(formatMs).join(' / ')} (${r.swaps.gapMs.count} measured)`
        : 'not measured',
    ],
    ['ping rate', `${n(r.ping.ratePerS)} /s over ${(s.timeMs / 1000).toFixed(1)} s`],
  ];
  if (r.tcp) {
    rows.push([
      'TCP client across a swap',
      r.tcp.clientTerminated ? `terminated (exit ${String(r.tcp.clientExitCode)})` : 'survived',
    ]);
  }
  const verdict = `VERDICT: ${r.verdict.ok ? 'PASS' : 'FAIL'} — ${r.verdict.lines.join('; ')}`;
  return [
    `flowmig demo ${r.id} · lab ${r.lab} · engine ${r.engine} · flow ${r.flow} · ${r.durationS.toFixed(1)} s`,
    '',
    table(rows),
    '',
    verdict,
    ...(r.ping.errorLines.length
      ? ['', 'ping error lines:', ...r.ping.errorLines.map((l) => `  ${l}`)]
      : []),
    '',
    'notes:',
    ...r.notes.map((l) => `  - ${l}`),
    '',
    `report: ${r.report.html}`,
  ].join('\n');
}
