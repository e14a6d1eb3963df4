// UDP sequence analysis: lost, duplicated and reordered datagrams, in total and per swap window.
import { windowLocator } from './swaps.js';

/** What the sender logged per datagram: when it left, when its first echo came, how many came. */
export interface SendRecord {
  readonly seq: number;
  readonly sentMs: number;
  readonly receivedMs: number | null;
  readonly copies: number;
  /** The server that echoed it (the first copy), when known. */
  readonly node?: string;
}

/** One echo as it came back, in arrival order. */
export interface ReceiveEvent {
  readonly seq: number;
  readonly tMs: number;
  readonly node?: string;
}

export interface LossCounts {
  readonly sent: number;
  /** Every copy that came back, duplicates included. */
  readonly received: number;
  /** Sequence numbers that came back at least once. */
  readonly unique: number;
  readonly lost: number;
  /** Extra copies: a datagram that came back 3 times adds 2. */
  readonly duplicated: number;
  /** Datagrams whose first copy came after a higher sequence number's. */
  readonly reordered: number;
}

export interface WindowLoss extends LossCounts {
  /** The swap that opened the window; it holds the datagrams sent in [startMs, endMs). */
  readonly index: number;
  readonly startMs: number;
  readonly endMs: number | null;
}

export interface SequenceReport {
  readonly total: LossCounts;
  /** Datagrams sent before the first swap (all of them when there are no swaps). */
  readonly beforeFirstSwap: LossCounts;
  readonly windows: readonly WindowLoss[];
  /** Copies received per echoing node, when events or records name it. */
  readonly byNode: Readonly<Record<string, number>>;
  /** Receive events whose sequence number was never sent (ignored). */
  readonly unknown: number;
}

interface Swaps {
  readonly swaps?: readonly { readonly issuedMs: number }[];
}

class Tally {
  sent = 0;
  received = 0;
  unique = 0;
  lost = 0;
  duplicated = 0;
  reordered = 0;

  add(copies: number, reordered: boolean): void {
    this.sent++;
    this.received += copies;
    if (copies > 0) this.unique++;
    else this.lost++;
    if (copies > 1) this.duplicated += copies - 1;
    if (reordered) this.reordered++;
  }

  counts(): LossCounts {
    const { sent, received, unique, lost, duplicated, reordered } = this;
    return { sent, received, unique, lost, duplicated, reordered };
  }
}

/**
 * Sums per-datagram facts (index i = one sent datagram) into totals and windows by send time.
 * A datagram whose send time is unknown (NaN) counts in the total only.
 */
function aggregate(
  n: number,
  present: Uint8Array | undefined,
  copies: Uint32Array,
  reordered: Uint8Array,
  sentMs: ArrayLike<number> | undefined,
  swaps: readonly { readonly issuedMs: number }[],
  byNode: Record<string, number>,
  unknown: number,
): SequenceReport {
  if (swaps.length > 0 && sentMs === undefined) {
    throw new RangeError('per-swap windows need the send time of every datagram');
  }
  const locate = windowLocator(swaps);
  const total = new Tally();
  const before = new Tally();
  const windows = swaps.map(() => new Tally());
  for (let i = 0; i < n; i++) {
    if (present && present[i] === 0) continue;
    const c = copies[i] ?? 0;
    const r = reordered[i] === 1;
    total.add(c, r);
    const t = sentMs?.[i];
    if (t === undefined) {
      before.add(c, r);
      continue;
    }
    if (Number.isNaN(t)) continue;
    const w = locate(t);
    (w < 0 ? before : (windows[w] as Tally)).add(c, r);
  }
  return {
    total: total.counts(),
    beforeFirstSwap: before.counts(),
    windows: windows.map((tally, index) => ({
      index,
      startMs: swaps[index]?.issuedMs ?? 0,
      endMs: swaps[index + 1]?.issuedMs ?? null,
      ...tally.counts(),
    })),
    byNode,
    unknown,
  };
}

/**
 * From echoes in arrival order and the number sent (sequence numbers firstSeq .. firstSeq+sent-1).
 * A datagram is reordered when its first copy comes after a higher sequence number's; windows use
 * `sentMs[seq - firstSeq]`. O(events + sent) time, a few bytes per datagram sent.
 */
export function analyzeReceives(
  events: Iterable<ReceiveEvent>,
  sent: number,
  options: Swaps & { readonly firstSeq?: number; readonly sentMs?: ArrayLike<number> } = {},
): SequenceReport {
  if (!Number.isInteger(sent) || sent < 0) throw new RangeError(`bad sent count ${sent}`);
  const first = options.firstSeq ?? 0;
  if (options.sentMs && options.sentMs.length < sent) {
    throw new RangeError(`send times for ${options.sentMs.length} datagrams, ${sent} sent`);
  }
  const copies = new Uint32Array(sent);
  const reordered = new Uint8Array(sent);
  const byNode: Record<string, number> = {};
  let highest = -1;
  let unknown = 0;
  for (const ev of events) {
    const i = ev.seq - first;
    if (!(Number.isInteger(i) && i >= 0 && i < sent)) {
      unknown++;
      continue;
    }
    if (ev.node !== undefined) byNode[ev.node] = (byNode[ev.node] ?? 0) + 1;
    if (copies[i] === 0 && i < highest) reordered[i] = 1;
    copies[i] = (copies[i] ?? 0) + 1;
    if (i > highest) highest = i;
  }
  return aggregate(
    sent,
    undefined,
    copies,
    reordered,
    options.sentMs,
    options.swaps ?? [],
    byNode,
    unknown,
  );
}

/**
 * From the sender's per-datagram records (any order; sequence numbers unique). Reordered: some
 * higher sequence number's first copy arrived strictly earlier. O(records + seq range).
 */
export function analyzeSends(records: Iterable<SendRecord>, options: Swaps = {}): SequenceReport {
  const all = [...records];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const r of all) {
    if (!Number.isInteger(r.seq) || r.seq < 0) throw new RangeError(`bad sequence number ${r.seq}`);
    if (r.seq < min) min = r.seq;
    if (r.seq > max) max = r.seq;
  }
  const n = all.length === 0 ? 0 : max - min + 1;
  const present = new Uint8Array(n);
  const copies = new Uint32Array(n);
  const receivedMs = new Float64Array(n).fill(Number.NaN);
  const sentMs = new Float64Array(n).fill(Number.NaN);
  const byNode: Record<string, number> = {};
  for (const r of all) {
    const i = r.seq - min;
    if (present[i] === 1) throw new RangeError(`sequence number ${r.seq} recorded twice`);
    present[i] = 1;
    // A receive time means at least one copy, whatever the count says.
    const c = Math.max(r.copies, r.receivedMs === null ? 0 : 1);
    copies[i] = c;
    receivedMs[i] = r.receivedMs ?? Number.NaN;
    sentMs[i] = r.sentMs;
    if (r.node !== undefined && c > 0) byNode[r.node] = (byNode[r.node] ?? 0) + c;
  }
  // From the highest sequence number down, the earliest arrival among higher ones.
  const reordered = new Uint8Array(n);
  let earliestHigher = Number.POSITIVE_INFINITY;
  for (let i = n - 1; i >= 0; i--) {
    const t = receivedMs[i] ?? Number.NaN;
    if (Number.isNaN(t)) continue;
    if (earliestHigher < t) reordered[i] = 1;
    else earliestHigher = t;
  }
  return aggregate(n, present, copies, reordered, sentMs, options.swaps ?? [], byNode, 0);
}
