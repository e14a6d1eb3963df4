// `flowmig demo`: the reference experiment run automatically — ping from A, swaps, counts, verdict.
import type { Flowmig } from '../control/flowmig.js';
import { requirePrograms } from '../exec/preflight.js';
import { concreteAddress, type Lab, servers } from '../lab/model.js';
import { type PingSummary, parsePingSummary, pingErrorLines } from './ping.js';
import { Background, sleep, stopAll } from './process.js';
import { delta, NetnsCounters } from './snmp6.js';
import { type Distribution, distribution } from './stats.js';

export interface DemoOptions {
  readonly swaps: number;
  readonly swapEveryMs: number;
  /** ping -i, seconds. */
  readonly pingInterval: number;
  /** Also show that a TCP connection breaks at a swap (the reference's observation). */
  readonly tcp: boolean;
  readonly onProgress?: (text: string) => void;
}

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
  readonly swaps: {
    readonly done: number;
    readonly requested: number;
    readonly latencyMs: Distribution;
  };
  /** Late packets the translator rewrote (former responders' replies after their entry went). */
  readonly late: {
    readonly translated: number;
    readonly perSwap: number;
    readonly graceMs: number;
  };
  readonly tcp: TcpObservation | undefined;
  readonly verdict: { readonly pass: boolean; readonly reasons: readonly string[] };
  readonly notes: readonly string[];
}

const TCP_PORT = 7000;

