// Turns a run's raw data (run.json, the traffic's outputs, captures, counters) into the results
// (results.json): what every run has (swaps, migration gaps, packet series, the verdict) here,
// each traffic kind's figures from its module (traffic/). The arithmetic lives in src/metrics.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type MigrationGap, migrationGaps } from '../metrics/gaps.js';
import { scanPcap } from '../metrics/pcap.js';
import { counterBuckets } from '../metrics/series.js';
import { type ClientAcrossSwap, clientOutcome, type TcpPolicy } from '../metrics/tcp-outcome.js';
import { arrivalWindow } from '../metrics/window.js';
import { type ExperimentResults, RESULTS_SCHEMA, type SwapRecord } from '../results/schema.js';
import { RUN_FILE, type RunRecord, readRecord } from './record.js';
import { runId } from './run-id.js';
import { ALL_TRAFFIC, type RunData } from './traffic/index.js';

/** Results of a finished run in `dir` (which holds run.json and the files it names). */
export async function analyzeRun(dir: string): Promise<ExperimentResults> {
  const run = await readRecord(dir);
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
  // Swaps are numbered from 1 (older run.json files numbered them from 0: the position decides).
  const numbered = run.swaps.map((s, i) => ({ ...s, index: i + 1 }));
  const data: RunData = { dir, run, rel, marks, swaps: numbered, counted };

  // Each traffic kind's figures; what fails the verdict, and what it says beside.
  const traffic: ExperimentResults['traffic'] = {};
  const verdict: string[] = [];
  const observed: string[] = [];
  const perSwap: ((position: number) => Partial<SwapRecord>)[] = [];
  for (const kind of ALL_TRAFFIC) {
    const k = await kind.analyze(data);
    if (!k) continue;
    Object.assign(traffic, k.traffic);
    verdict.push(...k.failures);
    observed.push(...(k.observed ?? []));
    if (k.perSwap) perSwap.push(k.perSwap);
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
      ...Object.assign({}, ...perSwap.map((f) => f(i))),
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
    files: [RUN_FILE, ...Object.values(run.files)],
  };
}

/** The options, without the settings of traffic kinds the run did not use. */
function usedOptions(o: RunRecord['options']): Record<string, unknown> {
  const kept: Record<string, unknown> = { ...o };
  for (const k of ALL_TRAFFIC) delete kept[k.optionsKey];
  for (const k of ALL_TRAFFIC) if (o.traffic.includes(k.kind)) kept[k.optionsKey] = o[k.optionsKey];
  return kept;
}

/**
 * Whether a packet at a server came from the flow's client: the translator gives it the flow's
 * abstract address as source (the client's own address is accepted too, for engines that keep it).
 */
function fromClient(run: RunRecord, src: string): boolean {
  return src === run.flow.address || src === run.flow.initiatorAddress;
}
