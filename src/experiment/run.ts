// `flowmig experiment`, the schedule: builds the lab, starts the observers (observers.ts) and the
// traffic (traffic/, one module per kind), swaps the flow on schedule, stops everything, records
// the run (run.json) and tears the lab down, leaving the raw data in a directory for analyze.ts.
// Every program started here is stopped by its PID, also on failure or interrupt.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { InterruptedError, listenForInterrupt, sleepUnless } from '../exec/interrupt.js';
import { requirePrograms } from '../exec/preflight.js';
import { concreteAddress, nodeByName, policyOf, servers } from '../lab/model.js';
import { Launcher } from './launch.js';
import { COUNTERS, Observers } from './observers.js';
import { checkAgainstLab, type ExperimentOptions, swapTimes } from './options.js';
import { type RunRecord, type SwapLog, writeRecord } from './record.js';
import { runId } from './run-id.js';
import type { Testbed } from './testbed.js';
import { type TrafficRun, trafficOf } from './traffic/index.js';

export interface RunHooks {
  readonly onProgress?: (text: string) => void;
  /**
   * Called after the run's programs stopped, while the lab is still up (not when interrupted).
   * It may write files into the results directory: those it returns (by what they hold) are
   * named in run.json beside the run's own.
   */
  readonly beforeTeardown?: () => Promise<Record<string, string> | undefined>;
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

const now = () => performance.timeOrigin + performance.now();

/** Refuses a results directory that holds anything (it is created once the lab is up). */
export async function checkOutDir(dir: string): Promise<void> {
  const existing = await readdir(dir).catch(() => undefined);
  if (existing && existing.length > 0)
    throw new InputError('', [`results directory ${dir} is not empty; name a new one with --out`]);
}

/** Runs the experiment; the lab is built here and torn down before this returns. */
export async function runExperiment(
  bed: Testbed,
  o: ExperimentOptions,
  dir: string,
  hooks: RunHooks = {},
): Promise<RunRecord> {
  const say = hooks.onProgress ?? (() => {});
  const { lab } = bed;
  const id = hooks.id ?? runId(lab.id);
  const { flow } = checkAgainstLab(o, lab);
  const client = nodeByName(lab, flow.initiator);
  const initiatorAddress = concreteAddress(lab, flow.initiator);
  if (!client || !initiatorAddress) throw new Error(`flow ${flow.address} has no client`);
  const kinds = trafficOf(o);
  const programs = [
    ...new Set(['sleep', ...kinds.flatMap((k) => k.programs), ...Observers.programs(o)]),
  ];
  await bed.check(programs);
  await requirePrograms(programs);
  await checkOutDir(dir);

  const files: Record<string, string> = {};
  const launch = new Launcher();
  const observers = new Observers({ bed, options: o, flow: flow.address, dir, files, launch });
  const traffic: TrafficRun[] = kinds.map((k) =>
    k.run({ bed, flow, client, servers: servers(lab), options: o, dir, files, launch }),
  );
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
    await bed.up((text, i, n) =>
      say(n > 0 ? `building lab [${i}/${n}] ${text}` : `building lab: ${text}`),
    );
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
    await observers.start();
    if (stopped())
      throw new InterruptedError(
        'interrupted while the observers started; the lab was torn down, nothing was measured',
      );
    for (const t of traffic) await t.serve();
    if (stopped())
      throw new InterruptedError(
        'interrupted while the servers started; the lab was torn down, nothing was measured',
      );
    // Warm the path (neighbour entries) so the run starts in steady state.
    await bed.runner.run(['ping', '-c', '3', '-i', '0.05', '-w', '5', flow.address], {
      netns: client.netns,
    });

    const startMs = now();
    if (stopped())
      throw new InterruptedError(
        'interrupted before any traffic was sent; the lab was torn down, nothing was measured',
      );
    await observers.startSampling();
    trafficStarted = true;
    for (const t of traffic) await t.send();

    say(`warm-up: traffic running, first swap in ${o.warmupMs} ms`);
    await sleepUnless(o.warmupMs, signal);
    const swapsFromMs = now();
    const plan = swapTimes(o);
    const swaps = await swapOnSchedule(bed, flow.address, plan, {
      fromMs: swapsFromMs,
      startMs,
      signal,
      traffic,
      say,
    });
    const minEnd = swapsFromMs + Math.max(0, o.durationMs - o.warmupMs);
    await sleepUnless(Math.max(o.tailMs, minEnd - now()), signal);
    for (const t of traffic) t.halt?.();
    const endMs = now();

    // Stop traffic (each prints its own figures), then observers.
    say('stopping traffic and observers');
    for (const t of traffic) await t.stop();
    const samplerError = await observers.stopSampling();
    if (samplerError !== undefined && !stopped())
      throw new Error(`reading the counters failed: ${(samplerError as Error).message}`);
    const captureDrops = await observers.stopCaptures();
    const summary = await bed.summary();
    const serverNodes = servers(lab);
    const policy = policyOf(lab, flow.address);
    let record: RunRecord = {
      id,
      lab: {
        id: lab.id,
        engine: lab.engine,
        nodes: lab.nodes.map((n) => {
          const host = lab.hostOf.get(n.name);
          return { name: n.name, role: n.role, namespace: n.netns, ...(host ? { host } : {}) };
        }),
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
        tcpPolicy: policy.tcp,
        ...(policy.tcp === 'drain' ? { drainMs: policy.drainMs } : {}),
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
      controlPath: summary.controlPath,
      lateTranslated: summary.lateTranslated,
      interrupted: stopped(),
      counters: { names: COUNTERS, samples: observers.samples },
      ...(o.traffic.includes('tcp') ? { tcpConnections: observers.tcpConnections } : {}),
      captureDrops,
      files,
      tools: launch.tools,
    };
    await writeRecord(dir, record);
    if (!stopped()) {
      const more = await hooks.beforeTeardown?.();
      if (more && Object.keys(more).length > 0) {
        record = { ...record, files: { ...files, ...more } };
        await writeRecord(dir, record);
      }
    }
    return record;
  } finally {
    own?.dispose();
    for (const t of traffic) t.halt?.();
    await launch.stopAll();
    await observers.close();
    say('tearing the lab down');
    await bed.down();
    // Interrupted before the first packet: there is nothing to keep.
    if (!trafficStarted && stopped()) {
      if (madeDir) await rm(dir, { recursive: true, force: true });
      else for (const f of Object.values(files)) await rm(join(dir, f), { force: true });
    }
  }
}

interface Schedule {
  /** Epoch ms the plan's times count from (the warm-up's end), and the traffic's start. */
  readonly fromMs: number;
  readonly startMs: number;
  readonly signal: AbortSignal;
  /** The traffic running: a kind that ended on its own ends the run. */
  readonly traffic: readonly TrafficRun[];
  readonly say: (text: string) => void;
}

/** Swaps the flow at the plan's times (ms after `fromMs`) until done or interrupted. */
async function swapOnSchedule(
  bed: Testbed,
  flow: string,
  plan: readonly number[],
  s: Schedule,
): Promise<SwapLog[]> {
  const swaps: SwapLog[] = [];
  let lastSay = 0;
  for (const [i, at] of plan.entries()) {
    if (s.signal.aborted) break;
    const dead = s.traffic.map((t) => t.ended()).find((why) => why !== undefined);
    if (dead) throw new Error(dead);
    await sleepUnless(Math.max(0, s.fromMs + at - now()), s.signal);
    if (s.signal.aborted) break;
    const issuedMs = now();
    const r = await bed.swap(flow);
    swaps.push({
      index: i + 1,
      from: r.from,
      to: r.to,
      issuedMs,
      ruleStartedMs: r.startedMs ?? issuedMs,
      ruleMs: r.ruleMs,
      conntrackMs: r.conntrackMs,
      totalMs: r.totalMs,
      ...(r.conntrackDeleted !== undefined ? { conntrackDeleted: r.conntrackDeleted } : {}),
      path: r.path,
      ...(r.tcp ? { tcpMoved: r.tcp.moved, tcpMs: r.tcp.totalMs } : {}),
    });
    if (now() - lastSay > 1_000 || i === plan.length - 1) {
      lastSay = now();
      const elapsed = ((now() - s.startMs) / 1000).toFixed(1);
      s.say(
        `swap ${i + 1}/${plan.length} · ${elapsed}s · last ${r.from} → ${r.to} in ${r.totalMs.toFixed(2)} ms`,
      );
    }
  }
  return swaps;
}
