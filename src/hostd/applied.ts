// Every host's applied revision as one host daemon follows it: read once, then one watch on the
// applied keys for the daemon's life, so a change's answer waits for no read and no watch of its
// own (a watch opened after the writes it waits for starts in the past, and etcd 3.4 catches such
// watches up on a 100 ms cycle: the bench saw ~60 ms of every migration go there). While the
// watch is down, waiters read the keys every 50 ms.
import { LagError } from '../cluster/errors.js';
import { readApplied } from '../cluster/hosts.js';
import { nameUnder } from '../cluster/keys.js';
import type { FlowTable } from '../cluster/table.js';
import { parseApplied } from '../cluster/values.js';
import { type PrefixWatch, watchPrefix } from '../cluster/watch.js';

const POLL_MS = 50;
const RESTART_MS = 200;

interface Waiter {
  readonly revision: number;
  readonly hosts: readonly string[];
  readonly resolve: () => void;
}

export class AppliedTracker {
  private readonly at = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private watch: PrefixWatch | undefined;
  private watching = false;
  private stopped = false;
  private polling = false;

  constructor(private readonly table: FlowTable) {}

  /** Reads the applied keys and watches them from there on (again after a failure). */
  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      const read = await readApplied(this.table.client, this.table.keys);
      this.take(read.hosts);
      this.watch = await watchPrefix(
        this.table.client,
        this.table.keys.applied,
        read.revision + 1,
        {
          revision: (_revision, events) => {
            const seen = new Map<string, number>();
            for (const ev of events) {
              if (ev.type === 'Delete') continue;
              const host = nameUnder(this.table.keys.applied, ev.kv.key.toString()) ?? '';
              const parsed = parseApplied(host, ev.kv.value.toString());
              if (parsed.ok) seen.set(host, parsed.value);
            }
            this.take(seen);
          },
          ended: () => {
            this.watching = false;
            this.later();
          },
        },
      );
      this.watching = true;
    } catch {
      this.watching = false;
      this.later();
    }
  }

  private later(): void {
    if (this.stopped) return;
    setTimeout(() => void this.start(), RESTART_MS).unref();
    if (this.waiters.size > 0) void this.poll();
  }

  private take(hosts: ReadonlyMap<string, number>): void {
    for (const [h, r] of hosts) this.at.set(h, Math.max(this.at.get(h) ?? -1, r));
    for (const w of this.waiters) if (this.lagging(w.revision, w.hosts).length === 0) w.resolve();
  }

  private lagging(revision: number, hosts: readonly string[]) {
    return hosts
      .filter((h) => (this.at.get(h) ?? -1) < revision)
      .map((h) => ({ host: h, applied: this.at.get(h) }));
  }

  /** While the watch is down and someone waits: read the keys now and then. */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (!this.watching && !this.stopped && this.waiters.size > 0) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        const read = await readApplied(this.table.client, this.table.keys).catch(() => undefined);
        if (read) this.take(read.hosts);
      }
    } finally {
      this.polling = false;
    }
  }

  /** Until every host in `hosts` applied `revision`; a LagError naming those behind after `timeoutMs`. */
  wait(revision: number, hosts: readonly string[], timeoutMs: number): Promise<void> {
    if (this.lagging(revision, hosts).length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        revision,
        hosts,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new LagError(revision, this.lagging(revision, hosts), timeoutMs));
      }, timeoutMs);
      this.waiters.add(waiter);
      if (!this.watching) void this.poll();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch?.stop().catch(() => {});
  }
}
