// `flowmig bench cluster`'s figures from what it timed: each migration's phases lined up against
// the host daemons' traces (commit, watch delivery, apply, conntrack, acknowledgement, and the
// applied write), the load and restart times, and the targets (pure).
import type { HostdTrace, HostdTraceEntry } from '../hostd-api/protocol.js';
import { distribution } from '../results/stats.js';

/** One migration as the caller saw it (monotonic ms, the daemons' traces' clock) and as it was answered. */
export interface MigrationSample {
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly revision: number;
  readonly commitMs: number;
  readonly appliedMs: number;
}

/**
 * One migration's time, ms, along its critical path: the host host 1's daemon learned of last
 * (its answer's acknowledgements), or, in a trace without them, the host whose applied write came
 * last. The phases add up to the total, conntrack apart (it is part of apply) and write apart when
 * the answer waited on no write. An instant two processes see is taken as the earlier: etcd
 * commits the txn before it answers host 1's daemon and before any host's watch event, whichever
 * that daemon's event loop runs first; and a host's applied write is done by the time host 1's
 * daemon answers.
 */
export interface Phases {
  readonly total: number;
  /**
   * Call → txn committed (host 1's daemon saw its txn answered, or a host its event: the earlier);
   * the request's way to host 1's daemon, and the flow's read, included.
   */
  readonly commit: number;
  /** Committed → the watch event reached the last host. */
  readonly delivery: number;
  /** Committed → the watch event reached the slowest host to receive it. */
  readonly deliveryMax: number;
  /** The last host's apply (plan, netlink or routes). */
  readonly apply: number;
  /** The conntrack pass of the ingress host's apply (part of its apply). */
  readonly conntrack: number;
  /**
   * The last host: applied → its applied-revision write to etcd done. On the path only when the
   * answer waited on it (`via` etcd, or a trace without acknowledgements).
   */
  readonly write: number;
  /**
   * → host 1's daemon answered. With acknowledgements: from the last host's apply (its message
   * over the fabric, or its etcd write and the watch event, then the answer); without: from that
   * write done (a read, a watch, the event). Without host 1's answer on record, → the caller.
   */
  readonly ack: number;
  /** Host 1's daemon answered → the caller read the reply (0 without the answer on record). */
  readonly reply: number;
  /**
   * How host 1's daemon learned of the last host: itself, a peer's message, etcd's key, `before`
   * the wait; `write` in a trace without acknowledgements (it waited on the applied keys).
   */
  readonly via: 'self' | 'peer' | 'etcd' | 'before' | 'write';
}

export const PHASE_NAMES = [
  'commit',
  'delivery',
  'deliveryMax',
  'apply',
  'conntrack',
  'write',
  'ack',
  'reply',
] as const satisfies readonly (keyof Phases)[];
export type PhaseName = (typeof PHASE_NAMES)[number];

/**
 * The phases of one migration, or undefined when a host's trace lacks its revision (a host that
 * was not live, or a trace that rolled over) or, without acknowledgements, its applied write.
 */
export function phasesOf(s: MigrationSample, traces: readonly HostdTrace[]): Phases | undefined {
  const answer = traces.flatMap((t) => t.answers).find((a) => a.revision === s.revision);
  const acks = answer?.acks?.length ? answer.acks : undefined;
  const byHost = new Map<string, HostdTraceEntry>();
  for (const t of traces) {
    const e = t.entries.find((x) => x.revision === s.revision);
    if (!e || (!acks && e.ackedAt === undefined)) return undefined;
    byHost.set(t.host, e);
  }
  const entries = [...byHost.values()];
  if (entries.length === 0) return undefined;
  const committedAt = Math.min(
    answer?.committedAt ?? s.sentAt + s.commitMs,
    ...entries.map((e) => e.receivedAt),
  );
  const answeredAt = answer?.answeredAt ?? s.receivedAt;
  let last: HostdTraceEntry;
  let via: Phases['via'];
  let acked: number;
  if (acks) {
    const lastAck = acks.reduce((a, b) => (b.at > a.at ? b : a));
    const e = byHost.get(lastAck.host);
    if (!e) return undefined;
    last = e;
    via = lastAck.via;
    // The answer waited on the write only when etcd told of the last host.
    acked = via === 'etcd' ? Math.min(e.ackedAt ?? e.appliedAt, answeredAt) : e.appliedAt;
  } else {
    last = entries.reduce((a, b) => ((b.ackedAt ?? 0) > (a.ackedAt ?? 0) ? b : a));
    via = 'write';
    acked = Math.min(last.ackedAt ?? last.appliedAt, answeredAt);
  }
  return {
    total: s.receivedAt - s.sentAt,
    commit: committedAt - s.sentAt,
    delivery: last.receivedAt - committedAt,
    deliveryMax: Math.max(...entries.map((e) => e.receivedAt - committedAt)),
    apply: last.appliedAt - last.receivedAt,
    conntrack: Math.max(0, ...entries.map((e) => e.conntrackMs ?? 0)),
    write: (last.ackedAt ?? last.appliedAt) - last.appliedAt,
    ack: answeredAt - acked,
    reply: s.receivedAt - answeredAt,
    via,
  };
}

