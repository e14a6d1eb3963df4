// The host daemon's core: registers this host's translator under a lease, catches up with the
// table, then applies every change of the table in revision order (one plan per revision, on a
// queue) and writes back the revision it applied. A watch whose start was compacted away, or that
// failed, is replaced by a catch-up from a fresh list.

import type { Registration } from '../cluster/hosts.js';
import { FlowTable } from '../cluster/table.js';
import type { KeyProblem } from '../cluster/values.js';
import type { FlowEvent, PrefixWatch } from '../cluster/watch.js';
import { EtcdClient } from '../etcd/client.js';
import { EtcdCallError } from '../etcd/errors.js';
import type { Runner } from '../exec/runner.js';
import { AppliedTracker } from './applied.js';
import { HostApplier } from './apply.js';
import { applyLiveMove } from './live.js';
import { type Applied, planEvents } from './plan.js';
import { syncHost } from './sync.js';
import { clockMs, HostTrace } from './trace.js';
import type { HostView } from './view.js';

/**
 * The lease's time to live: a host cut off for this long is no longer waited for. Above the ~2 s a
 * keepalive stream takes to fail over from a member cut off by the fabric (src/etcd/client.ts),
 * so a live host's lease does not lapse because another host was cut off.
 */
export const LEASE_TTL_SECONDS = 5;
/** Wait before trying again after etcd refused (no quorum, unreachable). */
const RETRY_MS = 500;
/** How long an applied revision waits before its etcd write, gathering those applied meanwhile. */
const APPLIED_WRITE_MS = 100;
/**
 * Wait before registering or listing again after etcd did not serve it: short, since a host cut
 * off the fabric tries until it is back (each try bounded by the call's deadline, 1.2 s, and the
 * members' count, 0.3 s), and its return should be seen soon.
 */
const ETCD_RETRY_MS = 100;

export interface HostEvents {
  readonly log: (line: string) => void;
  /** Told each revision this host applied, before it is written back to etcd. */
  readonly applied?: (revision: number) => void;
}

export class HostCore {
  readonly applied: Applied = new Map();
  /** The last revision applied (0: not caught up yet). */
  revision = 0;
  /** The newest revision of the table this host knows of (a list's, or a change's it was told). */
  seen = 0;
  problems: KeyProblem[] = [];
  lastError: string | undefined;
  registration: Registration | undefined;
  readonly table: FlowTable;
  /** Every host's applied revision, followed for the daemon's life (what changes wait on). */
  readonly acks: AppliedTracker;
  /** The last revisions applied, timed (the `trace` verb). */
  readonly trace = new HostTrace();
  private readonly applier: HostApplier;
  private queue: Promise<unknown> = Promise.resolve();
  private watch: PrefixWatch | undefined;
  private stopped = false;
  private registering = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Revision applied but not yet written back (writes are coalesced while changes queue up). */
  private pendingAck = 0;
  private acking = false;

  constructor(
    readonly view: HostView,
    private readonly runner: Runner,
    readonly client: EtcdClient,
    private readonly events: HostEvents,
  ) {
    this.table = new FlowTable(client);
    this.acks = new AppliedTracker(this.table);
    this.applier = new HostApplier(view, runner);
  }

  static connect(view: HostView, runner: Runner, events: HostEvents): HostCore {
    const client = new EtcdClient({ endpoints: view.cluster.etcd.members.map((m) => m.clientUrl) });
    return new HostCore(view, runner, client, events);
  }

  /** Registers, catches up and watches; resolves once caught up (retries while etcd refuses). */
  async start(): Promise<void> {
    void this.acks.start();
    await this.register();
    await this.catchUp();
  }

  private async register(): Promise<void> {
    // One loop at a time: a lease can be reported lost more than once.
    if (this.registering) return;
    this.registering = true;
    try {
      await this.registerLoop();
    } finally {
      this.registering = false;
    }
  }

