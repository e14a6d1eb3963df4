// The text an experiment prints at the end: verdict, figures per traffic kind, swaps, where the
// report is.
import { join } from 'node:path';
import { summarize } from '../metrics/distribution.js';
import type { ExperimentResults } from '../results/schema.js';
import { swapTimeNames, swapTimeRows, swapTimes } from '../results/stats.js';

const n = (x: number) => x.toLocaleString('en');
const ms = (x: number) => `${x.toFixed(3)} ms`;

export function renderExperiment(r: ExperimentResults, dir: string): string {
  const out: string[] = [];
  out.push(`experiment ${r.id} on lab ${r.lab.id} (${r.lab.engine}, ${r.lab.controlPath})`);
  out.push(`  measured ${(r.durationMs / 1000).toFixed(1)} s`);
  const { ping, udp, ncatUdp, tcp } = r.traffic;
  if (ping)
    out.push(
      `  ping: ${n(ping.sent)} sent, ${n(ping.received)} received, ${n(ping.lost)} lost, ${n(ping.errors)} errors, ${n(ping.duplicates)} duplicates${ping.rttMs ? `; rtt p50 ${ms(ping.rttMs.p50)}, p99 ${ms(ping.rttMs.p99)}, max ${ms(ping.rttMs.max)}` : ''}`,
    );
  if (udp)
    out.push(
      `  udp: ${n(udp.sent)} sent at ${n(udp.ratePerS)}/s, ${n(udp.received)} echoed, ${n(udp.lost)} lost, ${n(udp.duplicated)} duplicated, ${n(udp.reordered)} reordered; ${
        udp.perServer
          ? `received by each server's echo server ${Object.entries(udp.perServer)
              .map(([k, v]) => `${k} ${n(v)}`)
              .join(', ')}`
          : 'per server not known for this kind alone'
      }`,
    );
  if (ncatUdp)
    out.push(
      `  ncat-udp: ${n(ncatUdp.sentLines)} lines sent; received ${Object.entries(ncatUdp.perServer)
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(', ')}`,
    );
  if (tcp)
    out.push(
      `  tcp: ${n(tcp.bytesIntact)} of ${n(tcp.bytesSent)} bytes came back intact; the connection ${tcp.ended.kind === 'open' ? 'was still open at the end' : `ended (${tcp.ended.kind}: ${tcp.ended.message})${tcp.ended.afterSwap ? ` ${tcp.ended.afterSwap.ms.toFixed(1)} ms after swap ${tcp.ended.afterSwap.index}` : ''}`}; ${tcp.asPromised ? 'as' : 'not as'} the flow's tcp policy ${tcp.policy} promises` +
        (tcp.longestStallMs !== undefined
          ? `; longest stall ${tcp.longestStallMs.toFixed(1)} ms`
          : '') +
        (tcp.migrations
          ? `; ${n(tcp.migrations.moved)} connection move(s), p50 ${tcp.migrations.p50Ms?.toFixed(2) ?? '–'} ms, max ${tcp.migrations.maxMs?.toFixed(2) ?? '–'} ms`
          : ''),
    );
  const series = Object.entries(r.series.nodes)
    .map(([k, v]) => `${k} ${n(v.reduce((a, b) => a + b, 0))}`)
    .join(', ');
  out.push(`  packets received (kernel counters): ${series}`);
  if (r.swaps.length) {
    const gaps = r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]));
    const g = summarize(gaps);
    const inFlight = r.swaps.reduce((a, s) => a + (s.inFlight ?? 0), 0);
    out.push(`  swaps: ${n(r.swaps.length)}`);
    const rows = swapTimeRows(swapTimes(r.swaps), swapTimeNames(r.lab));
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) out.push(`    ${k.padEnd(width)}  ${v}`);
    out.push(
      `  migration gaps measured: ${n(gaps.length)}${gaps.length ? `; p50 ${ms(g.p50)}, p99 ${ms(g.p99)}, max ${ms(g.max)}; ${n(inFlight)} packets in flight at swaps` : ''}`,
    );
    const first = r.swaps.flatMap((s) =>
      s.firstAtNewMs === null || s.firstAtNewMs === undefined ? [] : [s.firstAtNewMs],
    );
    if (first.length) {
      const f = summarize(first);
      out.push(
        `  swap issued → first packet at the new server: p50 ${ms(f.p50)}, p99 ${ms(f.p99)}, max ${ms(f.max)}`,
      );
    }
  }
  out.push(`verdict: ${r.verdict.ok ? 'PASS' : 'FAIL'} (${r.verdict.lines.join('; ')})`);
  out.push(`report: ${join(dir, 'report.html')}`);
  return out.join('\n');
}
