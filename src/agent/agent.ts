// The translator agent's core: map edits as one nf_tables batch, then exact-tuple conntrack deletes.
import { editTransaction } from '../engines/edits.js';
import type { MapEdit } from '../engines/engine.js';
import { messages } from '../netlink/codec.js';
import {
  type CtEntry,
  deleteRequest,
  dumpRequest,
  isDestroyEvent,
  isNewEvent,
  NFNLGRP_CONNTRACK_DESTROY,
  NFNLGRP_CONNTRACK_NEW,
  parseEntry,
} from '../netlink/conntrack.js';
import { transactionBatch } from '../nft/netlink.js';
import { ConntrackIndex } from './ct-index.js';
import { EventSocket } from './event-socket.js';
import { NetfilterSocket, type NetlinkPath } from './netfilter-socket.js';

/** A flow whose conntrack entries go after the commit, but for those already on its new responder. */
export interface ConntrackTarget {
  readonly address: string;
  readonly keepReplySrc?: string;
  /** TCP entries stay (a draining flow). */
  readonly keepTcp?: boolean;
}

const IPPROTO_TCP = 6;

/** Whether an entry of a target flow stays: already on its new responder, or draining TCP. */
export function keeps(t: ConntrackTarget, e: CtEntry): boolean {
  if (t.keepReplySrc !== undefined && e.replySrc === t.keepReplySrc) return true;
  if (t.keepTcp && e.proto === IPPROTO_TCP) return true;
  return false;
}

export interface ApplyRequest {
  /** The table of edits that name none. */
  readonly table: string;
  readonly edits: readonly MapEdit[];
  /** The flows whose conntrack entries are deleted after the edits are committed. */
  readonly conntrack: readonly ConntrackTarget[];
  /** Edits committed after the conntrack deletes (a second transaction). */
  readonly after?: readonly MapEdit[];
}

export interface ApplyResult {
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly totalMs: number;
  /** The `after` transaction, when there was one (not part of totalMs). */
  readonly releaseMs?: number;
  /**
   * The agent answered before committing `after`, which it commits next, before any other
   * request (its time is then unknown to the caller).
   */
  readonly releasing?: boolean;
  readonly deleted: number;
  /** How the entries were found: from the event-fed index, or by a dump (index rebuilt). */
  readonly lookup: 'index' | 'dump';
}

const now = () => performance.now();

/**
 * Flows per transaction: a flow changes at most 4 elements (~40 bytes each), so a batch stays a
 * few MB, below the netlink socket's limit for one datagram.
 */
export const MAX_BATCH_FLOWS = 16_384;

/**
 * Elements one batch may carry as it is (~60 bytes each with a value: under 4 MB): edits up to
 * this size need no grouping by flow, which costs more than encoding for bulk edits.
 */
export const MAX_BATCH_ELEMENTS = 4 * MAX_BATCH_FLOWS;

const elementCount = (edits: readonly MapEdit[]) =>
  edits.reduce((n, e) => n + e.remove.length + e.add.length + (e.absent?.length ?? 0), 0);

/** The batches to send: the edits as they are when small enough, else split by flow. */
export function batchesOf(edits: readonly MapEdit[]): MapEdit[][] {
  if (edits.length === 0) return [];
  return elementCount(edits) <= MAX_BATCH_ELEMENTS ? [[...edits]] : splitEdits(edits);
}

/** The flow of an element: the last part of its key (an added map element's last part is its value). */
function flowOf(parts: readonly string[], withValue: boolean): string {
  return parts[parts.length - (withValue ? 2 : 1)] ?? '';
}

/**
 * Splits edits that are too large for one batch into consecutive batches. Elements are grouped by
 * flow (the last part of a key is the flow's abstract address, see MapEdit) so that one flow's
 * delete and add always share a batch: every flow keeps a mapping at every moment.
 */
