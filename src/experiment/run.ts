// `flowmig experiment`: builds the lab, starts observers (counters, captures) and traffic, swaps the
// flow on schedule, stops everything, tears the lab down, and leaves the raw data in a directory
// for analyze.ts. Every program started here is stopped by its PID, also on failure.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Flowmig } from '../control/flowmig.js';
import { parseConntrackList } from '../engines/conntrack.js';
import { InputError } from '../errors.js';
import { InterruptedError, listenForInterrupt, sleepUnless } from '../exec/interrupt.js';
import { requirePrograms } from '../exec/preflight.js';
import { concreteAddress, type Lab, nodeByName, policyOf, servers } from '../lab/model.js';

/** How often the flow's TCP connections are counted (one conntrack listing each). */
const TCP_SAMPLE_MS = 200;

import { checkAgainstLab, type ExperimentOptions, swapTimes } from './options.js';
import { Background, sleep, stopAll } from './process.js';
import { runId } from './results.js';
import { NetnsCounters, type Snmp6 } from './snmp6.js';

/** What the runner records beside the tools' own outputs (`run.json`). */
export interface RunRecord {
  /** The run's id (see runId; older runs: none, the results derive one from startMs). */
  readonly id?: string;
  readonly lab: {
    readonly id: string;
    readonly engine: string;
    readonly nodes: { name: string; role: string; namespace: string }[];
    readonly flows: { address: string; name?: string; initiator: string; responders: string[] }[];
  };
  readonly flow: {
    address: string;
    initiator: string;
    initiatorAddress: string;
    /** The flow's TCP policy (older runs: not recorded, reset). */
    tcpPolicy?: string;
    /** With `tcp: drain`: how long a former server keeps the flow's connections. */
    drainMs?: number;
  };
  readonly serverAddresses: Record<string, string>;
  readonly options: ExperimentOptions;
  /** Epoch ms: traffic started (time 0 of the results), the warm-up ended, traffic stopped. */
  readonly startMs: number;
  readonly swapsFromMs: number;
  readonly endMs: number;
  readonly swaps: SwapLog[];
  readonly swapsPlanned: number;
  readonly controlPath: string;
  readonly lateTranslated: number;
  readonly interrupted: boolean;
  /** Counter samples (/proc/net/snmp6 of the servers and the translator): epoch ms, then per node per counter. */
  readonly counters: {
    names: readonly string[];
    samples: { tMs: number; values: Record<string, Record<string, number>> }[];
  };
  /** Per captured node: what tcpdump said it dropped (a capture under load may miss packets). */
  readonly captureDrops: Record<string, number>;
  /**
   * With TCP traffic: the flow's TCP connections per server (conntrack entries in the translator,
   * by the server they are translated to), sampled every TCP_SAMPLE_MS: where connections are,
   * drain after a swap (policy `drain`) or move (policy `migrate`).
   */
  readonly tcpConnections?: { tMs: number; perNode: Record<string, number> }[];
  readonly files: Record<string, string>;
  readonly tools: Record<string, string>;
}

export interface SwapLog {
  /** The swap's number, from 1 (as the progress line shows it). */
  readonly index: number;
  readonly from: string;
  readonly to: string;
  /** Epoch ms when the swap was issued. */
  readonly issuedMs: number;
  /** Epoch ms when the rule change started (after the controller took the lab's lock). */
  readonly ruleStartedMs: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly totalMs: number;
  readonly conntrackDeleted: number;
  readonly path: string;
  /** A flow with `tcp: migrate`: connections moved, and hold → resume in ms. */
  readonly tcpMoved?: number;
  readonly tcpMs?: number;
}

export interface RunHooks {
  readonly onProgress?: (text: string) => void;
  /** Called after the run's programs stopped, while the lab is still up (not when interrupted). */
  readonly beforeTeardown?: () => Promise<void>;
  /**
   * Ends the run early when it aborts (the CLI's Ctrl-C): traffic is stopped, what was measured is
   * kept, the lab is torn down. Without one, the run listens for SIGINT and SIGTERM itself.
   */
  readonly signal?: AbortSignal;
  /**
   * The run's id, stamped by the caller when it named the results directory (runId); default:
   * stamped when runExperiment is called.
   */
  readonly id?: string;
}

