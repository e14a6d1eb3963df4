// What the dashboard sees of a lab, kept current by the daemon: its nodes and flows, the newest
// migrations (this daemon's own the moment they commit, another process's when the state file
// shows them), packet rates per node, a status read every second while a page watches, and the
// traffic loads. Every change goes out on the feed; metrics hear of every migration.
import { hostname } from 'node:os';
import type { ChangeEvent, LabStatus, MigrationResult } from '../control/results.js';
import {
  type LiveEvent,
  type LiveFlow,
  type LiveSnapshot,
  type LiveStatus,
  LOG_KEPT,
  type LogRow,
  RATES_KEPT,
  type RateSample,
} from '../daemon-api/live.js';
import type { LabFlow } from '../lab/model.js';
import type { MigrationRecord } from '../state/schema.js';
import { Feed } from './feed.js';
import type { LiveLab, LiveReading } from './live-lab.js';
import { Loads } from './loads.js';
import { RateSampler } from './rates.js';

const STATUS_PERIOD_MS = 1_000;

/** A change's times as a log row shows them (a cluster's answer has fewer). */
type Timing = Pick<MigrationRecord, 'flow' | 'at'> &
  Partial<
    Pick<MigrationRecord, 'path' | 'totalMs' | 'ruleMs' | 'conntrackMs' | 'conntrackDeleted'>
  >;

/** What the metrics hear of each migration (src/daemon/metrics.ts implements it). */
export interface MigrationSink {
  migrated(m: {
    path: string;
    tcpPolicy: string;
    ruleMs?: number;
    conntrackMs?: number;
    totalMs?: number;
    conntrackDeleted?: number;
    tcpMoved?: number;
  }): void;
  failed(m: { result: 'failed' | 'refused' | 'invalid'; tcpPolicy: string }): void;
}

/** What the view reads from whoever serves it (a lab's daemon, the cluster dashboard). */
export interface LiveSources {
  readonly lab: LiveLab;
  readonly version: string;
  flows(): Promise<readonly LabFlow[]>;
  /** The status: runs programs or asks other processes; read at most every half second. */
  read(): Promise<LiveReading>;
}

/** Rows for the flows whose ends differ between `before` and `after` (by address). */
export function movedFlows(
  before: readonly LabFlow[],
  after: readonly LabFlow[],
): { flow: LabFlow; role: LogRow['role']; from: string; to: string }[] {
  const was = new Map(before.map((f) => [f.address, f]));
  const out: { flow: LabFlow; role: LogRow['role']; from: string; to: string }[] = [];
  for (const f of after) {
    const old = was.get(f.address);
    if (!old) continue;
    if (old.responder !== f.responder)
      out.push({ flow: f, role: 'responder', from: old.responder, to: f.responder });
    if (old.initiator !== f.initiator)
      out.push({ flow: f, role: 'initiator', from: old.initiator, to: f.initiator });
  }
  return out;
}

/** The status as the page shows it. */
export function liveStatus(st: LabStatus, daemon: LiveStatus['daemon']): LiveStatus {
  return {
    at: new Date().toISOString(),
    drift: st.drift,
    controlPath:
      st.controlPath.kind === 'agent'
        ? `agent (pid ${st.controlPath.pid})`
        : st.controlPath.kind === 'programs'
          ? `programs (${st.controlPath.reason})`
          : 'in-process',
    daemon,
    late: {
      installed: st.late.installed,
      translated: st.late.translated,
      former: st.late.former.length,
    },
    drains: st.flows.flatMap((f) =>
      f.drains.map((d) => ({ flow: f.address, responder: d.responder, endsInMs: d.endsInMs })),
    ),
    servers: st.servers.map((s) => ({
      node: s.node,
      running: s.running,
      connections: s.connections,
    })),
    // One host: this one, with no lease (the flow table is the local state file) and no lag.
    hosts: [{ name: hostname(), lease: 'none', lag: st.drift.length === 0 ? 0 : undefined }],
  };
}

