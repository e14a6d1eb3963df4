// `flowmig demo`: the reference experiment run automatically — ping from A, swaps, counts, verdict,
// and the experiment's results and report.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requirePrograms } from '../exec/preflight.js';
import { concreteAddress, policyOf, servers } from '../lab/model.js';
import { HTML_FILE } from '../report/index.js';
import type { ExperimentResults } from '../results/schema.js';
import {
  type Distribution,
  distribution,
  type SwapTimeNames,
  type SwapTimes,
  swapTimeNames,
  swapTimeNotes,
  swapTimes,
} from '../results/stats.js';
import { checkAgainstLab, parseExperiment } from './options.js';
import { type PingSummary, parsePingSummary } from './ping.js';
import { measure } from './pipeline.js';
import { Background, sleep, stopAll } from './process.js';
import { defaultResultsDir, runId } from './run-id.js';
import type { Testbed } from './testbed.js';

export interface DemoOptions {
  readonly swaps: number;
  readonly swapEveryMs: number;
  /** ping -i, seconds. */
  readonly pingInterval: number;
  /** Also show that a TCP connection breaks at a swap (the reference's observation). */
  readonly tcp: boolean;
  /** Results directory (default ./flowmig-results/<run id>, the id `<time>-demo-<lab>`). */
  readonly out?: string;
  readonly onProgress?: (text: string) => void;
  /** Ends the demo early (Ctrl-C): traffic stops, results are written and marked, lab torn down. */
  readonly signal?: AbortSignal;
}

/** Written to `tcp-observation.json`; analyze.ts reads it for the verdict. */
export interface TcpObservation {
  readonly port: number;
  /** The client's first line reached the server that served the flow before the swap. */
  readonly deliveredBeforeSwap: boolean;
  readonly from: string;
  readonly to: string;
  /** The client ended within the wait after the swap. */
  readonly clientTerminated: boolean;
  readonly clientExitCode: number | null;
  readonly clientMessage: string;
}

export interface DemoResult {
  /** The run's id: the results directory's default name, and results.json's `id`. */
  readonly id: string;
  readonly lab: string;
  readonly engine: string;
  readonly flow: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly ping: {
    readonly argv: readonly string[];
    readonly summary: PingSummary;
    readonly lost: number;
    readonly errorLines: readonly string[];
    readonly ratePerS: number;
  };
  /** Echo requests that reached each server (Icmp6InEchos in its namespace). */
  readonly reached: Readonly<Record<string, number>>;
  /** The swaps' times as results.json has them per swap (`controlMs.*`, `applyMs`), summarised. */
  /** The names of the swap times (a cluster lab's are its own: etcd commit, applied on every host). */
  readonly swapTimeNames: SwapTimeNames;
  readonly swaps: SwapTimes & {
    readonly done: number;
    readonly requested: number;
    /** Migration gaps measured from the servers' captures. */
    readonly gapMs: Distribution;
  };
  /** Late packets the translator rewrote (former responders' replies after their entry went). */
  readonly late: {
    readonly translated: number;
    readonly perSwap: number;
    readonly graceMs: number;
  };
  readonly tcp: TcpObservation | undefined;
  /** The results' verdict (`{ok, lines}`), the same in the terminal, results.json and the report. */
  readonly verdict: ExperimentResults['verdict'];
  /** Where the experiment's results and report are. */
  readonly report: { readonly dir: string; readonly html: string };
  readonly notes: readonly string[];
}

const TCP_PORT = 7000;
const OBSERVATION_FILE = 'tcp-observation.json';

/**
 * The demo is the default experiment (ping at a high rate from the client, swaps between the
 * servers, captures, results and report) plus the reference's TCP observation, summed up as the
 * reference's verdict table.
 */
