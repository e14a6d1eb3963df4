// Packet rates per node for the dashboard and /metrics: every node's IPv6 packets received
// (Ip6InReceives of its namespace, the experiment observers' counter), read every RATE_PERIOD_MS
// through a `sleep` parked in each namespace (a file read, no process per reading).
import { RATE_PERIOD_MS, type RateSample } from '../daemon-api/live.js';
import { NetnsCounters } from '../experiment/snmp6.js';
import type { LabNode } from '../lab/model.js';

const COUNTER = 'Ip6InReceives';

/** Packets/s from two absolute counts `ms` apart (a counter that went back reads as 0). */
export function rateOf(before: number, after: number, ms: number): number {
  if (ms <= 0 || after < before) return 0;
  return Math.round(((after - before) * 1000) / ms);
}

export class RateSampler {
  private readonly counters = new Map<string, NetnsCounters>();
  private totals: Record<string, number> = {};
  private at = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private closed = false;

  private constructor(private readonly emit: (sample: RateSample) => void) {}

  /** Opens a counter reader in every node's namespace (one `sleep` each, killed by close()). */
  static async open(
    nodes: readonly LabNode[],
    emit: (sample: RateSample) => void,
  ): Promise<RateSampler> {
    const s = new RateSampler(emit);
    try {
      for (const n of nodes) s.counters.set(n.name, await NetnsCounters.open(n.netns));
    } catch (error) {
      await s.close();
      throw error;
    }
    return s;
  }

  /** Packets received at each node so far (the counters' absolute values, read now). */
  async totalsNow(): Promise<Record<string, number>> {
    if (!this.timer) await this.read();
    return { ...this.totals };
  }

  /** Samples every RATE_PERIOD_MS until stop(); the first sample comes one period after start. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.tick(), RATE_PERIOD_MS);
    void this.read();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await Promise.all([...this.counters.values()].map((c) => c.close()));
    this.counters.clear();
  }

  private async tick(): Promise<void> {
    // A read that takes longer than a period (a loaded machine) is not stacked up.
    if (this.reading) return;
    const before = this.totals;
    const from = this.at;
    await this.read();
    if (from === 0 || this.closed) return;
    const pps: Record<string, number> = {};
    for (const [node, total] of Object.entries(this.totals))
      pps[node] = rateOf(before[node] ?? total, total, this.at - from);
    this.emit({ t: Date.now(), pps });
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      const entries = await Promise.all(
        [...this.counters].map(async ([node, c]) => {
          try {
            return [node, (await c.read())[COUNTER] ?? 0] as const;
          } catch {
            // Its namespace went (the lab is being torn down): keep the last count.
            return [node, this.totals[node] ?? 0] as const;
          }
        }),
      );
      this.totals = Object.fromEntries(entries);
      this.at = performance.now();
    } finally {
      this.reading = false;
    }
  }
}
