// Turns a run's raw data (run.json, ping output, UDP log, captures, counters) into the results
// (results.json): figures per traffic kind and per swap. The arithmetic lives in src/metrics; this
// module reads the files and puts the pieces together.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type MigrationGap, migrationGaps } from '../metrics/gaps.js';
import { readLines } from '../metrics/lines.js';
import { scanPcap } from '../metrics/pcap.js';
import { type PingLine, scanPing } from '../metrics/ping.js';
import { analyzePing } from '../metrics/ping-analysis.js';
import { analyzeSends, type SendRecord } from '../metrics/sequence.js';
import { counterBuckets } from '../metrics/series.js';
import {
  type ClientAcrossSwap,
  clientOutcome,
  type TcpPolicy,
  tcpOutcome,
} from '../metrics/tcp-outcome.js';
import { scanUdpLog } from '../metrics/udp-log.js';
import { arrivalWindow } from '../metrics/window.js';
import { parsePingSummary } from './ping.js';
import { type ExperimentResults, RESULTS_SCHEMA, runId, type SwapRecord } from './results.js';
import type { RunRecord } from './run.js';

const lines = (path: string) => readLines(createReadStream(path));

/** Results of a finished run in `dir` (which holds run.json and the files it names). */
export async function analyzeRun(dir: string): Promise<ExperimentResults> {
  const run = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const t0 = run.startMs;
  const rel = (t: number) => Math.max(0, t - t0);
  const marks = run.swaps.map((s) => ({ issuedMs: s.issuedMs, from: s.from, to: s.to }));

  // Arrivals of the flow's packets (from its client) at each server, from the captures.
  const arrivals = new Map<string, number[]>();
  for (const node of Object.keys(run.serverAddresses)) {
    const file = run.files[`capture ${node}`];
    if (!file) continue;
    const times: number[] = [];
    await scanPcap(join(dir, file), (p) => {
      if (fromClient(run, p.src) && p.tMs >= t0) times.push(p.tMs); // not the warm-up's packets
    });
    arrivals.set(
      node,
      times.sort((a, b) => a - b),
    );
  }
  const gaps: MigrationGap[] = arrivals.size ? migrationGaps(arrivals, marks) : [];

  const traffic: ExperimentResults['traffic'] = {};
  /** What fails the verdict, and what it says beside (e.g. a TCP end as its policy promises). */
  const verdict: string[] = [];
  const observed: string[] = [];
  // Swaps are numbered from 1 (older run.json files numbered them from 0: the position decides).
  const numbered = run.swaps.map((s, i) => ({ ...s, index: i + 1 }));
  // A counter's growth in each server from the first sample (traffic start) to the last (stopped).
  const first = run.counters.samples[0]?.values ?? {};
  const last = run.counters.samples[run.counters.samples.length - 1]?.values ?? {};
  const counted = (name: string): Record<string, number> =>
    Object.fromEntries(
      Object.keys(run.serverAddresses).map((node) => [
        node,
        Math.max(0, (last[node]?.[name] ?? 0) - (first[node]?.[name] ?? 0)),
      ]),
    );

  if (run.files.ping) {
    const path = join(dir, run.files.ping);
    const parsed: PingLine[] = [];
    await scanPing(lines(path), (l) => parsed.push(l));
    const text = await readFile(path, 'utf8');
    const summary = parsePingSummary(text.slice(-2_000));
    const a = analyzePing({
      lines: parsed,
      ...(summary ? { transmitted: summary.transmitted } : {}),
      maxPoints: 2_000,
    });
    // ping's own error lines (unreachable, ...) and anything it wrote to stderr (sendmsg errors).
    const stderr = run.files['ping stderr']
      ? await readFile(join(dir, run.files['ping stderr']), 'utf8')
      : '';
    const errorLines = [
      ...Object.entries(a.errorKinds).map(([k, n]) => `${n} × ${k}`),
      ...stderr.split('\n').filter((l) => l.trim() !== ''),
    ];
    traffic.ping = {
      sent: a.sent,
      received: a.received,
      errors: summary?.errors ?? a.errors,
      duplicates: a.duplicates,
      lost: a.lost,
      errorLines,
      perServer: counted('Icmp6InEchos'),
      rttMs: a.rttMs.count ? a.rttMs : null,
      rtt: a.rttSeries.map((p) => ({ tMs: rel(p.tMs), rttMs: p.value })),
    };
    if (!summary) verdict.push('ping ended without its statistics');
    if (traffic.ping.errors > 0 || errorLines.length)
      verdict.push(`ping reported ${traffic.ping.errors} error(s)`);
    if (traffic.ping.lost > 0) verdict.push(`ping: ${traffic.ping.lost} lost`);
  }

  let udpWindows: ReturnType<typeof analyzeSends>['windows'] = [];
  if (run.files['udp log']) {
    const records: SendRecord[] = [];
    await scanUdpLog(lines(join(dir, run.files['udp log'])), (r) => records.push(r));
    const report = analyzeSends(records, { swaps: marks });
    udpWindows = report.windows;
    const summary = run.files.udp
      ? (JSON.parse(
          (await readFile(join(dir, run.files.udp), 'utf8')).trim().split('\n').pop() ?? '{}',
        ) as { ratePerS?: number })
      : {};
    const perServer = await udpPerServer(dir, run, counted);
    traffic.udp = {
      sent: report.total.sent,
      received: report.total.unique,
      lost: report.total.lost,
      duplicated: report.total.duplicated,
      reordered: report.total.reordered,
      ratePerS: summary.ratePerS ?? 0,
      ...(perServer ? { perServer } : {}),
    };
    if (report.total.lost > 0) verdict.push(`udp: ${report.total.lost} lost`);
    if (report.total.duplicated > 0) verdict.push(`udp: ${report.total.duplicated} duplicated`);
  }

  if (run.files['ncat sent']) {
    const sentLines = Number((await readFile(join(dir, run.files['ncat sent']), 'utf8')).trim());
    const perServer: Record<string, number> = {};
    for (const node of Object.keys(run.serverAddresses)) {
      const f = run.files[`ncat ${node}`];
      const text = f ? await readFile(join(dir, f), 'utf8') : '';
      perServer[node] = text.split('\n').filter((l) => l.startsWith('ncat line ')).length;
    }
    traffic.ncatUdp = { sentLines, perServer };
  }

  if (run.files.tcp) {
    const last = (await readFile(join(dir, run.files.tcp), 'utf8')).trim().split('\n').pop();
    const t = JSON.parse(last || '{}') as {
      bytesSent?: number;
      bytesIntact?: number;
      corrupt?: number;
      ended?: { kind: 'reset' | 'closed' | 'error' | 'open'; atMs: number | null; message: string };
      longestStallMs?: number;
      longestStallAtMs?: number | null;
    };
    const ended = t.ended ?? { kind: 'error' as const, atMs: null, message: 'no report' };
    const moves = run.swaps.filter((s) => s.tcpMoved !== undefined);
    let afterSwap: { index: number; ms: number } | null = null;
    if (ended.atMs !== null)
      for (const s of numbered)
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
    traffic.tcp = {
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
    };
    if ((t.corrupt ?? 0) > 0) verdict.push(`tcp: ${t.corrupt} corrupt chunk(s)`);
    (outcome.asPromised ? observed : verdict).push(outcome.line);
  }

  // The demo's TCP client across one swap, after the run (tcp-observation.json).
  if (run.files['tcp observation']) {
    const c = JSON.parse(
      await readFile(join(dir, run.files['tcp observation']), 'utf8'),
    ) as ClientAcrossSwap;
    const outcome = clientOutcome((run.flow.tcpPolicy ?? 'reset') as TcpPolicy, c);
    (outcome.asPromised ? observed : verdict).push(outcome.line);
  }

  // When the rule was committed: its step's start (older runs: the issue time) plus its length.
  const committed = (s: RunRecord['swaps'][number]) => (s.ruleStartedMs ?? s.issuedMs) + s.ruleMs;
  const swaps: SwapRecord[] = numbered.map((s, i) => {
    const g = gaps[i];
    const w = udpWindows[i];
    const ruleStarted = s.ruleStartedMs ?? s.issuedMs;
    return {
      index: s.index,
      flow: run.flow.address,
      from: s.from,
      to: s.to,
      issuedMs: rel(s.issuedMs),
      committedMs: rel(committed(s)),
      conntrackDoneMs: rel(committed(s) + s.conntrackMs),
      // From the swap being issued: the wait before the rule (the controller's lock, its state,
      // the plan, the issuing process getting a CPU) is part of it, and kept apart.
      controlMs: {
        wait: ruleStarted - s.issuedMs,
        rule: s.ruleMs,
        conntrack: s.conntrackMs,
        total: committed(s) + s.conntrackMs - s.issuedMs,
      },
      applyMs: s.totalMs,
      gapMs: g?.gapMs ?? null,
      firstAtNewMs: g?.firstNewMs != null ? g.firstNewMs - s.issuedMs : null,
      inFlight: g && g.gapMs !== null ? g.inFlight : null,
      ...(w ? { udp: { lost: w.lost, duplicated: w.duplicated, reordered: w.reordered } } : {}),
      ...(s.tcpMoved !== undefined ? { tcp: { moved: s.tcpMoved, ms: s.tcpMs ?? 0 } } : {}),
    };
  });

  // Packets each node received per interval (kernel counters, sampled): a reading's growth is
  // spread over the time since the one before, so a late reading makes no spike.
  const intervalMs = run.options.sampleMs;
  const nodes: Record<string, number[]> = {};
  const samples = run.counters.samples;
  const seriesOf = Object.keys(samples[0]?.values ?? run.serverAddresses);
  for (const node of seriesOf)
    nodes[node] = counterBuckets(
      samples.map((x) => ({ tMs: x.tMs, value: x.values[node]?.Ip6InReceives ?? 0 })),
      t0,
      intervalMs,
      Math.max(intervalMs, run.endMs - t0),
    );
  // A few swaps at the captures' resolution (the counters' interval is as long as a swap period).
  const window = arrivalWindow(
    new Map([...arrivals].map(([node, times]) => [node, times.map((t) => t - t0)])),
    run.swaps.map((s) => s.issuedMs - t0),
  );

  if (run.interrupted) verdict.push('interrupted');
  if (run.swaps.length < run.swapsPlanned)
    verdict.push(`only ${run.swaps.length} of ${run.swapsPlanned} swaps done`);
  // A draining TCP connection stays on its first server by design: with only TCP traffic on a
  // flow with `tcp: drain`, the other servers receive nothing.
  const drainOnly = run.flow.tcpPolicy === 'drain' && run.options.traffic.every((t) => t === 'tcp');
  for (const node of Object.keys(run.serverAddresses))
    if (!drainOnly && run.swapsPlanned > 0 && (nodes[node] ?? []).every((x) => x === 0))
      verdict.push(`no packet reached ${node}`);
  const measured = gaps.filter((g) => g.gapMs !== null).length;

  const startedAt = new Date(t0);
  return {
    schema: RESULTS_SCHEMA,
    // The id the runner was given when the run started (older runs: the traffic's start).
    id: run.id ?? runId(run.lab.id, startedAt),
    startedAt: startedAt.toISOString(),
    durationMs: run.endMs - t0,
    lab: {
      id: run.lab.id,
      engine: run.lab.engine as ExperimentResults['lab']['engine'],
      controlPath: run.controlPath,
      nodes: run.lab.nodes as ExperimentResults['lab']['nodes'],
      flows: run.lab.flows,
    },
    config: {
      ...usedOptions(run.options),
      flow: run.flow.address,
      lateTranslated: run.lateTranslated,
      gapsMeasured: measured,
      captureDrops: run.captureDrops,
      tools: run.tools,
    },
    verdict: {
      ok: verdict.length === 0,
      lines: [
        ...(verdict.length ? verdict : ['no errors, no loss, every server reached']),
        ...observed,
      ],
    },
    traffic,
    swaps,
    series: { intervalMs, nodes },
    ...(window && Object.values(window.nodes).some((c) => c.some((x) => x > 0))
      ? { arrivals: window }
      : {}),
    ...(run.tcpConnections
      ? { tcpConnections: run.tcpConnections.map((s) => ({ ...s, tMs: rel(s.tMs) })) }
      : {}),
    files: ['run.json', ...Object.values(run.files)],
  };
}