  private async registerLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        this.registration = await this.table.register(this.view.self.name, LEASE_TTL_SECONDS, {
          pid: process.pid,
          onLost: (error) => {
            this.events.log(`lease lost (${error.message}); registering again`);
            this.registration = undefined;
            if (!this.stopped) void this.rejoin();
          },
        });
        return;
      } catch (error) {
        this.fail('register', error);
        await this.sleep(ETCD_RETRY_MS);
      }
    }
  }

  /**
   * After a lost lease (the host was cut off for longer than the TTL): registers again and, at the
   * same time, lists the table. The host may have missed changes meanwhile, and its watch may sit
   * on its own member, which was cut off too and catches up with the others only after its
   * return: the list, a linearizable read, is the table as it stands. Each goes on trying until
   * the host is back; whichever a member can serve first is done first.
   */
  private async rejoin(): Promise<void> {
    if (this.registering) return;
    await Promise.all([this.register(), this.catchUp()]);
    if (!this.stopped) this.events.log('registered again and caught up');
  }

  /** Lists the table, makes the translator agree, writes the revision back, watches from there. */
  private catchUp(): Promise<void> {
    return this.serial(async () => {
      await this.watch?.stop().catch(() => {});
      this.watch = undefined;
      while (!this.stopped) {
        try {
          const asked = clockMs();
          const list = await this.table.list();
          const r = await syncHost(this.view, this.runner, this.applier, list, this.applied);
          this.trace.applied(list.revision, 'list', asked);
          this.problems = [...r.problems];
          for (const p of r.problems) this.events.log(`skipped ${p.key}: ${p.problem}`);
          this.revision = list.revision;
          this.seen = Math.max(this.seen, list.revision);
          this.events.log(
            `caught up at revision ${list.revision}: ${this.applied.size} flows, ${r.restated} restated, ${r.routes} route change(s)`,
          );
          this.watch = await this.table.watch(list.revision + 1, {
            changes: (revision, events, problems) => this.onChanges(revision, events, problems),
            compacted: () => {
              this.events.log('watch compacted away; listing again');
              void this.catchUp();
            },
            failed: (error) => {
              this.fail('watch', error);
              this.later(() => void this.catchUp());
            },
          });
          this.lastError = undefined;
          this.ack(list.revision);
          return;
        } catch (error) {
          this.fail('catch-up', error);
          // A kernel that refused the sync is not asked again at once; etcd soon.
          await this.sleep(error instanceof EtcdCallError ? ETCD_RETRY_MS : RETRY_MS);
        }
      }
    });
  }

  private onChanges(
    revision: number,
    events: readonly FlowEvent[],
    problems: readonly KeyProblem[],
  ) {
    this.seen = Math.max(this.seen, revision);
    const received = clockMs();
    void this.serial(async () => {
      if (revision <= this.revision) return; // seen in a list already
      for (const p of problems) this.events.log(`skipped ${p.key}: ${p.problem}`);
      const plan = planEvents(this.view, this.applied, events);
      for (const p of plan.problems) this.events.log(`skipped ${p.key}: ${p.problem}`);
      this.problems = mergeProblems(this.problems, [...problems, ...plan.problems], events);
      let times: { ruleMs?: number; conntrackMs?: number };
      try {
        times = await this.applier.apply(plan.ops);
        await this.applier.routes(plan.routes);
        // Flows with `tcp: migrate`: each switched on its own, its connections moved around it.
        for (const m of plan.moves)
          this.events.log(await applyLiveMove(this.view, this.runner, this.applier, m));
      } catch (error) {
        // The kernel may hold part of it: a catch-up restates this host from the table.
        this.fail(`apply of revision ${revision}`, error);
        this.later(() => void this.catchUp());
        return;
      }
      for (const d of plan.drains) this.later(() => void this.endDrain(d.address, d.former), d.ms);
      this.revision = revision;
      this.trace.applied(revision, 'watch', received, times);
      const what = events
        .slice(0, 3)
        .map((e) =>
          e.kind === 'put' ? `${e.flow.address} → ${e.flow.responder}` : `${e.address} deleted`,
        )
        .join(', ');
      this.events.log(
        `applied revision ${revision}: ${what}${events.length > 3 ? `, … (${events.length})` : ''}; ${plan.changed} flow(s) changed here`,
      );
      this.ack(revision);
    });
  }

  /** A draining flow's connections still on its former responder go (the drain's end). */
  private endDrain(address: string, former: string): Promise<void> {
    return this.serial(async () => {
      await this.applier.apply([
        { kind: 'conntrackDelete', netns: this.view.netns, origDst: address, onlyReplySrc: former },
      ]);
    });
  }

  /** Writes the applied revision back; while a write is under way, only the newest is kept. */
  private ack(revision: number): void {
    this.events.applied?.(revision);
    this.pendingAck = Math.max(this.pendingAck, revision);
    if (this.acking) return;
    this.acking = true;
    void (async () => {
      while (this.pendingAck > 0 && !this.stopped) {
        // Coalesced: peers learn each revision directly (hostd/peers.ts); the key is for status,
        // lag, and a peer whose channel is down, so it is written at most every APPLIED_WRITE_MS
        // (at 8 hosts, 8 etcd commits per change on 2 cores were most of a migration's time).
        await this.sleep(APPLIED_WRITE_MS);
        const r = this.pendingAck;
        this.pendingAck = 0;
        try {
          await this.table.writeApplied(this.view.self.name, r);
          this.trace.acked(r);
        } catch (error) {
          this.fail('applied write', error);
          this.pendingAck = Math.max(this.pendingAck, r);
          await this.sleep(RETRY_MS);
        }
      }
      this.acking = false;
    })();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const work = this.queue.then(fn, fn);
    this.queue = work.catch(() => {});
    return work;
  }

  private fail(what: string, error: unknown): void {
    this.lastError = `${what}: ${(error as Error).message}`;
    this.events.log(this.lastError);
  }

  private later(fn: () => void, ms = RETRY_MS): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.later(r, ms));
  }

  /** Stops watching, gives the lease up (revoke: other hosts stop waiting for this one now). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.watch?.stop().catch(() => {});
    await this.acks.stop();
    await this.registration?.revoke().catch(() => {});
    this.applier.close();
    this.client.close();
  }
}

/** The problems after a revision: those of keys it rewrote are replaced by its own. */
function mergeProblems(
  old: readonly KeyProblem[],
  fresh: readonly KeyProblem[],
  events: readonly FlowEvent[],
): KeyProblem[] {
  const touched = new Set(events.map((e) => (e.kind === 'put' ? e.flow.address : e.address)));
  const freshKeys = new Set(fresh.map((p) => p.key));
  return [...old.filter((p) => !touched.has(p.key) && !freshKeys.has(p.key)), ...fresh];
}