/** The migrations of one phase of a cell (idle, or under a ping flood). */
export interface MigrationStats {
  readonly flood: boolean;
  /** Answered ok (the figures are theirs). */
  readonly migrations: number;
  readonly failed: number;
  readonly error?: string;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  /** Migrations whose every host's trace held their revision (the breakdown's samples). */
  readonly traced: number;
  /** p50 of each phase over the traced migrations, ms. */
  readonly breakdown_p50: Readonly<Record<PhaseName, number>>;
  /** p99 of each phase over the traced migrations, ms. */
  readonly breakdown_p99: Readonly<Record<PhaseName, number>>;
  /** How host 1's daemon learned of the last host, over the traced migrations (Phases.via). */
  readonly last_ack_via: Readonly<Partial<Record<Phases['via'], number>>>;
  /** The flood's ping: packets sent and received (null: no flood). */
  readonly ping: { readonly transmitted: number; readonly received: number } | null;
}

export function migrationStats(
  samples: readonly MigrationSample[],
  traces: readonly HostdTrace[],
  extra: {
    flood: boolean;
    failed: number;
    error?: string | undefined;
    ping?: MigrationStats['ping'];
  },
): MigrationStats {
  const d = distribution(samples.map((s) => s.receivedAt - s.sentAt));
  const phases = samples.flatMap((s) => phasesOf(s, traces) ?? []);
  const of = (which: 'p50' | 'p99') =>
    Object.fromEntries(
      PHASE_NAMES.map((n) => [n, distribution(phases.map((p) => p[n]))[which]]),
    ) as Record<PhaseName, number>;
  return {
    flood: extra.flood,
    migrations: samples.length,
    failed: extra.failed,
    ...(extra.error !== undefined ? { error: extra.error } : {}),
    p50_ms: d.p50,
    p99_ms: d.p99,
    max_ms: d.max,
    traced: phases.length,
    breakdown_p50: of('p50'),
    breakdown_p99: of('p99'),
    last_ack_via: countVia(phases),
    ping: extra.ping ?? null,
  };
}

function countVia(phases: readonly Phases[]): Partial<Record<Phases['via'], number>> {
  const n: Partial<Record<Phases['via'], number>> = {};
  for (const p of phases) n[p.via] = (n[p.via] ?? 0) + 1;
  return n;
}

/** ping's summary line: `N packets transmitted, M received` (null when it printed none). */
export function pingSummary(stdout: string): MigrationStats['ping'] {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(stdout);
  return m ? { transmitted: Number(m[1]), received: Number(m[2]) } : null;
}

export interface LoadTimes {
  /** → the last host received the last revision (etcd's txns of ≤ 128 puts, one after another). */
  readonly received_ms: number;
  /** → the last host applied it. */
  readonly applied_ms: number;
  /** → the last host wrote back its applied revision. */
  readonly acked_ms: number;
  /** Revisions the load took (as host 1 saw them). */
  readonly revisions: number;
}

/**
 * From `startedAt` (monotonic ms: the load began) to the last host receiving, applying and writing
 * back a revision applied after it; null when a host applied nothing since.
 */
export function loadTimes(traces: readonly HostdTrace[], startedAt: number): LoadTimes | null {
  let received = 0;
  let applied = 0;
  let acked = 0;
  for (const t of traces) {
    const after = t.entries.filter((e) => e.appliedAt >= startedAt);
    if (after.length === 0) return null;
    received = Math.max(received, ...after.map((e) => e.receivedAt));
    applied = Math.max(applied, ...after.map((e) => e.appliedAt));
    acked = Math.max(acked, ...after.map((e) => e.ackedAt ?? e.appliedAt));
  }
  return {
    received_ms: received - startedAt,
    applied_ms: applied - startedAt,
    acked_ms: acked - startedAt,
    revisions: traces[0]?.entries.filter((e) => e.appliedAt >= startedAt).length ?? 0,
  };
}