const TRAFFIC = fileURLToPath(new URL('../traffic/', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
/**
 * Counters read in each server and the translator: IPv6 packets received, echo requests, UDP
 * datagrams (delivered to a socket), packets the translator forwarded.
 */
export const COUNTERS = [
  'Ip6InReceives',
  'Icmp6InEchos',
  'Udp6InDatagrams',
  'Ip6OutForwDatagrams',
] as const;

/** Refuses a results directory that holds anything (it is created once the lab is up). */
export async function checkOutDir(dir: string): Promise<void> {
  const existing = await readdir(dir).catch(() => undefined);
  if (existing && existing.length > 0)
    throw new InputError('', [`results directory ${dir} is not empty; name a new one with --out`]);
}

/** Runs the experiment; the lab is built here and torn down before this returns. */
export async function runExperiment(
  fm: Flowmig,
  lab: Lab,
  o: ExperimentOptions,
  dir: string,
  hooks: RunHooks = {},
): Promise<RunRecord> {
  const say = hooks.onProgress ?? (() => {});
  const id = hooks.id ?? runId(lab.id);
  const { flow } = checkAgainstLab(o, lab);
  const client = nodeByName(lab, flow.initiator);
  const initiatorAddress = concreteAddress(lab, flow.initiator);
  if (!client || !initiatorAddress) throw new Error(`flow ${flow.address} has no client`);
  const serverNodes = servers(lab);
  const programs = new Set<string>(['sleep']);
  if (o.traffic.includes('ping')) programs.add('ping');
  if (o.traffic.includes('ncat-udp')) programs.add('ncat');
  if (o.capture !== 'none') programs.add('tcpdump');
  await fm.check(lab, [...programs]);
  await requirePrograms([...programs]);
  await checkOutDir(dir);

  const files: Record<string, string> = {};
  const tools: Record<string, string> = {};
  const procs: Background[] = [];
  const counters: NetnsCounters[] = [];
  const start = (name: string, argv: string[], options: Parameters<typeof Background.start>[1]) => {
    const p = Background.start(argv, options);
    procs.push(p);
    tools[name] = `ip netns exec ${options?.netns ?? '-'} ${argv.join(' ')}`;
    return p;
  };
  const own = hooks.signal === undefined ? listenForInterrupt() : undefined;
  const signal = hooks.signal ?? (own as NonNullable<typeof own>).signal;
  const stopped = () => signal.aborted;
  /** Nothing was sent yet: an interrupt leaves no results directory behind. */
  let trafficStarted = false;
  let madeDir = false;
  if (stopped()) {
    own?.dispose();
    throw new InterruptedError('interrupted before the lab was built; nothing was changed');
  }
  try {
    await fm.up(lab, { onStep: (text, i, n) => say(`building lab [${i}/${n}] ${text}`) });
  } catch (error) {
    own?.dispose();
    // A terminal's Ctrl-C can reach a build step in the instant between its fork and its move to
    // a process group of its own (the signal is then pending in it): the build rolled back.
    if (stopped())
      throw new InterruptedError(
        `interrupted while the lab was built (${(error as Error).message})`,
      );
    throw error;
  }
  try {
    if (stopped())
      throw new InterruptedError(
        'interrupted while the lab was built; it was torn down, nothing was measured',
      );
    madeDir = (await mkdir(dir, { recursive: true })) !== undefined;
    // Observers: counters in every server, captures of what arrives at them (and more with 'all').
    const observed = [...serverNodes, lab.translator];
    for (const n of observed) counters.push(await NetnsCounters.open(n.netns));
    const captured = o.capture === 'none' ? [] : o.capture === 'all' ? lab.nodes : serverNodes;
    const captures: Background[] = [];
    for (const n of captured) {
      const link = lab.links.find((l) => l.node === n.name);
      const file = `capture-${n.name}.pcap`;
      files[`capture ${n.name}`] = file;
      const iface = link ? ['-i', link.nodeIf, '-Q', 'in'] : ['-i', 'any'];
      captures.push(
        start(
          `capture ${n.name}`,
          [
            'tcpdump',
            ...iface,
            '-n',
            '-s',
            String(o.snaplen),
            '--time-stamp-precision=nano',
            '-B',
            '65536', // KiB of kernel buffer: a flood must not outrun the writer
            '-w',
            join(dir, file),
            'ip6',
          ],
          { netns: n.netns },
        ),
      );
    }
    for (const c of captures) await ready(c, /listening on/, 'stderr', 'tcpdump');
    if (stopped())
      throw new InterruptedError(
        'interrupted while the observers started; the lab was torn down, nothing was measured',
      );

    // Servers of each traffic kind, in every server namespace.
    const script = (name: string) => join(TRAFFIC, `${name}.js`);
    const listeners = new Map<string, Background>();
    /** The UDP load's echo servers: each counts what it received (per kind, not per namespace). */
    const udpEchoes = new Map<string, Background>();
    const echoes: [string, number][] = [];
    if (o.traffic.includes('udp')) echoes.push(['udp-echo', o.udp.port]);
    // A flow whose TCP connections move needs flowmig's server runtime (it hands them over).
    const liveTcp = policyOf(lab, flow.address).tcp === 'migrate';
    if (o.traffic.includes('tcp') && liveTcp)
      await fm.serve(lab.id, { port: o.tcp.port, mode: 'echo' });
    else if (o.traffic.includes('tcp')) echoes.push(['tcp-echo', o.tcp.port]);
    for (const s of serverNodes) {
      for (const [program, port] of echoes) {
        const argv = [process.execPath, script(program), '--port', String(port)];
        const p = start(`${program} ${s.name}`, argv, { netns: s.netns });
        if (program === 'udp-echo') udpEchoes.set(s.name, p);
        await ready(p, /listening/, 'stdout', program);
      }
      if (o.traffic.includes('ncat-udp')) {
        const address = concreteAddress(lab, s.name) ?? '';
        listeners.set(
          s.name,
          start(`ncat listener ${s.name}`, ['ncat', '-u', '-l', address, String(o.ncatUdp.port)], {
            netns: s.netns,
          }),
        );
      }
    }
    if (listeners.size) await sleep(300); // ncat prints nothing when it listens

    if (stopped())
      throw new InterruptedError(
        'interrupted while the servers started; the lab was torn down, nothing was measured',
      );
    // Warm the path (neighbour entries) so the run starts in steady state.
    await fm.runner.run(['ping', '-c', '3', '-i', '0.05', '-w', '5', flow.address], {
      netns: client.netns,
    });

    const startMs = now();
    const samples: RunRecord['counters']['samples'] = [];
    const sample = async () => {
      const values: Record<string, Record<string, number>> = {};
      const read: Snmp6[] = await Promise.all(counters.map((c) => c.read()));
      observed.forEach((n, k) => {
        values[n.name] = Object.fromEntries(COUNTERS.map((c) => [c, read[k]?.[c] ?? 0]));
      });
      samples.push({ tMs: now(), values });
    };
    if (stopped())
      throw new InterruptedError(
        'interrupted before any traffic was sent; the lab was torn down, nothing was measured',
      );
    await sample();
    let sampling = true;
    // A failed reading ends the sampling, not the run: the handler is attached now (an unhandled
    // rejection would end the process with the lab up) and the error is reported after teardown.
    let samplerError: unknown;
    const sampler = (async () => {
      let next = now() + o.sampleMs;
      while (sampling) {
        await sleep(Math.max(0, next - now()));
        next += o.sampleMs;
        await sample();
      }
    })().catch((error: unknown) => {
      samplerError = error;
    });

    // Where the flow's TCP connections are (see RunRecord.tcpConnections).
    const tcpConnections: { tMs: number; perNode: Record<string, number> }[] = [];
    const nodeAt = new Map(lab.links.map((l) => [l.address.address, l.node]));
    const tcpSampler = (async () => {
      if (!o.traffic.includes('tcp')) return;
      while (sampling) {
        const list = await fm.runner
          .run(['conntrack', '-L', '-f', 'ipv6', '-p', 'tcp'], {
            netns: lab.translator.netns,
            okExitCodes: [0, 1],
          })
          .catch(() => undefined);
        if (list) {
          const perNode: Record<string, number> = Object.fromEntries(
            serverNodes.map((s) => [s.name, 0]),
          );
          for (const e of parseConntrackList(list.stdout)) {
            const node = nodeAt.get(e.replySrc);
            if (e.origDst === flow.address && node && node in perNode)
              perNode[node] = (perNode[node] ?? 0) + 1;
          }
          tcpConnections.push({ tMs: now(), perNode });
        }
        // Jittered (±25 %): a fixed period can lock onto the swaps' own (a connection moved
        // every ~100 ms, sampled every ~210 ms, was seen on one server only).
        await sleep(TCP_SAMPLE_MS * (0.75 + Math.random() / 2));
      }
    })();

    // Traffic.
    const traffic: Record<string, Background> = {};
    trafficStarted = true;
    if (o.traffic.includes('ping')) {
      files.ping = 'ping.txt';
      traffic.ping = start(
        'ping',
        ['ping', '-D', '-i', String(o.ping.interval), '-s', String(o.ping.size), flow.address],
        { netns: client.netns, stdoutFile: join(dir, files.ping) },
      );
      // Until its first reply, ping may not have set up its SIGINT handler yet: stopped earlier
      // (an interrupt right after the start), it would end without its statistics.
      await replied(traffic.ping, join(dir, files.ping));
    }
    if (o.traffic.includes('udp')) {
      files['udp log'] = 'udp.log';
      traffic.udp = start(
        'udp',
        [
          process.execPath,
          script('udp-load'),
          '--to',
          flow.address,
          '--port',
          String(o.udp.port),
          '--rate',
          String(o.udp.rate),
          '--size',
          String(o.udp.size),
          '--log',
          join(dir, files['udp log']),
        ],
        { netns: client.netns },
      );
    }
    if (o.traffic.includes('tcp'))
      traffic.tcp = start(
        'tcp',
        [
          process.execPath,
          script('tcp-stream'),
          '--to',
          flow.address,
          '--port',
          String(o.tcp.port),
          '--rate',
          String(o.tcp.rate),
          '--chunk',
          String(o.tcp.chunk),
        ],
        { netns: client.netns },
      );
    let ncatLines = 0;
    let ncatTimer: NodeJS.Timeout | undefined;
    if (o.traffic.includes('ncat-udp')) {
      const sender = start('ncat-udp', ['ncat', '-u', flow.address, String(o.ncatUdp.port)], {
        netns: client.netns,
        stdin: true,
      });
      traffic['ncat-udp'] = sender;
      const t0 = performance.now();
      ncatTimer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) / 1000) * o.ncatUdp.rate);
        while (ncatLines < due) sender.write(`ncat line ${ncatLines++}\n`);
      }, 5);
    }

    // Swaps on schedule after the warm-up.
    say(`warm-up: traffic running, first swap in ${o.warmupMs} ms`);
    await sleepUnless(o.warmupMs, signal);
    const swapsFromMs = now();
    const plan = swapTimes(o);
    const swaps: SwapLog[] = [];
    let lastSay = 0;
    for (const [i, at] of plan.entries()) {
      if (stopped()) break;
      const dead = Object.entries(traffic).find(([k, p]) => k !== 'tcp' && !p.running);
      if (dead)
        throw new Error(
          `${dead[0]} ended during the run: ${dead[1].stderr.trim().split('\n')[0] ?? ''}`,
        );
      await sleepUnless(Math.max(0, swapsFromMs + at - now()), signal);
      if (stopped()) break;
      const issuedMs = now();
      const r = await fm.swap(lab.id, flow.address);
      swaps.push({
        index: i + 1,
        from: r.from,
        to: r.to,
        issuedMs,
        ruleStartedMs: r.steps[0]?.startedAt ?? issuedMs,
        ruleMs: r.ruleMs,
        conntrackMs: r.conntrackMs,
        totalMs: r.totalMs,
        conntrackDeleted: r.conntrackDeleted,
        path: r.path,
        ...(r.tcp ? { tcpMoved: r.tcp.moved, tcpMs: r.tcp.totalMs } : {}),
      });
      if (now() - lastSay > 1_000 || i === plan.length - 1) {
        lastSay = now();
        const elapsed = ((now() - startMs) / 1000).toFixed(1);
        say(
          `swap ${i + 1}/${plan.length} · ${elapsed}s · last ${r.from} → ${r.to} in ${r.totalMs.toFixed(2)} ms`,
        );
      }
    }
    const minEnd = swapsFromMs + Math.max(0, o.durationMs - o.warmupMs);
    await sleepUnless(Math.max(o.tailMs, minEnd - now()), signal);
    if (ncatTimer) clearInterval(ncatTimer);
    const endMs = now();

    // Stop traffic (each prints its own figures), then observers.
    say('stopping traffic and observers');
    if (traffic.ping) {
      await traffic.ping.stop('SIGINT', 5_000);
      files['ping stderr'] = 'ping.stderr.txt';
      await writeFile(join(dir, files['ping stderr']), traffic.ping.stderr);
    }
    if (traffic.udp) {
      await traffic.udp.stop('SIGTERM', 30_000);
      // Stopped (an interrupt) before it got as far as its log: it has nothing to report per datagram.
      if (!existsSync(join(dir, files['udp log'] ?? ''))) delete files['udp log'];
      files.udp = 'udp-load.json';
      await writeFile(join(dir, files.udp), traffic.udp.stdout);
      // Each echo server prints {"received": n} when stopped: the load's datagrams per server.
      for (const [node, echo] of udpEchoes) {
        await echo.stop('SIGTERM', 2_000);
        files[`udp echo ${node}`] = `udp-echo-${node}.json`;
        await writeFile(join(dir, files[`udp echo ${node}`] ?? ''), echo.stdout);
      }
    }
    if (traffic.tcp) {
      await traffic.tcp.stop('SIGTERM', 5_000);
      files.tcp = 'tcp-stream.json';
      await writeFile(join(dir, files.tcp), traffic.tcp.stdout);
    }
    if (traffic['ncat-udp']) {
      await sleep(100);
      traffic['ncat-udp'].endInput();
      await traffic['ncat-udp'].stop('SIGTERM', 2_000);
      await sleep(100);
      files['ncat sent'] = 'ncat-sent.txt';
      await writeFile(join(dir, files['ncat sent']), `${ncatLines}\n`);
      for (const [node, l] of listeners) {
        await l.stop('SIGTERM', 2_000);
        files[`ncat ${node}`] = `ncat-${node}.txt`;
        await writeFile(join(dir, files[`ncat ${node}`] ?? ''), l.stdout);
      }
    }
    sampling = false;
    await sampler;
    await tcpSampler;
    if (samplerError !== undefined && !stopped())
      throw new Error(`reading the counters failed: ${(samplerError as Error).message}`);
    // tcpdump gets packets from the kernel in blocks that are handed over when full or after a
    // timeout (up to 1 s); stopping it earlier loses the packets of the block being filled.
    if (captures.length) await sleep(1_200);
    const captureDrops: Record<string, number> = {};
    for (const [k, c] of captures.entries()) {
      await c.stop('SIGINT', 10_000);
      const dropped = /(\d+) packets? dropped by kernel/.exec(c.stderr);
      captureDrops[captured[k]?.name ?? '?'] = Number(dropped?.[1] ?? 0);
    }
    const status = await fm.status(lab.id);
    const record: RunRecord = {
      id,
      lab: {
        id: lab.id,
        engine: lab.engine,
        nodes: lab.nodes.map((n) => ({ name: n.name, role: n.role, namespace: n.netns })),
        flows: lab.flows.map((f) => ({
          address: f.address,
          ...(f.name ? { name: f.name } : {}),
          initiator: f.initiator,
          responders: serverNodes.map((s) => s.name),
        })),
      },
      flow: {
        address: flow.address,
        initiator: flow.initiator,
        initiatorAddress,
        tcpPolicy: policyOf(lab, flow.address).tcp,
        ...(policyOf(lab, flow.address).tcp === 'drain'
          ? { drainMs: policyOf(lab, flow.address).drainMs }
          : {}),
      },
      serverAddresses: Object.fromEntries(
        serverNodes.map((s) => [s.name, concreteAddress(lab, s.name) ?? '']),
      ),
      options: o,
      startMs,
      swapsFromMs,
      endMs,
      swaps,
      swapsPlanned: plan.length,
      controlPath:
        status.controlPath.kind === 'programs'
          ? `programs (${status.controlPath.reason})`
          : status.controlPath.kind,
      lateTranslated: status.late.translated,
      interrupted: stopped(),
      counters: { names: COUNTERS, samples },
      ...(o.traffic.includes('tcp') ? { tcpConnections } : {}),
      captureDrops,
      files,
      tools,
    };
    await writeFile(join(dir, 'run.json'), `${JSON.stringify(record)}\n`);
    if (!stopped()) await hooks.beforeTeardown?.();
    return record;
  } finally {
    own?.dispose();
    await stopAll(procs);
    await Promise.all(counters.map((c) => c.close()));
    say('tearing the lab down');
    await fm.down(lab.id);
    // Interrupted before the first packet: there is nothing to keep.
    if (!trafficStarted && stopped()) {
      if (madeDir) await rm(dir, { recursive: true, force: true });
      else for (const f of Object.values(files)) await rm(join(dir, f), { force: true });
    }
  }
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

/** Waits for a program's ready line; a program that ends first or stays silent is an error. */
async function ready(
  p: Background,
  line: RegExp,
  stream: 'stdout' | 'stderr',
  what: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (line.test(stream === 'stdout' ? p.stdout : p.stderr)) return;
    if (!p.running) break;
    await sleep(10);
  }
  throw new Error(`${what} did not start: ${p.stderr.trim().split('\n').pop() ?? 'no message'}`);
}