/** The options, without the settings of traffic kinds the run did not use. */
function usedOptions(o: RunRecord['options']): Record<string, unknown> {
  const { ping, udp, ncatUdp, tcp, ...rest } = o;
  return {
    ...rest,
    ...(o.traffic.includes('ping') ? { ping } : {}),
    ...(o.traffic.includes('udp') ? { udp } : {}),
    ...(o.traffic.includes('ncat-udp') ? { ncatUdp } : {}),
    ...(o.traffic.includes('tcp') ? { tcp } : {}),
  };
}

/**
 * Whether a packet at a server came from the flow's client: the translator gives it the flow's
 * abstract address as source (the client's own address is accepted too, for engines that keep it).
 */
function fromClient(run: RunRecord, src: string): boolean {
  return src === run.flow.address || src === run.flow.initiatorAddress;
}

/**
 * Datagrams of the UDP load each server received: its echo server's own count (it prints it when
 * stopped). `Udp6InDatagrams` counts every UDP datagram of the namespace (ncat's lines too), so it
 * stands in only for runs without those counts in which no other UDP kind ran.
 */
async function udpPerServer(
  dir: string,
  run: RunRecord,
  counted: (name: string) => Record<string, number>,
): Promise<Record<string, number> | undefined> {
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
  return run.options.traffic.includes('ncat-udp') ? undefined : counted('Udp6InDatagrams');
}

/** How the flow's TCP connections moved at the swaps (policy `migrate`). */
function migrationsOf(moves: readonly { tcpMoved?: number; tcpMs?: number }[]) {
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