export class LiveView {
  readonly feed: Feed;
  readonly loads: Loads;
  private flows: LabFlow[] = [];
  private readonly log: LogRow[] = [];
  private readonly rates: RateSample[] = [];
  private status: LiveStatus | undefined;
  private statusRead: Promise<LiveReading> | undefined;
  private statusAt = 0;
  private lateSeen: number | undefined;
  private seq = 0;
  private lastOutside: string | undefined;
  private sampler: RateSampler | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly src: LiveSources,
    private readonly metrics: MigrationSink | undefined,
  ) {
    this.feed = new Feed((n) => this.watched(n));
    this.loads = new Loads((loads) => this.send({ type: 'loads', loads }));
  }

  /** Reads the flows and opens the rate counters. */
  async start(): Promise<void> {
    this.flows = [...(await this.src.flows())];
    this.sampler = await RateSampler.open(this.src.lab.nodes, (s) => this.sampled(s));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.statusTimer);
    this.feed.close();
    await this.loads.close();
    await this.sampler?.close();
  }

  snapshot(): { type: 'snapshot' } & LiveSnapshot {
    const lab = this.src.lab;
    return {
      type: 'snapshot',
      lab: lab.id,
      engine: lab.engine,
      version: this.src.version,
      nodes: lab.nodes.map((n) => ({
        name: n.name,
        role: n.role,
        address: n.address,
        ...(n.host !== undefined ? { host: n.host } : {}),
      })),
      links: lab.links,
      flows: this.liveFlows(),
      log: [...this.log],
      rates: [...this.rates],
      status: this.status,
      loads: this.loads.list(),
    };
  }

  /** Packets received at each node so far (for /metrics). */
  async nodePackets(): Promise<Record<string, number>> {
    return this.sampler ? this.sampler.totalsNow() : {};
  }

  flowCount(): number {
    return this.flows.length;
  }

  tcpPolicy(address: string): string {
    return this.src.lab.tcpPolicy(address);
  }

  /**
   * The lab's status, read at most once per `maxAgeMs` however many ask (pages, scrapes): each
   * read runs programs in the translator or asks other processes.
   */
  async reading(maxAgeMs = STATUS_PERIOD_MS / 2): Promise<LiveReading> {
    if (this.statusRead && performance.now() - this.statusAt < maxAgeMs) return this.statusRead;
    this.statusAt = performance.now();
    const read = this.src.read();
    this.statusRead = read;
    read.catch(() => {
      if (this.statusRead === read) this.statusRead = undefined;
    });
    return read;
  }

  /** A change this daemon applied (Flowmig.onChange): logged the moment it committed. */
  changed(event: ChangeEvent): void {
    if (event.kind === 'migrated') {
      const r = event.result;
      this.flows = this.flows.map((f) =>
        f.address !== r.flow
          ? f
          : r.role === 'responder'
            ? { ...f, responder: r.to }
            : { ...f, initiator: r.to },
      );
      this.migrated(this.rowOf(r), r.tcp?.moved);
      this.send({ type: 'flows', flows: this.liveFlows() });
      return;
    }
    // An evacuation moves every flow its server served: known here without reading the state.
    const e = event.result;
    const after = this.flows.map((f) => (f.responder === e.from ? { ...f, responder: e.to } : f));
    this.logMoves(movedFlows(this.flows, after), after, 'daemon', {
      flow: '',
      at: new Date().toISOString(),
      totalMs: e.totalMs,
      ruleMs: e.ruleMs,
      conntrackMs: e.conntrackMs,
      conntrackDeleted: e.conntrackDeleted,
      path: e.path,
    });
  }

  /**
   * Moves a change's answer reports (a cluster lab's host daemon: each flow with its old and new
   * node), logged at once with the change's times.
   */
  answered(
    moves: readonly { readonly flow: string; readonly from: string; readonly to: string }[],
    timing: Omit<Timing, 'flow' | 'at'>,
  ): void {
    const by = new Map(moves.map((m) => [m.flow, m]));
    const after = this.flows.map((f) => {
      const m = by.get(f.address);
      if (!m) return f;
      return f.responder === m.from ? { ...f, responder: m.to } : { ...f, initiator: m.to };
    });
    this.logMoves(movedFlows(this.flows, after), after, 'daemon', {
      flow: '',
      at: new Date().toISOString(),
      ...timing,
    });
  }

  /** A move of this daemon's that failed or was refused. */
  failed(flow: string | undefined, code: 'failed' | 'refused' | 'invalid'): void {
    const address = this.flows.find((f) => f.address === flow || f.name === flow)?.address;
    this.metrics?.failed({ result: code, tcpPolicy: address ? this.tcpPolicy(address) : 'reset' });
  }

  /**
   * Another process changed the state (the library, `--direct`): the flows that moved are logged,
   * with the timings the state recorded for its last migration when that is one of them.
   */
  async outsideChange(last: MigrationRecord | undefined): Promise<void> {
    const fresh = last && last.at !== this.lastOutside ? last : undefined;
    if (last) this.lastOutside = last.at;
    await this.reread('outside', fresh);
  }

  send(event: LiveEvent): void {
    if (!this.closed) this.feed.send(event);
  }

  private async reread(source: LogRow['source'], timing: MigrationRecord | undefined) {
    const after = [...(await this.src.flows())];
    this.logMoves(movedFlows(this.flows, after), after, source, timing);
  }

  private logMoves(
    moved: ReturnType<typeof movedFlows>,
    after: LabFlow[],
    source: LogRow['source'],
    timing: Timing | undefined,
  ): void {
    this.flows = after;
    if (moved.length === 0) return;
    for (const [i, m] of moved.entries()) {
      const t =
        timing && (timing.flow === '' || timing.flow === m.flow.address) ? timing : undefined;
      this.migrated({
        seq: 0,
        at: t?.at ?? new Date().toISOString(),
        flow: m.flow.address,
        role: m.role,
        from: m.from,
        to: m.to,
        path: t?.path,
        source,
        totalMs: t?.totalMs,
        ruleMs: t?.ruleMs,
        conntrackMs: t?.conntrackMs,
        // One pass deleted them for all the moved flows: counted once.
        conntrackDeleted: i === 0 ? t?.conntrackDeleted : undefined,
        ...(moved.length > 1 ? { batched: moved.length } : {}),
        late: 0,
      });
    }
    this.send({ type: 'flows', flows: this.liveFlows() });
  }

  private rowOf(r: MigrationResult): LogRow {
    return {
      seq: 0,
      at: new Date().toISOString(),
      flow: r.flow,
      role: r.role,
      from: r.from,
      to: r.to,
      path: r.path,
      source: 'daemon',
      totalMs: r.totalMs,
      ruleMs: r.ruleMs,
      conntrackMs: r.conntrackMs,
      conntrackDeleted: r.conntrackDeleted,
      ...(r.batched !== undefined ? { batched: r.batched } : {}),
      late: 0,
      ...(r.tcp ? { tcpMoved: r.tcp.moved } : {}),
    };
  }

  private migrated(row: LogRow, tcpMoved?: number): void {
    const numbered = { ...row, seq: ++this.seq };
    this.log.push(numbered);
    if (this.log.length > LOG_KEPT) this.log.splice(0, this.log.length - LOG_KEPT);
    this.metrics?.migrated({
      path: row.path ?? 'none',
      tcpPolicy: this.tcpPolicy(row.flow),
      ...(row.ruleMs !== undefined ? { ruleMs: row.ruleMs } : {}),
      ...(row.conntrackMs !== undefined ? { conntrackMs: row.conntrackMs } : {}),
      ...(row.totalMs !== undefined ? { totalMs: row.totalMs } : {}),
      ...(row.conntrackDeleted !== undefined ? { conntrackDeleted: row.conntrackDeleted } : {}),
      ...(tcpMoved !== undefined ? { tcpMoved } : {}),
    });
    this.send({ type: 'migration', row: numbered });
  }

  private liveFlows(): LiveFlow[] {
    return this.flows.map((f) => ({
      name: f.name,
      address: f.address,
      initiator: f.initiator,
      responder: f.responder,
      tcp: this.tcpPolicy(f.address),
    }));
  }

  private sampled(sample: RateSample): void {
    this.rates.push(sample);
    if (this.rates.length > RATES_KEPT) this.rates.splice(0, this.rates.length - RATES_KEPT);
    this.send({ type: 'rates', sample });
  }

  /** Samples rates and reads the status only while a page watches. */
  private watched(streams: number): void {
    if (this.closed) return;
    if (streams > 0) {
      this.sampler?.start();
      if (!this.statusTimer) {
        this.statusTimer = setInterval(() => void this.statusTick(), STATUS_PERIOD_MS);
        void this.statusTick();
      }
    } else {
      this.sampler?.stop();
      clearInterval(this.statusTimer);
      this.statusTimer = undefined;
    }
  }

  private async statusTick(): Promise<void> {
    let r: LiveReading;
    try {
      r = await this.reading();
    } catch {
      return; // the lab is going down; the next tick tries again
    }
    if (this.closed) return;
    this.status = r.status;
    this.send({ type: 'status', status: this.status });
    // Late packets translated since the last reading go to the newest migration's row.
    const total = r.lateTranslated;
    const newest = this.log[this.log.length - 1];
    if (this.lateSeen !== undefined && newest && total > this.lateSeen) {
      const row = { ...newest, late: newest.late + (total - this.lateSeen) };
      this.log[this.log.length - 1] = row;
      this.send({ type: 'late', seq: row.seq, late: row.late });
    }
    this.lateSeen = total;
  }
}