/**
 * Spawn → the first revision at or past `revision` applied by the restarted daemon, and → when it
 * began to get it (its catch-up's list asked for, after it registered); nulls: none.
 */
export function inSync(
  trace: HostdTrace,
  spawnedAt: number,
  revision: number,
): { readonly in_sync_ms: number | null; readonly asked_ms: number | null } {
  const e = trace.entries.find((x) => x.revision >= revision && x.appliedAt >= spawnedAt);
  return e
    ? { in_sync_ms: e.appliedAt - spawnedAt, asked_ms: e.receivedAt - spawnedAt }
    : { in_sync_ms: null, asked_ms: null };
}

/**
 * When the host daemon's log last said it serves on its socket (wall clock, ms): it read the
 * lab's state and resolved the lab, and answers; before its etcd connection and lease.
 */
export function servingAt(log: string): number | null {
  const lines = log.split('\n').filter((l) => /: serving on /.test(l));
  const at = Date.parse(lines.at(-1)?.split(' ')[0] ?? '');
  return Number.isNaN(at) ? null : at;
}

export interface ClusterCell {
  readonly hosts: number;
  readonly flows: number;
  readonly lab: string;
  /** `up` of the lab, whole: network, etcd, host daemons, the flows' load. */
  readonly up_ms: number;
  /** The flows' load through host 1's daemon (up's last step) → applied, and written back, on all. */
  readonly load: LoadTimes | null;
  readonly idle: MigrationStats;
  readonly flood: MigrationStats | null;
  /**
   * Host 2's daemon SIGKILLed and spawned again: spawn → its catch-up list applied (trace), → it
   * served on its socket (its log, ms: node's start, the lab read and resolved), → that list
   * asked for (+ etcd connection, lease), → its hello said so (polled).
   */
  readonly restart: {
    readonly in_sync_ms: number | null;
    readonly serving_ms: number | null;
    readonly asked_ms: number | null;
    readonly status_ms: number;
    readonly revision: number;
  };
  /** Idle p50 / the in-process swap's p50 at the same flow count. */
  readonly p50_vs_inprocess: number | null;
}

/** Flowmig.swap in this process, one call at a time, on a single-host lab of the same flow count. */
export interface ClusterBaseline {
  readonly flows: number;
  readonly swaps: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** The controller's own time of the rule change and conntrack pass. */
  readonly apply_p50_ms: number;
}

export interface ClusterTarget {
  readonly name: string;
  /** null: not measured (e.g. a restart that never caught up). */
  readonly value: number | null;
  readonly limit: number;
  readonly met: boolean;
}

/** The targets (all upper bounds, ms), for the cells that were measured. */
export function clusterTargets(cells: readonly ClusterCell[]): ClusterTarget[] {
  const out: ClusterTarget[] = [];
  const max = (name: string, value: number | null, limit: number) =>
    out.push({ name, value, limit, met: value !== null && value <= limit });
  for (const c of cells.filter((x) => x.hosts === 8)) {
    max(`idle migration at 8 hosts, ${c.flows} flows: p50 ms`, c.idle.p50_ms, 8);
    max(`idle migration at 8 hosts, ${c.flows} flows: p99 ms`, c.idle.p99_ms, 40);
  }
  for (const c of cells.filter((x) => x.hosts === 8 && x.flows === 10_000))
    max('10,000 flows loaded and applied on 8 translators: ms', c.load?.applied_ms ?? null, 5_000);
  for (const c of cells)
    max(
      `restarted host daemon in sync at ${c.hosts} hosts, ${c.flows} flows: ms`,
      c.restart.in_sync_ms,
      1_000,
    );
  return out;
}

export interface ClusterBenchResult {
  readonly startedAt: string;
  readonly endedAt: string;
  readonly cpus: number;
  readonly load: { readonly atStart: readonly number[]; readonly atEnd: readonly number[] };
  readonly labs: readonly string[];
  readonly cells: readonly ClusterCell[];
  readonly baseline: readonly ClusterBaseline[];
  readonly targets: readonly ClusterTarget[];
  readonly notes: readonly string[];
}
