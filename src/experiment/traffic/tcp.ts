// Traffic `tcp`: flowmig's TCP stream client from the client (CRC-checked chunks at a steady rate)
// against an echo server in each server namespace, or, on a flow whose connections move
// (`tcp: migrate`), flowmig's server runtime there. File: tcp-stream.json (the client's report:
// bytes intact, how and when the connection ended, the longest stall).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { policyOf } from '../../lab/model.js';
import { type TcpPolicy, tcpOutcome } from '../../metrics/tcp-outcome.js';
import { ready } from '../launch.js';
import type { Background } from '../process.js';
import type { SwapLog } from '../record.js';
import {
  type KindResults,
  type RunData,
  type TrafficModule,
  type TrafficRun,
  type TrafficSetup,
  trafficProgram,
} from './kind.js';

/** The client's report (tcp-stream.json's last line). */
interface StreamReport {
  bytesSent?: number;
  bytesIntact?: number;
  corrupt?: number;
  ended?: { kind: 'reset' | 'closed' | 'error' | 'open'; atMs: number | null; message: string };
  longestStallMs?: number;
  longestStallAtMs?: number | null;
}

function run(s: TrafficSetup): TrafficRun {
  const o = s.options.tcp;
  let client: Background | undefined;
  return {
    async serve() {
      // A flow whose TCP connections move needs flowmig's server runtime (it hands them over).
      if (policyOf(s.bed.lab, s.flow.address).tcp === 'migrate') {
        await s.bed.serveEcho(o.port);
        return;
      }
      for (const node of s.servers) {
        const argv = [process.execPath, trafficProgram('tcp-echo'), '--port', String(o.port)];
        const p = s.launch.start(`tcp-echo ${node.name}`, argv, { netns: node.netns });
        await ready(p, /listening/, 'stdout', 'tcp-echo');
      }
    },
    async send() {
      client = s.launch.start(
        'tcp',
        [
          process.execPath,
          trafficProgram('tcp-stream'),
          '--to',
          s.flow.address,
          '--port',
          String(o.port),
          '--rate',
          String(o.rate),
          '--chunk',
          String(o.chunk),
        ],
        { netns: s.client.netns },
      );
    },
    // A swap may end the connection (policy `reset`): the outcome is judged in the results.
    ended: () => undefined,
    async stop() {
      if (!client) return;
      await client.stop('SIGTERM', 5_000);
      s.files.tcp = 'tcp-stream.json';
      await writeFile(join(s.dir, s.files.tcp), client.stdout);
    },
  };
}

async function analyze(d: RunData): Promise<KindResults | undefined> {
  const { dir, run, rel } = d;
  if (!run.files.tcp) return undefined;
  const last = (await readFile(join(dir, run.files.tcp), 'utf8')).trim().split('\n').pop();
  const t = JSON.parse(last || '{}') as StreamReport;
  const ended = t.ended ?? { kind: 'error' as const, atMs: null, message: 'no report' };
  const moves = run.swaps.filter((s) => s.tcpMoved !== undefined);
  let afterSwap: { index: number; ms: number } | null = null;
  if (ended.atMs !== null)
    for (const s of d.swaps)
      if (s.issuedMs <= ended.atMs) afterSwap = { index: s.index, ms: ended.atMs - s.issuedMs };
  const end = {
    kind: ended.kind,
    atMs: ended.atMs === null ? null : rel(ended.atMs),
    afterSwap,
    message: ended.message,
  };
  const policy = (run.flow.tcpPolicy ?? 'reset') as TcpPolicy;
  const outcome = tcpOutcome({
    policy,
    ...(run.flow.drainMs === undefined ? {} : { drainMs: run.flow.drainMs }),
    ended: end,
    swaps: run.swaps.length,
    firstSwapMs: run.swaps[0] ? rel(run.swaps[0].issuedMs) : null,
  });
  const failures: string[] = [];
  if ((t.corrupt ?? 0) > 0) failures.push(`tcp: ${t.corrupt} corrupt chunk(s)`);
  if (!outcome.asPromised) failures.push(outcome.line);
  return {
    traffic: {
      tcp: {
        policy,
        asPromised: outcome.asPromised,
        bytesSent: t.bytesSent ?? 0,
        bytesIntact: t.bytesIntact ?? 0,
        ended: end,
        ...(t.longestStallMs !== undefined
          ? {
              longestStallMs: t.longestStallMs,
              longestStallAtMs:
                t.longestStallAtMs === null || t.longestStallAtMs === undefined
                  ? null
                  : rel(t.longestStallAtMs),
            }
          : {}),
        ...(moves.length ? { migrations: migrationsOf(moves) } : {}),
      },
    },
    failures,
    observed: outcome.asPromised ? [outcome.line] : [],
  };
}

/** How the flow's TCP connections moved at the swaps (policy `migrate`). */
function migrationsOf(moves: readonly Pick<SwapLog, 'tcpMoved' | 'tcpMs'>[]) {
  const times = moves
    .filter((m) => (m.tcpMoved ?? 0) > 0)
    .map((m) => m.tcpMs ?? 0)
    .sort((a, b) => a - b);
  const at = (q: number) =>
    times.length ? (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? null) : null;
  return {
    swaps: moves.length,
    moved: moves.reduce((n, m) => n + (m.tcpMoved ?? 0), 0),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: times.length ? (times[times.length - 1] ?? null) : null,
  };
}

export const tcpTraffic: TrafficModule = {
  kind: 'tcp',
  optionsKey: 'tcp',
  programs: [],
  run,
  analyze,
};
