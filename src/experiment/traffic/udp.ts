// Traffic `udp`: flowmig's UDP load from the client (numbered datagrams at a steady rate, echoes
// counted by number) against an echo server in each server namespace. Files: udp.log (a line per
// datagram), udp-load.json (the load's summary), udp-echo-<node>.json (what each echo server got).
import { createReadStream, existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readLines } from '../../metrics/lines.js';
import { analyzeSends, type SendRecord } from '../../metrics/sequence.js';
import { scanUdpLog } from '../../metrics/udp-log.js';
import { ready } from '../launch.js';
import type { Background } from '../process.js';
import {
  type KindResults,
  type RunData,
  type TrafficModule,
  type TrafficRun,
  type TrafficSetup,
  trafficProgram,
} from './kind.js';

function run(s: TrafficSetup): TrafficRun {
  const o = s.options.udp;
  /** The echo servers by node: each counts what it received (per kind, not per namespace). */
  const echoes = new Map<string, Background>();
  let load: Background | undefined;
  return {
    async serve() {
      for (const node of s.servers) {
        const argv = [process.execPath, trafficProgram('udp-echo'), '--port', String(o.port)];
        const p = s.launch.start(`udp-echo ${node.name}`, argv, { netns: node.netns });
        echoes.set(node.name, p);
        await ready(p, /listening/, 'stdout', 'udp-echo');
      }
    },
    async send() {
      s.files['udp log'] = 'udp.log';
      load = s.launch.start(
        'udp',
        [
          process.execPath,
          trafficProgram('udp-load'),
          '--to',
          s.flow.address,
          '--port',
          String(o.port),
          '--rate',
          String(o.rate),
          '--size',
          String(o.size),
          '--log',
          join(s.dir, s.files['udp log']),
        ],
        { netns: s.client.netns },
      );
    },
    ended: () =>
      load && !load.running
        ? `udp ended during the run: ${load.stderr.trim().split('\n')[0] ?? ''}`
        : undefined,
    async stop() {
      if (!load) return;
      await load.stop('SIGTERM', 30_000);
      // Stopped (an interrupt) before it got as far as its log: it has nothing to report per datagram.
      if (!existsSync(join(s.dir, s.files['udp log'] ?? ''))) delete s.files['udp log'];
      s.files.udp = 'udp-load.json';
      await writeFile(join(s.dir, s.files.udp), load.stdout);
      // Each echo server prints {"received": n} when stopped: the load's datagrams per server.
      for (const [node, echo] of echoes) {
        await echo.stop('SIGTERM', 2_000);
        s.files[`udp echo ${node}`] = `udp-echo-${node}.json`;
        await writeFile(join(s.dir, s.files[`udp echo ${node}`] ?? ''), echo.stdout);
      }
    },
  };
}

async function analyze(d: RunData): Promise<KindResults | undefined> {
  const { dir, run } = d;
  const log = run.files['udp log'];
  if (!log) return undefined;
  const records: SendRecord[] = [];
  await scanUdpLog(readLines(createReadStream(join(dir, log))), (r) => records.push(r));
  const report = analyzeSends(records, { swaps: d.marks });
  const summary = run.files.udp
    ? (JSON.parse(
        (await readFile(join(dir, run.files.udp), 'utf8')).trim().split('\n').pop() ?? '{}',
      ) as { ratePerS?: number })
    : {};
  const perServer = await udpPerServer(d);
  const failures: string[] = [];
  if (report.total.lost > 0) failures.push(`udp: ${report.total.lost} lost`);
  if (report.total.duplicated > 0) failures.push(`udp: ${report.total.duplicated} duplicated`);
  return {
    traffic: {
      udp: {
        sent: report.total.sent,
        received: report.total.unique,
        lost: report.total.lost,
        duplicated: report.total.duplicated,
        reordered: report.total.reordered,
        ratePerS: summary.ratePerS ?? 0,
        ...(perServer ? { perServer } : {}),
      },
    },
    failures,
    perSwap(position) {
      const w = report.windows[position];
      return w ? { udp: { lost: w.lost, duplicated: w.duplicated, reordered: w.reordered } } : {};
    },
  };
}

/**
 * Datagrams of the UDP load each server received: its echo server's own count (it prints it when
 * stopped). `Udp6InDatagrams` counts every UDP datagram of the namespace (ncat's lines too), so it
 * stands in only for runs without those counts in which no other UDP kind ran.
 */
async function udpPerServer(d: RunData): Promise<Record<string, number> | undefined> {
  const { dir, run } = d;
  const perServer: Record<string, number> = {};
  for (const node of Object.keys(run.serverAddresses)) {
    const file = run.files[`udp echo ${node}`];
    if (!file) break;
    const last = (await readFile(join(dir, file), 'utf8').catch(() => '')).trim().split('\n').pop();
    const received = (JSON.parse(last || '{}') as { received?: unknown }).received;
    if (typeof received !== 'number') break;
    perServer[node] = received;
  }
  if (Object.keys(perServer).length === Object.keys(run.serverAddresses).length) return perServer;
  return run.options.traffic.includes('ncat-udp') ? undefined : d.counted('Udp6InDatagrams');
}

export const udpTraffic: TrafficModule = {
  kind: 'udp',
  optionsKey: 'udp',
  programs: [],
  run,
  analyze,
};
