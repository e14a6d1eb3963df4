// The host daemon's recent revisions, timed: when each arrived (watch event or list), when it was
// applied, when the applied-revision write covering it completed; and when the changes it answered
// committed. Epoch ms with sub-ms precision, so `bench cluster` can line up hosts on one machine.
import type { HostdTrace, HostdTraceAnswer, HostdTraceEntry } from '../hostd-api/protocol.js';

/** Epoch ms with sub-ms precision: comparable across processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

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
      appliedAt: epochNow(),
      ...(times.ruleMs !== undefined ? { ruleMs: times.ruleMs } : {}),
      ...(times.conntrackMs !== undefined ? { conntrackMs: times.conntrackMs } : {}),
    });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** The applied revision `revision` was written: every revision up to it is acknowledged now. */
  acked(revision: number): void {
    const at = epochNow();
    // Revisions are applied (and acknowledged) in order: stop at the first one acknowledged before.
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as Entry;
      if (e.revision > revision) continue;
      if (e.ackedAt !== undefined) break;
      e.ackedAt = at;
    }
  }

  /** A change answered by this daemon, `appliedMs` after its commit. */
  answered(revision: number, appliedMs: number): void {
    const answeredAt = epochNow();
    this.answers.push({ revision, committedAt: answeredAt - appliedMs, answeredAt });
    if (this.answers.length > this.capacity) this.answers.shift();
  }

  snapshot(host: string): HostdTrace {
    return {
      host,
      pid: process.pid,
      now: epochNow(),
      entries: this.entries.map((e) => ({ ...e })),
      answers: [...this.answers],
    };
  }
}