export async function runDemo(fm: Flowmig, lab: Lab, options: DemoOptions): Promise<DemoResult> {
  const say = options.onProgress ?? (() => {});
  const flow = lab.flows[0];
  const client = lab.nodes.find((n) => n.name === flow?.initiator);
  if (!flow || !client) throw new Error('the demo needs a lab with a flow');
  await fm.check(lab, ['ping', ...(options.tcp ? ['ncat'] : [])]);
  await requirePrograms(['sleep']);
  const startedAt = new Date();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const observers: NetnsCounters[] = [];
  let ping: Background | undefined;
  // Refusal or rollback inside up leaves nothing to tear down; after it succeeds, down must run.
  await fm.up(lab, { onStep: (text, i, n) => say(`building lab [${i}/${n}] ${text}`) });
  try {
    const serverNodes = servers(lab);
    for (const s of serverNodes) observers.push(await NetnsCounters.open(s.netns));

    // Warm the path (neighbour entries) so the measured run starts in steady state.
    await fm.runner.run(['ping', '-c', '3', '-i', '0.05', '-w', '5', flow.address], {
      netns: client.netns,
    });
    const before = await Promise.all(observers.map((o) => o.read()));

    const pingArgv = ['ping', '-q', '-i', String(options.pingInterval), flow.address];
    ping = Background.start(pingArgv, { netns: client.netns });
    await sleep(200);
    const latencies: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < options.swaps && !interrupted && ping.running; i++) {
      const r = await fm.swap(lab.id, flow.address);
      latencies.push(r.totalMs);
      if (i % 5 === 4 || i === options.swaps - 1) {
        const now = await Promise.all(observers.map((o) => o.read()));
        const counts = serverNodes
          .map(
            (s, k) =>
              `${s.name} ${delta(before[k] ?? {}, now[k] ?? {}, 'Icmp6InEchos').toLocaleString('en')}`,
          )
          .join(' · ');
        const elapsed = ((Date.now() - t0) / 1000).toFixed(1);
        say(
          `swap ${i + 1}/${options.swaps} · ${elapsed}s · echo requests reached ${counts} · last swap ${r.totalMs.toFixed(1)} ms`,
        );
      }
      await sleep(options.swapEveryMs);
    }
    await sleep(200);
    const pingExit = await ping.stop('SIGINT', 5_000);
    const summary = parsePingSummary(ping.stdout);
    if (!summary) {
      throw new Error(
        `ping ended without statistics (exit ${String(pingExit.code)}): ${ping.stderr.trim().split('\n')[0] ?? ''}`,
      );
    }
    await sleep(50);
    const after = await Promise.all(observers.map((o) => o.read()));
    const reached: Record<string, number> = {};
    serverNodes.forEach((s, k) => {
      reached[s.name] = delta(before[k] ?? {}, after[k] ?? {}, 'Icmp6InEchos');
    });

    const lateStatus = (await fm.status(lab.id)).late;
    let tcp: TcpObservation | undefined;
    if (options.tcp && !interrupted) {
      say('TCP: ncat client in A across one swap');
      tcp = await observeTcp(fm, lab, flow.address, client.netns);
    }

    const errorLines = pingErrorLines(ping.stdout, ping.stderr);
    const reasons: string[] = [];
    if (interrupted) reasons.push('interrupted');
    if (latencies.length < options.swaps)
      reasons.push(`only ${latencies.length} of ${options.swaps} swaps done`);
    if (summary.errors > 0) reasons.push(`ping reported ${summary.errors} errors`);
    if (errorLines.length > 0) reasons.push(`ping printed ${errorLines.length} error line(s)`);
    for (const s of serverNodes)
      if ((reached[s.name] ?? 0) === 0) reasons.push(`no echo request reached ${s.name}`);
    const notes = [
      `ping ran as: ip netns exec ${client.netns} ${pingArgv.join(' ')}`,
      `lost = transmitted - received (the reference loses about 0.2 in-flight replies per swap; flowmig translates those late replies: ${lateStatus.translated.toLocaleString('en')} in this run)`,
    ];
    if (tcp) {
      notes.push(
        tcp.clientTerminated
          ? `TCP: the ncat client in ${client.name} was terminated by the swap ${tcp.from} → ${tcp.to} (exit ${String(tcp.clientExitCode)}: ${tcp.clientMessage || 'no message'}), as the reference observed: ${tcp.to} has no socket for the connection`
          : `TCP: the ncat client in ${client.name} survived the swap ${tcp.from} → ${tcp.to} (unexpected for this engine)`,
      );
    }
    return {
      lab: lab.id,
      engine: lab.engine,
      flow: flow.address,
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      ping: {
        argv: pingArgv,
        summary,
        lost: summary.transmitted - summary.received,
        errorLines: errorLines.slice(0, 20),
        ratePerS:
          summary.timeMs > 0 ? Math.round((summary.transmitted / summary.timeMs) * 1000) : 0,
      },
      reached,
      swaps: {
        done: latencies.length,
        requested: options.swaps,
        latencyMs: distribution(latencies),
      },
      late: {
        translated: lateStatus.translated,
        perSwap: latencies.length ? lateStatus.translated / latencies.length : 0,
        graceMs: lateStatus.graceMs,
      },
      tcp,
      verdict: { pass: reasons.length === 0, reasons },
      notes,
    };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await stopAll([ping]);
    await Promise.all(observers.map((o) => o.close()));
    say('tearing the lab down');
    await fm.down(lab.id);
  }
}

/** An ncat TCP client in the initiator talks to the responder; one swap; does the client die? */
async function observeTcp(
  fm: Flowmig,
  lab: Lab,
  address: string,
  clientNetns: string,
): Promise<TcpObservation> {
  const listeners = servers(lab).map((s) =>
    Background.start(['ncat', '-l', '-k', concreteAddress(lab, s.name) ?? '', String(TCP_PORT)], {
      netns: s.netns,
      stdin: true,
    }),
  );
  let clientProc: Background | undefined;
  try {
    await sleep(300);
    const current = (await fm.flows(lab.id)).find((f) => f.address === address);
    const fromIndex = servers(lab).findIndex((s) => s.name === current?.responder);
    clientProc = Background.start(['ncat', address, String(TCP_PORT)], {
      netns: clientNetns,
      stdin: true,
    });
    clientProc.write('line before the swap\n');
    const delivered = (await listeners[fromIndex]?.waitFor('line before the swap', 3_000)) ?? false;
    const r = await fm.swap(lab.id, address);
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
