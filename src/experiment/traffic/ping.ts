// Traffic `ping`: iputils ping from the client to the flow's address (echo requests, a line per
// reply, its own statistics at the end). Files: ping.txt (its output), ping.stderr.txt.
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLines } from '../../metrics/lines.js';
import { type PingLine, scanPing } from '../../metrics/ping.js';
import { analyzePing } from '../../metrics/ping-analysis.js';
import { parsePingSummary } from '../ping.js';
import type { Background } from '../process.js';
import { sleep } from '../process.js';
import type { KindResults, RunData, TrafficModule, TrafficRun, TrafficSetup } from './kind.js';

/** RTT points kept in the results (spread over the run). */
const MAX_RTT_POINTS = 2_000;

function run(s: TrafficSetup): TrafficRun {
  let ping: Background | undefined;
  return {
    serve: async () => {},
    async send() {
      const o = s.options.ping;
      s.files.ping = 'ping.txt';
      const file = join(s.dir, s.files.ping);
      ping = s.launch.start(
        'ping',
        ['ping', '-D', '-i', String(o.interval), '-s', String(o.size), s.flow.address],
        { netns: s.client.netns, stdoutFile: file },
      );
      // Until its first reply, ping may not have set up its SIGINT handler yet: stopped earlier
      // (an interrupt right after the start), it would end without its statistics.
      await replied(ping, file);
    },
    ended: () =>
      ping && !ping.running
        ? `ping ended during the run: ${ping.stderr.trim().split('\n')[0] ?? ''}`
        : undefined,
    async stop() {
      if (!ping) return;
      await ping.stop('SIGINT', 5_000);
      s.files['ping stderr'] = 'ping.stderr.txt';
      await writeFile(join(s.dir, s.files['ping stderr']), ping.stderr);
    },
  };
}

/** Waits (at most 5 s) until ping wrote its first reply line, or ended. */
async function replied(ping: Background, file: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (ping.running && Date.now() < deadline) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.includes('bytes from')) return;
    await sleep(5);
  }
}

async function analyze(d: RunData): Promise<KindResults | undefined> {
  const file = d.run.files.ping;
  if (!file) return undefined;
  const path = join(d.dir, file);
  const parsed: PingLine[] = [];
  await scanPing(readLines(createReadStream(path)), (l) => parsed.push(l));
  const text = await readFile(path, 'utf8');
  const summary = parsePingSummary(text.slice(-2_000));
  const a = analyzePing({
    lines: parsed,
    ...(summary ? { transmitted: summary.transmitted } : {}),
    maxPoints: MAX_RTT_POINTS,
  });
  // ping's own error lines (unreachable, ...) and anything it wrote to stderr (sendmsg errors).
  const stderrFile = d.run.files['ping stderr'];
  const stderr = stderrFile ? await readFile(join(d.dir, stderrFile), 'utf8') : '';
  const errorLines = [
    ...Object.entries(a.errorKinds).map(([k, n]) => `${n} × ${k}`),
    ...stderr.split('\n').filter((l) => l.trim() !== ''),
  ];
  const ping = {
    sent: a.sent,
    received: a.received,
    errors: summary?.errors ?? a.errors,
    duplicates: a.duplicates,
    lost: a.lost,
    errorLines,
    perServer: d.counted('Icmp6InEchos'),
    rttMs: a.rttMs.count ? a.rttMs : null,
    rtt: a.rttSeries.map((p) => ({ tMs: d.rel(p.tMs), rttMs: p.value })),
  };
  const failures: string[] = [];
  if (!summary) failures.push('ping ended without its statistics');
  if (ping.errors > 0 || errorLines.length) failures.push(`ping reported ${ping.errors} error(s)`);
  if (ping.lost > 0) failures.push(`ping: ${ping.lost} lost`);
  return { traffic: { ping }, failures };
}

export const pingTraffic: TrafficModule = {
  kind: 'ping',
  optionsKey: 'ping',
  programs: ['ping'],
  run,
  analyze,
};
