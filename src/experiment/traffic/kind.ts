// What one traffic kind of an experiment is: the programs it needs, what it starts in the server
// namespaces and from the client, how it stops and which files it leaves in the results
// directory, and how those files become its part of the results.
import { fileURLToPath } from 'node:url';
import type { LabFlow, LabNode } from '../../lab/model.js';
import type { SwapMark } from '../../metrics/swaps.js';
import type { ExperimentResults, SwapRecord } from '../../results/schema.js';
import type { Launcher } from '../launch.js';
import type { ExperimentOptions, TrafficKind } from '../options.js';
import type { RunRecord, SwapLog } from '../record.js';
import type { Testbed } from '../testbed.js';

/** Where a kind's own programs are (src/traffic, compiled beside this directory's parent). */
const PROGRAMS = new URL('../../traffic/', import.meta.url);

/** The path of one of flowmig's traffic programs (`udp-load`, `udp-echo`, ...). */
export function trafficProgram(name: string): string {
  return fileURLToPath(new URL(`${name}.js`, PROGRAMS));
}

/** What a kind's run is given. */
export interface TrafficSetup {
  /** The lab and its controller. */
  readonly bed: Testbed;
  readonly flow: LabFlow;
  /** The flow's initiator: the traffic is sent from its namespace. */
  readonly client: LabNode;
  readonly servers: readonly LabNode[];
  readonly options: ExperimentOptions;
  /** The results directory. */
  readonly dir: string;
  /** The run's files (run.json's `files`): a kind names each file it writes here. */
  readonly files: Record<string, string>;
  /** Starts programs under a name; every one is stopped by PID when the run ends. */
  readonly launch: Launcher;
}

/** One kind's traffic in one run, through its stages in the runner's order. */
export interface TrafficRun {
  /** Starts what the kind needs in the server namespaces, and waits until it listens. */
  serve(): Promise<void>;
  /** Starts the traffic from the client (the measured run has begun). */
  send(): Promise<void>;
  /** Why the traffic ended before it was told to (undefined: it runs, or may end on its own). */
  ended(): string | undefined;
  /** The measured time is over: no more traffic is made (before anything is stopped). */
  halt?(): void;
  /** Stops its programs and writes what they reported into the results directory. */
  stop(): Promise<void>;
}

/** What a kind's analysis reads: the run's record and directory, on the results' clock. */
export interface RunData {
  readonly dir: string;
  readonly run: RunRecord;
  /** Milliseconds since the traffic started (time 0 of the results), never negative. */
  rel(tMs: number): number;
  /** The swaps as issued (epoch ms), for per-swap windows. */
  readonly marks: readonly SwapMark[];
  /** The swaps numbered from 1 (older run.json files numbered them from 0: the position decides). */
  readonly swaps: readonly SwapLog[];
  /** A counter's growth in each server from the first sample (traffic start) to the last. */
  counted(name: string): Record<string, number>;
}

/** A kind's part of the results. */
export interface KindResults {
  readonly traffic: ExperimentResults['traffic'];
  /** What fails the verdict. */
  readonly failures: readonly string[];
  /** What the verdict says beside, when it holds (e.g. a TCP end as its policy promises). */
  readonly observed?: readonly string[];
  /** The kind's figures in each swap's record, by the swap's position. */
  perSwap?(position: number): Partial<SwapRecord>;
}

export interface TrafficModule {
  readonly kind: TrafficKind;
  /** Its settings' key in the experiment options (kept in the results only when it ran). */
  readonly optionsKey: 'ping' | 'udp' | 'ncatUdp' | 'tcp';
  /** System programs it needs in the lab's namespaces (checked before anything is built). */
  readonly programs: readonly string[];
  run(setup: TrafficSetup): TrafficRun;
  /** Its results from the files it left; undefined when the run has none of them. */
  analyze(data: RunData): Promise<KindResults | undefined>;
}