export function splitEdits(edits: readonly MapEdit[], max = MAX_BATCH_FLOWS): MapEdit[][] {
  if (elementCount(edits) <= max) return edits.length ? [[...edits]] : []; // fewer elements than flows allowed
  // One pass: a flow is placed in the batch being filled when it is first seen (at most `max`
  // flows per batch); its later elements follow it there, so its delete and add stay together.
  const batchOf = new Map<string, number>();
  type Slot = {
    table?: string;
    map: string;
    set?: boolean;
    remove: (readonly string[])[];
    add: (readonly string[])[];
    absent: (readonly string[])[];
    timeoutMs?: number;
  };
  const out: { source: MapEdit; slot: Slot }[][] = [];
  const flows: number[] = [];
  const slot = (batch: number, e: MapEdit): Slot => {
    let list = out[batch];
    if (!list) {
      list = [];
      out[batch] = list;
    }
    // One slot per edit (not per map): edits of one map may differ in timeout.
    let s = list.find((x) => x.source === e);
    if (!s) {
      s = {
        source: e,
        slot: {
          ...(e.table !== undefined ? { table: e.table } : {}),
          map: e.map,
          ...(e.set ? { set: true } : {}),
          remove: [],
          add: [],
          absent: [],
          ...(e.timeoutMs !== undefined ? { timeoutMs: e.timeoutMs } : {}),
        },
      };
      list.push(s);
    }
    return s.slot;
  };
  let filling = 0;
  for (const e of edits) {
    for (const kind of ['remove', 'add', 'absent'] as const) {
      for (const parts of e[kind] ?? []) {
        const flow = flowOf(parts, kind === 'add' && !e.set);
        let batch = batchOf.get(flow);
        if (batch === undefined) {
          if ((flows[filling] ?? 0) >= max) filling++;
          batch = filling;
          batchOf.set(flow, batch);
          flows[batch] = (flows[batch] ?? 0) + 1;
        }
        slot(batch, e)[kind].push(parts);
      }
    }
  }
  return out.map((list) => list.map((x) => x.slot));
}

export interface AgentOptions {
  /**
   * A namespace path (/run/netns/<name>): the agent's sockets are made there, so it can work from
   * any process (needs the native addon). By default, the calling process's own namespace.
   */
  readonly netns?: string;
  /**
   * Index conntrack only from the first migration that deletes entries (and again after
   * `standby`), not from the start: an agent that serves as a fallback is then not woken by every
   * conntrack event of the translator. The first such migration pays for a dump.
   */
  readonly lazyIndex?: boolean;
}

export class Agent {
  private readonly sock: NetfilterSocket;
  /** The conntrack event socket that keeps the index current (while indexing). */
  private events: EventSocket | undefined;
  private referenced = true;
  readonly index = new ConntrackIndex();
  private eventsSeen = 0;

  private constructor(private readonly netns: string | undefined) {
    this.sock = new NetfilterSocket(netns);
  }

  /** Subscribes to conntrack events first, then seeds the index from a dump: nothing is missed. */
  static async start(options: AgentOptions = {}): Promise<Agent> {
    const a = new Agent(options.netns);
    if (!options.lazyIndex) {
      a.follow();
      await a.rebuild();
    }
    return a;
  }

  get stats(): {
    entries: number;
    dirty: boolean;
    events: number;
    netlink: NetlinkPath;
    indexing: boolean;
  } {
    return {
      entries: this.index.size,
      dirty: this.index.dirty,
      events: this.eventsSeen,
      netlink: this.sock.path,
      indexing: this.events !== undefined,
    };
  }

  /** Stops following conntrack events and forgets the index, until a migration needs it again. */
  standby(): void {
    this.unfollow();
    this.index.reset([]);
  }

  /**
   * Subscribes to NEW and DESTROY events on one socket: the kernel queues them in the order they
   * happen, so the DESTROY event of an entry deleted by a migration is never read after the NEW
   * event of a later entry with the same tuple (which may even have the same CTA_ID: the id is
   * derived from the entry's address, and the slab reuses it).
   */
  private follow(): void {
    if (this.events) return;
    this.events = new EventSocket({
      netns: this.netns,
      groups: [NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY],
      recvBufferSize: 32 << 20,
      onDatagram: (data) => this.onEvents(data),
      // ENOBUFS: the kernel dropped events; the index may miss entries until rebuilt by a dump.
      onOverrun: () => {
        this.index.dirty = true;
      },
    });
    this.events.ref(this.referenced);
  }

  private unfollow(): void {
    this.events?.close();
    this.events = undefined;
  }

  private onEvents(data: Buffer): void {
    for (const m of messages(data)) {
      this.eventsSeen++;
      const e = parseEntry(m.body);
      if (!e) continue;
      if (isNewEvent(m.type, m.flags)) this.index.add(e);
      else if (isDestroyEvent(m.type)) this.index.remove(e);
    }
  }

  private async rebuild(): Promise<void> {
    const seq = this.sock.nextSeq();
    const bodies = await this.sock.dump(dumpRequest(seq), seq);
    const entries = bodies.map(parseEntry).filter((e) => e !== undefined);
    this.index.reset(entries);
  }

