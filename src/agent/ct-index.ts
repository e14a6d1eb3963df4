// An index of conntrack entries by original destination, kept current from NEW/DESTROY events.
import type { CtEntry } from '../netlink/conntrack.js';

export class ConntrackIndex {
  private readonly byDst = new Map<string, Map<string, CtEntry>>();
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
    m.set(e.key, e);
  }

  remove(e: CtEntry): void {
    const m = this.byDst.get(e.origDst);
    if (m?.delete(e.key)) {
      this.count--;
      if (m.size === 0) this.byDst.delete(e.origDst);
    }
  }

  /** Removes and returns every entry whose original destination is `dst` (and that `keep` rejects). */
  take(dst: string, keep?: (e: CtEntry) => boolean): CtEntry[] {
    const m = this.byDst.get(dst);
    if (!m) return [];
    const out: CtEntry[] = [];
    for (const [key, e] of m) {
      if (keep?.(e)) continue;
      m.delete(key);
      out.push(e);
    }
    this.count -= out.length;
    if (m.size === 0) this.byDst.delete(dst);
    return out;
  }

  /** Replaces the whole index with a fresh dump. */
  reset(entries: Iterable<CtEntry>): void {
    this.byDst.clear();
    this.count = 0;
    for (const e of entries) this.add(e);
    this.dirty = false;
  }
}