export async function runDemo(bed: Testbed, options: DemoOptions): Promise<DemoResult> {
  const say = options.onProgress ?? (() => {});
  const { lab } = bed;
  const flow = lab.flows[0];
  const client = lab.nodes.find((n) => n.name === flow?.initiator);
  if (!flow || !client) throw new Error('the demo needs a lab with a flow');
  const experiment = parseExperiment({
    traffic: ['ping'],
    ping: { interval: options.pingInterval },
    swaps: { count: options.swaps, periodMs: options.swapEveryMs, flow: flow.address },
    warmupMs: 200,
    tailMs: 200,
  });
  checkAgainstLab(experiment, lab);
  await bed.check(['ping', 'tcpdump', ...(options.tcp ? ['ncat'] : [])]);
  await requirePrograms(['sleep']);
  // One stamp names the run and its directory.
  const id = runId(lab.id, new Date(), 'demo');
  const dir = defaultResultsDir(id, options.out);
  let tcp: TcpObservation | undefined;
  const { run, results } = await measure(bed, experiment, dir, {
    id,
    onProgress: say,
    ...(options.signal ? { signal: options.signal } : {}),
    // The TCP observation joins the run's record, so the results' verdict (and the report's) has it.
    beforeTeardown: async () => {
      if (!options.tcp) return undefined;
      say('TCP: ncat client in A across one swap');
      tcp = await observeTcp(bed, flow.address, client.netns);
      await writeFile(join(dir, OBSERVATION_FILE), `${JSON.stringify(tcp)}\n`);
      return { 'tcp observation': OBSERVATION_FILE };
    },
  });

  const pingText = run.files.ping ? await readFile(join(dir, run.files.ping), 'utf8') : '';
  const summary = parsePingSummary(pingText.slice(-2_000));
  if (!summary) throw new Error(`ping ended without statistics (see ${join(dir, 'ping.txt')})`);
  const ping = results.traffic.ping;
  const reached: Record<string, number> = { ...(ping?.perServer ?? {}) };
  const done = results.swaps.length;
  const gaps = results.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]));
  const errorLines = ping?.errorLines ?? [];
  const policy = policyOf(lab, flow.address).tcp;
  const notes = [
    `ping ran as: ${run.tools.ping ?? ''}`,
    `lost = transmitted - received (the reference loses about 0.2 in-flight replies per swap; flowmig translates those late replies: ${run.lateTranslated.toLocaleString('en')} in this run)`,
    `migration gap = last echo request at the old server → first at the new one (captures): ${gaps.length} measured`,
    ...swapTimeNotes(swapTimeNames(results.lab)),
  ];
  if (tcp) {
    notes.push(
      tcp.clientTerminated
        ? `TCP: the ncat client in ${client.name} was terminated by the swap ${tcp.from} → ${tcp.to} (exit ${String(tcp.clientExitCode)}: ${tcp.clientMessage || 'no message'}); ${tcp.to} has no socket for the connection (tcp policy ${policy})`
        : `TCP: the ncat client in ${client.name} survived the swap ${tcp.from} → ${tcp.to} (tcp policy ${policy})`,
    );
  }
  return {
    id: results.id,
    lab: lab.id,
    engine: lab.engine,
    flow: flow.address,
    startedAt: results.startedAt,
    durationS: results.durationMs / 1000,
    ping: {
      argv: run.tools.ping?.split(' ').slice(4) ?? [],
      summary,
      lost: summary.transmitted - summary.received,
      errorLines: errorLines.slice(0, 20),
      ratePerS: summary.timeMs > 0 ? Math.round((summary.transmitted / summary.timeMs) * 1000) : 0,
    },
    reached,
    swapTimeNames: swapTimeNames(results.lab),
    swaps: {
      done,
      requested: options.swaps,
      ...swapTimes(results.swaps),
      gapMs: distribution(gaps),
    },
    late: {
      translated: run.lateTranslated,
      perSwap: done ? run.lateTranslated / done : 0,
      graceMs: lab.graceMs,
    },
    tcp,
    // One verdict: the results' (what report.html and results.json say), TCP observation included.
    verdict: results.verdict,
    report: { dir, html: join(dir, HTML_FILE) },
    notes,
  };
}

/** An ncat TCP client in the initiator talks to the responder; one swap; does the client die? */
async function observeTcp(
  bed: Testbed,
  address: string,
  clientNetns: string,
): Promise<TcpObservation> {
  const { lab } = bed;
  const listeners = servers(lab).map((s) =>
    Background.start(['ncat', '-l', '-k', concreteAddress(lab, s.name) ?? '', String(TCP_PORT)], {
      netns: s.netns,
      stdin: true,
    }),
  );
  let clientProc: Background | undefined;
  try {
    await sleep(300);
    const current = await bed.responder(address);
    const fromIndex = servers(lab).findIndex((s) => s.name === current);
    clientProc = Background.start(['ncat', address, String(TCP_PORT)], {
      netns: clientNetns,
      stdin: true,
    });
    clientProc.write('line before the swap\n');
    const delivered = (await listeners[fromIndex]?.waitFor('line before the swap', 3_000)) ?? false;
    const r = await bed.swap(address);
    clientProc.write('line after the swap\n');
    const ended = await Promise.race([
      clientProc.exited.then(() => true),
      sleep(5_000).then(() => false),
    ]);
    const exit = ended ? await clientProc.exited : undefined;
    return {
      port: TCP_PORT,
      deliveredBeforeSwap: delivered,
      from: r.from,
      to: r.to,
      clientTerminated: ended,
      clientExitCode: exit?.code ?? null,
      clientMessage: clientProc.stderr.trim().split('\n')[0] ?? '',
    };
  } finally {
    await stopAll([clientProc, ...listeners]);
  }
}
