// What the runner records beside the tools' own outputs (`run.json`): the lab, the flow, the
// options, the swaps as issued, the observers' samples and the files the run wrote.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExperimentOptions } from './options.js';

export const RUN_FILE = 'run.json';

export interface RunRecord {
  /** The run's id (see runId; older runs: none, the results derive one from startMs). */
  readonly id?: string;
  readonly lab: {
    readonly id: string;
    readonly engine: string;
    /** Nodes; on a cluster lab each names its host. */
    readonly nodes: { name: string; role: string; namespace: string; host?: string }[];
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
  /**
   * Counter samples (/proc/net/snmp6 of the servers and every translator, one per host on a
   * cluster lab): epoch ms, then per node per counter.
   */
  readonly counters: {
    names: readonly string[];
    samples: CounterSample[];
  };
  /** Per captured node: what tcpdump said it dropped (a capture under load may miss packets). */
  readonly captureDrops: Record<string, number>;
  /**
   * With TCP traffic: the flow's TCP connections per server (conntrack entries in the translator,
   * by the server they are translated to), sampled every few hundred ms: where connections are,
   * drain after a swap (policy `drain`) or move (policy `migrate`).
   */
  readonly tcpConnections?: TcpConnectionSample[];
  /** The run's files in its directory, by what they hold (`ping`, `capture C`, ...). */
  readonly files: Record<string, string>;
  /** How each program was started, by the same names. */
  readonly tools: Record<string, string>;
}

export interface CounterSample {
  readonly tMs: number;
  readonly values: Record<string, Record<string, number>>;
}

export interface TcpConnectionSample {
  readonly tMs: number;
  readonly perNode: Record<string, number>;
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
  /** Single-host labs: entries the swap deleted (a cluster's hosts do not report it). */
  readonly conntrackDeleted?: number;
  readonly path: string;
  /** A flow with `tcp: migrate`: connections moved, and hold → resume in ms. */
  readonly tcpMoved?: number;
  readonly tcpMs?: number;
}

export async function readRecord(dir: string): Promise<RunRecord> {
  return JSON.parse(await readFile(join(dir, RUN_FILE), 'utf8')) as RunRecord;
}

export async function writeRecord(dir: string, record: RunRecord): Promise<void> {
  await writeFile(join(dir, RUN_FILE), `${JSON.stringify(record)}\n`);
}
