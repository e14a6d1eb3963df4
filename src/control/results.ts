// What the controller's verbs return: migrations, evacuations, status, reconcile, down, events.

import type { FormerResponder } from '../engines/late.js';
import type { StepRecord } from '../exec/execute.js';
import type { LabFlow } from '../lab/model.js';
import type { LabState, MigrationRecord } from '../state/store.js';
import type { LiveTcpResult } from './live-tcp.js';

/** Over netlink from the controlling process, by the agent process, or by running programs. */
export type ApplyPath = 'in-process' | 'agent' | 'programs';

/**
 * How migrations are applied now; conntrackIndexed is undefined while that path indexes nothing
 * (until its first migration).
 */
export type ControlPath =
  | {
      readonly kind: 'agent';
      readonly pid: number;
      readonly conntrackIndexed: number | undefined;
    }
  | { readonly kind: 'in-process'; readonly conntrackIndexed: number | undefined }
  | { readonly kind: 'programs'; readonly reason: string };

export interface ProgressHooks {
  readonly onStep?: (text: string, index: number, total: number) => void;
}

export interface MigrationResult {
  readonly lab: string;
  readonly flow: string;
  /** The end of the flow that moved. */
  readonly role: 'responder' | 'initiator';
  readonly from: string;
  readonly to: string;
  /** False when the flow was already there: nothing was changed. */
  readonly changed: boolean;
  /** Command issued → rule changed and conntrack entries gone. */
  readonly totalMs: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly conntrackDeleted: number;
  /**
   * How the change was applied: over netlink from this process (in-process) or by the agent, or
   * by running programs.
   */
  readonly path: ApplyPath;
  /** Set when something unusual happened on the way (agent restarted, fallback used). */
  readonly note: string | undefined;
  readonly steps: readonly StepRecord[];
  /**
   * How many flows' moves shared this move's rule transaction and conntrack pass (a round of a
   * batch); the timings, steps and conntrackDeleted are then the round's. Absent: it went alone.
   */
  readonly batched?: number;
  /** For a flow with `tcp: migrate`: how its TCP connections moved with it. */
  readonly tcp?: LiveTcpResult & { readonly note?: string };
}

export interface EvacuationResult {
  readonly lab: string;
  readonly from: string;
  readonly to: string;
  /** How many flows moved. */
  readonly moved: number;
  readonly totalMs: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly conntrackDeleted: number;
  readonly path: ApplyPath;
  readonly note: string | undefined;
}

export interface NodeStatus {
  readonly name: string;
  readonly role: string;
  readonly netns: string;
  readonly present: boolean;
  readonly owned: boolean;
}

export interface FlowStatus extends LabFlow {
  /** The responder address the kernel maps the flow to now (undefined: no mapping found). */
  readonly kernelResponder: string | undefined;
  readonly inSync: boolean;
  /** Conntrack entries in the translator whose original destination is the flow's address. */
  readonly conntrackEntries: number;
  /** TCP connections still on a former responder (policy `drain`), per server node. */
  readonly draining: Readonly<Record<string, number>>;
  /** When each former responder's drain ends (ms from now). */
  readonly drains: readonly { readonly responder: string; readonly endsInMs: number }[];
}

/** A server runtime (`flowmig serve`) of a lab and the connections it holds now. */
export interface ServerStatus {
  readonly node: string;
  readonly pid: number;
  readonly running: boolean;
  readonly address: string;
  readonly port: number;
  readonly mode: string;
  readonly connections: number | undefined;
}

export interface LabStatus {
  readonly id: string;
  readonly prefix: string;
  readonly phase: LabState['phase'];
  readonly engine: string;
  readonly pid: number;
  readonly pidAlive: boolean;
  readonly createdAt: string;
  readonly stateFile: string;
  readonly nodes: readonly NodeStatus[];
  readonly flows: readonly FlowStatus[];
  readonly translatorInstalled: boolean;
  /** How migrations are applied now (see ControlPath). */
  readonly controlPath: ControlPath;
  readonly migrations: number;
  readonly lastMigration: MigrationRecord | undefined;
  /** How the translator differs from the desired flow table (empty: in agreement). */
  readonly drift: readonly string[];
  /** The lab's daemon, if one was started. */
  readonly daemon:
    | { readonly pid: number; readonly socket: string; readonly running: boolean }
    | undefined;
  /** Server runtimes (`flowmig serve`) and the connections each holds now. */
  readonly servers: readonly ServerStatus[];
  /** The late-packet table: former responders still translated, and packets it has rewritten. */
  readonly late: {
    readonly installed: boolean;
    readonly graceMs: number;
    readonly translated: number;
    /** Of those, rewritten after conntrack: they passed the first rule just before a commit. */
    readonly afterConntrack: number;
    readonly former: readonly FormerResponder[];
  };
}

export interface ReconcileResult {
  readonly lab: string;
  /** What differed before (empty: nothing to do). */
  readonly drift: readonly string[];
  /** Whether the translator agrees with the desired table afterwards. */
  readonly repaired: boolean;
  readonly remaining?: readonly string[];
}

/** What `onChange` listeners receive. */
export type ChangeEvent =
  | { readonly kind: 'migrated'; readonly result: MigrationResult }
  | { readonly kind: 'evacuated'; readonly result: EvacuationResult };

export interface DownResult {
  readonly id: string;
  readonly removed: readonly string[];
  /** Namespaces left alone because they do not carry this lab's mark. */
  readonly skipped: readonly string[];
  readonly hadState: boolean;
  /** The damaged state file that was removed (the lab was found by its marks instead). */
  readonly damagedState?: string;
}