  /**
   * Commits the edits, then deletes the flows' conntrack entries, then commits `after`. Both the
   * batch and the deletes go out back to back without waiting in between: the kernel handles
   * netlink requests to itself synchronously, in order, in the sender's sendmsg, so the deletes run
   * after the commit. Entries created between the index lookup and the commit (still under the old
   * mapping) are caught by a second look at the index once the acknowledgements are in, and
   * deleted too.
   */
  async apply(req: ApplyRequest): Promise<ApplyResult> {
    const { result, release } = await this.migrate(req);
    const releaseMs = await release();
    return releaseMs === undefined ? result : { ...result, releaseMs };
  }

  /**
   * `apply` in two parts: the migration (rules and conntrack), then `release()`, which commits
   * `after` and resolves with the time it took (undefined when there was nothing to commit). A
   * caller may answer between the two, as long as nothing else reaches the kernel in between.
   */
  async migrate(
    req: ApplyRequest,
  ): Promise<{ result: ApplyResult; release: () => Promise<number | undefined> }> {
    const t0 = now();
    // What stays of each target flow: entries already on its new responder, draining TCP, ...
    const targets = new Map(req.conntrack.map((c) => [c.address, c]));
    const fresh = (e: CtEntry) => {
      const t = targets.get(e.origDst);
      return t !== undefined && keeps(t, e);
    };
    let lookup: ApplyResult['lookup'] = 'index';
    if (req.conntrack.length > 0 && (!this.events || this.index.dirty)) {
      // Not indexing yet (lazy, or standing by), or events were lost: subscribe, then dump.
      lookup = 'dump';
      this.follow();
      await this.rebuild();
    }
    // Events the kernel sent up to now reach the index first (native addon: read at once).
    this.events?.drainNow();
    // The batch and the deletes go out back to back (see above); both are awaited together.
    const committed = this.commit(req.table, req.edits);
    const first = req.conntrack.flatMap((c) => this.index.take(c.address, fresh));
    const deletes = this.deleteEntries(first);
    const [ruleDone] = await Promise.all([committed, deletes]);
    let deleted = await deletes;
    // Second look: NEW events queued before the commit reach the index now (read at once with
    // the native addon, else in the event loop's next poll).
    if (this.events && !this.events.drainNow()) await new Promise((r) => setImmediate(r));
    const late = req.conntrack.flatMap((c) => this.index.take(c.address, fresh));
    if (late.length > 0) deleted += await this.deleteEntries(late);
    const t2 = now();
    const result: ApplyResult = {
      ruleMs: ruleDone - t0,
      conntrackMs: t2 - ruleDone,
      totalMs: t2 - t0,
      deleted,
      lookup,
    };
    const release = async () => {
      if (!req.after?.length) return undefined;
      const t3 = now();
      await this.commit(req.table, req.after);
      return now() - t3;
    };
    return { result, release };
  }

  /** Commits edits as one transaction (no conntrack work); resolves with the time it took, ms. */
  async edit(table: string, edits: readonly MapEdit[]): Promise<number> {
    const t0 = now();
    await this.commit(table, edits);
    return now() - t0;
  }

  /**
   * Sends the edits (their typed transaction, rendered to netlink) as nf_tables batches; resolves
   * (with the time) when all are acknowledged. Edits that name no table are on `table`.
   */
  private commit(table: string, edits: readonly MapEdit[]): Promise<number> {
    const waits: Promise<unknown>[] = [];
    for (const part of batchesOf(edits)) {
      const batch = transactionBatch(editTransaction(part, table), this.sock.nextSeq(0));
      this.sock.advanceTo(batch.nextSeq);
      waits.push(this.sock.request(batch.data, batch.acks, { timeoutMs: 10_000 }));
    }
    return Promise.all(waits).then(() => now());
  }

  /** Exact-tuple deletes, pipelined; resolves with how many existed. */
  private async deleteEntries(entries: readonly CtEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const first = this.sock.nextSeq(entries.length);
    const data = Buffer.concat(entries.map((e, i) => deleteRequest(e.tuple, first + i)));
    const acks = entries.map((_, i) => (first + i) >>> 0);
    const errors = await this.sock.request(data, acks, {
      timeoutMs: 5_000,
      tolerate: [NetfilterSocket.ENOENT],
    });
    let n = 0;
    for (const errno of errors.values()) if (errno === 0) n++;
    return n;
  }

  /** Lets the process exit while the agent waits for conntrack events. */
  unref(): void {
    this.referenced = false;
    this.events?.ref(false);
  }

  close(): void {
    this.unfollow();
    this.sock.close();
  }
}
