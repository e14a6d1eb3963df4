// The host daemon's recent revisions, timed: when each arrived (watch event or list), when it was
// applied, when the applied-revision write covering it completed; and when the changes it answered
// committed and how it learned each host applied them. On the machine's monotonic clock, so
// `bench cluster` can line up hosts on one machine.
import type { HostdTrace, HostdTraceAnswer, HostdTraceEntry } from '../hostd-api/protocol.js';

/**
 * ms on CLOCK_MONOTONIC (process.hrtime), one clock for every process on the machine. Not epoch
 * ms (performance.timeOrigin + performance.now()): each process fixes its timeOrigin against the
 * wall clock at its start, and five `node -e` here disagreed by 0.7-3.1 ms, more than a phase.
 */
export const clockMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** How many revisions (and answers) are kept: a benchmark's cell fits, memory stays bounded. */
export const TRACE_CAPACITY = 1_000;

type Entry = { -readonly [K in keyof HostdTraceEntry]: HostdTraceEntry[K] };

export class HostTrace {
  private readonly entries: Entry[] = [];
  private readonly answers: HostdTraceAnswer[] = [];

  constructor(private readonly capacity = TRACE_CAPACITY) {}

  /** A revision applied; `times` is the apply's own result (in-process path: rule, conntrack ms). */
  applied(
    revision: number,
    via: HostdTraceEntry['via'],
    receivedAt: number,
    times: { readonly ruleMs?: number; readonly conntrackMs?: number } = {},
  ): void {
    this.entries.push({
      revision,
      via,
      receivedAt,
      appliedAt: clockMs(),
      ...(times.ruleMs !== undefined ? { ruleMs: times.ruleMs } : {}),
      ...(times.conntrackMs !== undefined ? { conntrackMs: times.conntrackMs } : {}),
    });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** The applied revision `revision` was written: every revision up to it is acknowledged now. */
  acked(revision: number): void {
    const at = clockMs();
    // Revisions are applied (and acknowledged) in order: stop at the first one acknowledged before.
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as Entry;
      if (e.revision > revision) continue;
      if (e.ackedAt !== undefined) break;
      e.ackedAt = at;
    }
  }

  /** A change answered by this daemon, `appliedMs` after its commit; `acks`: how it learned. */
  answered(revision: number, appliedMs: number, acks?: HostdTraceAnswer['acks']): void {
    const answeredAt = clockMs();
    this.answers.push({
      revision,
      committedAt: answeredAt - appliedMs,
      answeredAt,
      ...(acks !== undefined ? { acks } : {}),
    });
    if (this.answers.length > this.capacity) this.answers.shift();
  }

  snapshot(host: string): HostdTrace {
    return {
      host,
      pid: process.pid,
      now: clockMs(),
      entries: this.entries.map((e) => ({ ...e })),
      answers: [...this.answers],
    };
  }
}
