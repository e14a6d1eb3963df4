// The live feed's contract, shared by the daemon and the dashboard page: what `GET /events` pushes
// (server-sent events, one JSON object per `data:` line, its type in `event:`), and the requests
// that start and stop a traffic load from a client. Plain types only: the page bundles none of the
// daemon's code.

/** A node of the lab as the page draws it. */
export interface LiveNode {
  readonly name: string;
  readonly role: 'client' | 'server' | 'translator';
  /** Its address on its link (the translator: none). */
  readonly address: string | undefined;
  /** The host it runs on (a multi-host lab); absent on one host. */
  readonly host?: string;
}

/** A link between a node and the translator it is attached to. */
export interface LiveLink {
  readonly node: string;
  readonly translator: string;
}

export interface LiveFlow {
  readonly name: string | undefined;
  readonly address: string;
  readonly initiator: string;
  readonly responder: string;
  /** What happens to its TCP connections when it moves (reset, drain, migrate). */
  readonly tcp: string;
}

/** One migration, as the log shows it. */
export interface LogRow {
  /** Numbered from 1 in the order the daemon learnt of them. */
  readonly seq: number;
  /** When it committed (ISO time). */
  readonly at: string;
  readonly flow: string;
  readonly role: 'responder' | 'initiator';
  readonly from: string;
  readonly to: string;
  /** in-process, agent or programs; undefined when seen in the state without its timings. */
  readonly path: string | undefined;
  /** Who asked: this daemon (CLI, prompt, a dashboard), or another process (library, --direct). */
  readonly source: 'daemon' | 'outside';
  readonly totalMs: number | undefined;
  readonly ruleMs: number | undefined;
  readonly conntrackMs: number | undefined;
  readonly conntrackDeleted: number | undefined;
  /** Moves that shared its rule transaction (absent: alone). */
  readonly batched?: number;
  /** Late packets translated while it was the newest migration (updated by `late` events). */
  readonly late: number;
  /** With `tcp: migrate`: connections moved. */
  readonly tcpMoved?: number;
}

/** Packets per second at each node over the last sample period. */
export interface RateSample {
  /** Epoch ms at the end of the period. */
  readonly t: number;
  readonly pps: Readonly<Record<string, number>>;
}

/** A traffic load the daemon runs from a client (flowmig's own traffic programs). */
export interface LoadInfo {
  readonly id: number;
  readonly kind: LoadKind;
  readonly from: string;
  /** The flow's abstract address it is sent to. */
  readonly flow: string;
  readonly startedAt: string;
  readonly running: boolean;
  /** Why it ended, when it ended on its own. */
  readonly ended?: string;
}

export type LoadKind = 'ping' | 'udp';

/** A host of a multi-host lab (one row, "this host", on a single-host lab). */
export interface LiveHost {
  readonly name: string;
  readonly lease: 'held' | 'lost' | 'none';
  /** Revisions behind the newest (0: in sync); undefined when not known. */
  readonly lag: number | undefined;
}

export interface LiveStatus {
  /** When it was read (ISO time). */
  readonly at: string;
  readonly drift: readonly string[];
  readonly controlPath: string;
  readonly daemon: {
    readonly pid: number;
    readonly startedAt: string;
    readonly changes: number;
    readonly queued: number;
  };
  /** Undefined: not reported (a cluster lab's host daemons keep no count of late packets). */
  readonly late:
    | {
        readonly installed: boolean;
        readonly translated: number;
        readonly former: number;
      }
    | undefined;
  readonly drains: readonly {
    readonly flow: string;
    readonly responder: string;
    readonly endsInMs: number;
  }[];
  /** TCP connections each server runtime (`flowmig serve`) holds now. */
  readonly servers: readonly {
    readonly node: string;
    readonly running: boolean;
    readonly connections: number | undefined;
  }[];
  readonly hosts: readonly LiveHost[];
}

/** The page's state when it connects; the events below keep it current. */
export interface LiveSnapshot {
  readonly lab: string;
  readonly engine: string;
  readonly version: string;
  readonly nodes: readonly LiveNode[];
  readonly links: readonly LiveLink[];
  readonly flows: readonly LiveFlow[];
  /** The newest rows, oldest first (at most LOG_KEPT). */
  readonly log: readonly LogRow[];
  /** The newest samples, oldest first (at most RATES_KEPT). */
  readonly rates: readonly RateSample[];
  readonly status: LiveStatus | undefined;
  readonly loads: readonly LoadInfo[];
}

/** Events of `GET /events`: the SSE `event:` field is `type`, the `data:` line the whole object. */
export type LiveEvent =
  | ({ readonly type: 'snapshot' } & LiveSnapshot)
  | { readonly type: 'flows'; readonly flows: readonly LiveFlow[] }
  | { readonly type: 'migration'; readonly row: LogRow }
  | { readonly type: 'late'; readonly seq: number; readonly late: number }
  | { readonly type: 'rates'; readonly sample: RateSample }
  | { readonly type: 'status'; readonly status: LiveStatus }
  | { readonly type: 'loads'; readonly loads: readonly LoadInfo[] };

/** Rows and samples the daemon keeps for a page that connects; the page keeps no more. */
export const LOG_KEPT = 200;
/** 60 s at 10 samples/s. */
export const RATES_KEPT = 600;
/** How often the packet counters are sampled. */
export const RATE_PERIOD_MS = 100;
