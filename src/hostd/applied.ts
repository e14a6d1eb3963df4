// Every host's applied revision as one host daemon follows it, from two sources, the higher one
// winning per host: each peer's direct acknowledgement over the fabric (hostd/peers.ts: no etcd
// commit in between), and each host's applied key in etcd, read at the start and then every
// 50 ms while a change waits (a host whose channel is down is learned of that way). No watch on
// the keys: it woke every daemon for every host's write, 8 × 8 events per change at 8 hosts, on
// 2 cores (docs/benchmarks.md).
import { LagError } from '../cluster/errors.js';
import { readApplied } from '../cluster/hosts.js';
import type { FlowTable } from '../cluster/table.js';
import { clockMs } from './trace.js';

/** How often a change that waits reads the applied keys. */
const POLL_MS = 50;

/** How a daemon learned that a host applied: itself, a peer's message, etcd's key. */
export type AckVia = 'self' | 'peer' | 'etcd';

/** When (monotonic ms) a waited-for host reached the revision, and how it was learned. */
export interface AckTime {
  readonly host: string;
  readonly at: number;
  /** `before`: it had already when the wait began. */
  readonly via: AckVia | 'before';
}

interface Waiter {
  readonly revision: number;
  readonly hosts: readonly string[];
  readonly reached: Map<string, AckTime>;
  readonly resolve: () => void;
}

/** Every host's applied revision (the highest heard from any source) and the waits on it. */
export class AppliedRevisions {
  private readonly at = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  /** Told when a change is about to wait (hostd/peers.ts then asks peers for acknowledgements). */
  onChange: (() => void) | undefined;

  /** A change starts: whoever sends acknowledgements is told this daemon will wait on them. */
  changing(): void {
    this.onChange?.();
  }

  /** `host` applied every revision up to `revision` (a lower one than known changes nothing). */
  heard(host: string, revision: number, via: AckVia): void {
    this.take(new Map([[host, revision]]), via);
  }

  /** The revision `host` is known to have applied (undefined: nothing heard). */
  of(host: string): number | undefined {
    return this.at.get(host);
  }

  protected get waiting(): number {
    return this.waiters.size;
  }

  protected take(hosts: ReadonlyMap<string, number>, via: AckVia): void {
    const now = clockMs();
    for (const [h, r] of hosts) this.at.set(h, Math.max(this.at.get(h) ?? -1, r));
    for (const w of this.waiters) {
      for (const [h, r] of hosts)
        if (r >= w.revision && !w.reached.has(h) && w.hosts.includes(h))
          w.reached.set(h, { host: h, at: now, via });
      if (w.reached.size === w.hosts.length) w.resolve();
    }
  }

  private lagging(revision: number, hosts: readonly string[]) {
    return hosts
      .filter((h) => (this.at.get(h) ?? -1) < revision)
      .map((h) => ({ host: h, applied: this.at.get(h) }));
  }

  /**
   * Until every host in `hosts` applied `revision`, with when and how each was learned; a
   * LagError naming those behind after `timeoutMs`.
   */
  wait(revision: number, hosts: readonly string[], timeoutMs: number): Promise<AckTime[]> {
    this.changing();
    const unique = [...new Set(hosts)];
    const now = clockMs();
    const reached = new Map<string, AckTime>();
    for (const h of unique)
      if ((this.at.get(h) ?? -1) >= revision) reached.set(h, { host: h, at: now, via: 'before' });
    if (reached.size === unique.length) return Promise.resolve([...reached.values()]);
    return new Promise<AckTime[]>((resolve, reject) => {
      const waiter: Waiter = {
        revision,
        hosts: unique,
        reached,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve([...reached.values()]);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new LagError(revision, this.lagging(revision, unique), timeoutMs));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.waited();
    });
  }

  /** A wait began that was not met at once (the tracker reads etcd if its watch is down). */
  protected waited(): void {}
}

export class AppliedTracker extends AppliedRevisions {
  private stopped = false;
  private polling = false;

  constructor(private readonly table: FlowTable) {
    super();
  }

  /** Reads the applied keys once (a restarted daemon knows where every host stands). */
  async start(): Promise<void> {
    const read = await readApplied(this.table.client, this.table.keys).catch(() => undefined);
    if (read && !this.stopped) this.take(read.hosts, 'etcd');
  }

  protected override waited(): void {
    void this.poll();
  }

  /** While someone waits: the keys read every POLL_MS (a host whose channel is down). */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (!this.stopped && this.waiting > 0) {
        await new Promise((r) => setTimeout(r, POLL_MS).unref());
        if (this.stopped || this.waiting === 0) break;
        const read = await readApplied(this.table.client, this.table.keys).catch(() => undefined);
        if (read) this.take(read.hosts, 'etcd');
      }
    } finally {
      this.polling = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }
}
