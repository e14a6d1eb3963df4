// Which timed set elements (the late-packet set's former responders) can still be in the kernel,
// as far as this agent knows: it added them with a timeout, and the kernel expires them. A
// release (an `absent` edit: add-then-delete, so a missing element cannot fail the transaction)
// costs two element operations per flow; for elements that cannot be there it is skipped. An
// evacuation of 10,000 flows to a server that was nobody's former responder then needs no second
// transaction at all.
import type { MapEdit } from '../engines/engine.js';

/** Extra time allowed on every expiry (clocks, the kernel's timer granularity). */
const SLACK_MS = 1_000;

export class TimedElements {
  /** table|set|key → when the kernel drops the element (ms on the clock passed in). */
  private readonly until = new Map<string, number>();

  /** `startedAt`: before it, others (the programs path, an earlier agent) may have added some. */
  constructor(private readonly startedAt: number) {}

  get size(): number {
    return this.until.size;
  }

  /** Records what committed edits did to timed sets, at time `at`. */
  note(edits: readonly MapEdit[], table: string, at: number): void {
    for (const e of edits) {
      if (!e.set) continue;
      const where = `${e.table ?? table}|${e.map}|`;
      for (const k of e.remove) this.until.delete(where + k.join(' '));
      for (const k of e.absent ?? []) this.until.delete(where + k.join(' '));
      if (e.timeoutMs !== undefined)
        for (const k of e.add) this.until.set(where + k.join(' '), at + e.timeoutMs);
    }
    if (this.until.size > 1_024)
      for (const [k, t] of this.until) if (t + SLACK_MS < at) this.until.delete(k);
  }

  /**
   * The edits without the absent elements of timed sets that cannot be in the kernel at `at`: not
   * added by this agent, or expired. The edit's `timeoutMs` says how long an element may live;
   * without it, or while an element added before this agent started may still live, nothing is
   * dropped. Edits left with nothing to do are left out.
   */
  needed(edits: readonly MapEdit[], table: string, at: number): MapEdit[] {
    return edits.flatMap((e) => {
      if (!e.set || !e.absent?.length || e.timeoutMs === undefined) return [e];
      if (at - this.startedAt < e.timeoutMs + SLACK_MS) return [e];
      const where = `${e.table ?? table}|${e.map}|`;
      const absent = e.absent.filter(
        (k) => (this.until.get(where + k.join(' ')) ?? Number.NEGATIVE_INFINITY) + SLACK_MS >= at,
      );
      if (absent.length === e.absent.length) return [e];
      if (absent.length === 0 && e.remove.length === 0 && e.add.length === 0) return [];
      return [{ ...e, absent }];
    });
  }
}
