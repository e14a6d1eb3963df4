// An index of conntrack entries by original destination, kept current from NEW/DESTROY events.
import type { CtEntry } from '../netlink/conntrack.js';

export class ConntrackIndex {
  private readonly byDst = new Map<string, Map<string, Buffer>>();
  private count = 0;
  /** Set when events may have been lost (socket overrun): the index cannot be trusted. */
  dirty = false;

  get size(): number {
    return this.count;
  }

  add(e: CtEntry): void {
    let m = this.byDst.get(e.origDst);
    if (!m) {
      m = new Map();
      this.byDst.set(e.origDst, m);
    }
    if (!m.has(e.key)) this.count++;
    m.set(e.key, e.tuple);
  }

  remove(e: CtEntry): void {
    const m = this.byDst.get(e.origDst);
    if (m?.delete(e.key)) {
      this.count--;
      if (m.size === 0) this.byDst.delete(e.origDst);
    }
  }

  /** Removes and returns the tuples of every entry whose original destination is `dst`. */
  take(dst: string): Buffer[] {
    const m = this.byDst.get(dst);
    if (!m) return [];
    this.byDst.delete(dst);
    this.count -= m.size;
    return [...m.values()];
  }

  /** Replaces the whole index with a fresh dump. */
  reset(entries: Iterable<CtEntry>): void {
    this.byDst.clear();
    this.count = 0;
    for (const e of entries) this.add(e);
    this.dirty = false;
  }
}
