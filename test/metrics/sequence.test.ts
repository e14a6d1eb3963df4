import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analyzeReceives,
  analyzeSends,
  type LossCounts,
  type ReceiveEvent,
  type SendRecord,
} from '../../src/metrics/sequence.js';
import { parseUdpLog } from '../../src/metrics/udp-log.js';
import { capture, captureSwaps } from './support.js';

const counts = (
  sent: number,
  received: number,
  unique: number,
  lost: number,
  duplicated: number,
  reordered: number,
): LossCounts => ({ sent, received, unique, lost, duplicated, reordered });

/** Receive events for these sequence numbers, 1 ms apart, in this order. */
const arriving = (seqs: number[], node?: string): ReceiveEvent[] =>
  seqs.map((seq, i) => ({ seq, tMs: i, ...(node ? { node } : {}) }));

describe('analyzeReceives (echoes in arrival order)', () => {
  const cases: [string, number[], number, LossCounts][] = [
    // name, arrival order, sent, want: sent received unique lost duplicated reordered
    ['in order, nothing lost', [0, 1, 2, 3], 4, counts(4, 4, 4, 0, 0, 0)],
    ['nothing came back', [], 3, counts(3, 0, 0, 3, 0, 0)],
    ['losses in the middle and at the end', [0, 1, 3], 5, counts(5, 3, 3, 2, 0, 0)],
    ['duplicates: one twice, one three times', [0, 1, 1, 2, 2, 2], 3, counts(3, 6, 3, 0, 3, 0)],
    ['one late datagram', [0, 2, 1, 3], 4, counts(4, 4, 4, 0, 0, 1)],
    ['all reversed: every one but the first to arrive', [3, 2, 1, 0], 4, counts(4, 4, 4, 0, 0, 3)],
    ['a late duplicate is a duplicate, not reordered', [0, 1, 2, 1], 3, counts(3, 4, 3, 0, 1, 0)],
    ['reordered, then duplicated', [1, 0, 0], 2, counts(2, 3, 2, 0, 1, 1)],
    ['a lost one is not reordered', [0, 2], 3, counts(3, 2, 2, 1, 0, 0)],
  ];
  for (const [name, order, sent, want] of cases) {
    it(name, () => {
      const r = analyzeReceives(arriving(order), sent);
      assert.deepEqual(r.total, want);
      assert.deepEqual(r.beforeFirstSwap, want, 'without swaps, everything is before the first');
      assert.deepEqual(r.windows, []);
      assert.equal(r.unknown, 0);
    });
  }

  it('sequence numbers never sent are counted apart and ignored', () => {
    const r = analyzeReceives(arriving([0, 7, -1, 1.5, 1]), 2);
    assert.equal(r.unknown, 3);
    assert.deepEqual(r.total, counts(2, 2, 2, 0, 0, 0));
  });

  it('firstSeq: numbering from 1, like ping', () => {
    const r = analyzeReceives(arriving([1, 3, 2]), 3, { firstSeq: 1 });
    assert.deepEqual(r.total, counts(3, 3, 3, 0, 0, 1));
    assert.equal(r.unknown, 0);
  });

  it('per swap window, by send time, and per echoing server', () => {
    // Sent every 10 ms: seq 0-2 before the swap at 25 (C), 3-6 in [25, 65) (D), 7-9 after (C).
    const sentMs = Array.from({ length: 10 }, (_, i) => i * 10);
    const events: ReceiveEvent[] = [
      ...arriving([0, 1], 'C'),
      { seq: 3, tMs: 31, node: 'D' },
      { seq: 2, tMs: 32, node: 'C' }, // late, from the old server
      { seq: 5, tMs: 51, node: 'D' }, // 4 lost
      { seq: 6, tMs: 61, node: 'D' },
      { seq: 7, tMs: 71, node: 'C' },
      { seq: 8, tMs: 81, node: 'C' },
      { seq: 8, tMs: 82, node: 'D' }, // duplicated by both servers
      { seq: 9, tMs: 91, node: 'C' },
    ];
    const swaps = [
      { issuedMs: 25, from: 'C', to: 'D' },
      { issuedMs: 65, from: 'D', to: 'C' },
    ];
    const r = analyzeReceives(events, 10, { sentMs, swaps });
    assert.deepEqual(r.total, counts(10, 10, 9, 1, 1, 1));
    assert.deepEqual(r.beforeFirstSwap, counts(3, 3, 3, 0, 0, 1));
    assert.deepEqual(r.windows, [
      { index: 0, startMs: 25, endMs: 65, ...counts(4, 3, 3, 1, 0, 0) },
      { index: 1, startMs: 65, endMs: null, ...counts(3, 4, 3, 0, 1, 0) },
    ]);
    assert.deepEqual(r.byNode, { C: 6, D: 4 });
  });

  it('a swap with no datagram sent in its window has an all-zero window', () => {
    const r = analyzeReceives(arriving([0, 1]), 2, {
      sentMs: [0, 100],
      swaps: [{ issuedMs: 10 }, { issuedMs: 20 }, { issuedMs: 90 }],
    });
    assert.deepEqual(
      r.windows.map((w) => w.sent),
      [0, 0, 1],
    );
    assert.deepEqual(r.windows[0], {
      index: 0,
      startMs: 10,
      endMs: 20,
      ...counts(0, 0, 0, 0, 0, 0),
    });
  });

  it('rejects windows without send times, too few send times, a bad sent count', () => {
    assert.throws(() => analyzeReceives([], 2, { swaps: [{ issuedMs: 1 }] }), RangeError);
    assert.throws(() => analyzeReceives([], 2, { sentMs: [0] }), RangeError);
    assert.throws(() => analyzeReceives([], -1), RangeError);
  });
});

describe('analyzeSends (the sender’s per-datagram records)', () => {
  const rec = (
    seq: number,
    sentMs: number,
    receivedMs: number | null,
    copies: number,
    node?: string,
  ): SendRecord => ({ seq, sentMs, receivedMs, copies, ...(node ? { node } : {}) });

  const cases: [string, SendRecord[], LossCounts][] = [
    ['nothing', [], counts(0, 0, 0, 0, 0, 0)],
    ['in order', [rec(0, 0, 1, 1), rec(1, 1, 2, 1)], counts(2, 2, 2, 0, 0, 0)],
    [
      'a later datagram came back first: the earlier one is reordered',
      [rec(0, 0, 10, 1), rec(1, 1, 30, 1), rec(2, 2, 20, 1)],
      counts(3, 3, 3, 0, 0, 1),
    ],
    [
      'same arrival time is not reordered',
      [rec(0, 0, 10, 1), rec(1, 1, 10, 1)],
      counts(2, 2, 2, 0, 0, 0),
    ],
    [
      'lost and duplicated',
      [rec(0, 0, 5, 3), rec(1, 1, null, 0), rec(2, 2, 7, 1)],
      counts(3, 4, 2, 1, 2, 0),
    ],
    [
      'a receive time with copies 0 still counts one copy',
      [rec(0, 0, 5, 0)],
      counts(1, 1, 1, 0, 0, 0),
    ],
    [
      'records in any order, numbering with holes',
      [rec(12, 2, 9, 1), rec(10, 0, 8, 1), rec(11, 1, null, 0)],
      counts(3, 2, 2, 1, 0, 0),
    ],
  ];
  for (const [name, records, want] of cases) {
    it(name, () => assert.deepEqual(analyzeSends(records).total, want));
  }

  it('per window and per node', () => {
    const r = analyzeSends(
      [rec(0, 0, 1, 1, 'C'), rec(1, 10, null, 0), rec(2, 20, 25, 2, 'D'), rec(3, 30, 24, 1, 'D')],
      { swaps: [{ issuedMs: 5 }, { issuedMs: 25 }] },
    );
    assert.deepEqual(r.beforeFirstSwap, counts(1, 1, 1, 0, 0, 0));
    assert.deepEqual(r.windows, [
      { index: 0, startMs: 5, endMs: 25, ...counts(2, 2, 1, 1, 1, 1) },
      { index: 1, startMs: 25, endMs: null, ...counts(1, 1, 1, 0, 0, 0) },
    ]);
    assert.deepEqual(r.byNode, { C: 1, D: 3 });
  });

  it('rejects a sequence number recorded twice or not a whole number', () => {
    assert.throws(() => analyzeSends([rec(1, 0, 1, 1), rec(1, 1, 2, 1)]), RangeError);
    assert.throws(() => analyzeSends([rec(0.5, 0, 1, 1)]), RangeError);
  });

  it("flowmig's real UDP log: 299 sent, none lost, 43 before the first swap, 58/57/141 after", () => {
    const { records } = parseUdpLog(capture('udp-load-log.txt'));
    const r = analyzeSends(records, { swaps: captureSwaps('swaps-udp-load.txt') });
    assert.deepEqual(r.total, counts(299, 299, 299, 0, 0, 0));
    assert.equal(r.beforeFirstSwap.sent, 43);
    assert.deepEqual(
      r.windows.map((w) => [w.sent, w.lost, w.duplicated, w.reordered]),
      [
        [58, 0, 0, 0],
        [57, 0, 0, 0],
        [141, 0, 0, 0],
      ],
    );
    // Its own summary line agrees.
    const summary = JSON.parse(capture('udp-load-stdout.txt')) as Record<string, number>;
    assert.equal(summary.sent, r.total.sent);
    assert.equal(summary.unique, r.total.unique);
    assert.equal(summary.duplicates, r.total.duplicated);
  });
});

describe('sequence analysis at scale', () => {
  it('1 000 000 datagrams over 1000 swap windows, both ways, in one pass', (t) => {
    const n = 1_000_000;
    const sentMs = new Float64Array(n);
    for (let i = 0; i < n; i++) sentMs[i] = i / 100; // 100 per ms
    const swaps = Array.from({ length: 1000 }, (_, k) => ({ issuedMs: k * 10 + 5 }));
    // Per 1000 datagrams: the one ending in 999 is lost, the one ending in 250 comes back twice,
    // and in every 7th thousand the ones ending in 500 and 501 arrive swapped.
    function* events(): Generator<ReceiveEvent> {
      for (let i = 0; i < n; i++) {
        const swapped = Math.floor(i / 1000) % 7 === 0;
        let seq = i;
        if (swapped && i % 1000 === 500) seq = i + 1;
        else if (swapped && i % 1000 === 501) seq = i - 1;
        if (seq % 1000 === 999) continue;
        yield { seq, tMs: i };
        if (seq % 1000 === 250) yield { seq, tMs: i };
      }
    }
    const started = performance.now();
    const r = analyzeReceives(events(), n, { sentMs, swaps });
    const ms = performance.now() - started;
    assert.deepEqual(r.total, counts(n, n, n - 1000, 1000, 1000, 143));
    assert.equal(r.windows.length, 1000);
    assert.equal(r.windows.reduce((s, w) => s + w.sent, 0) + r.beforeFirstSwap.sent, n);
    assert.equal(r.beforeFirstSwap.sent, 500);
    assert.ok(r.windows.slice(0, -1).every((w) => w.sent === 1000));

    const records: SendRecord[] = Array.from({ length: n }, (_, i) => ({
      seq: i,
      sentMs: sentMs[i] ?? 0,
      receivedMs: i % 1000 === 999 ? null : (sentMs[i] ?? 0) + (i % 2 === 0 ? 0.5 : 0.1),
      copies: i % 1000 === 999 ? 0 : 1,
    }));
    const fromSends = analyzeSends(records, { swaps });
    assert.equal(fromSends.total.lost, 1000);
    // Each even datagram came back after its odd successor (sent 0.01 ms later, back 0.39 ms
    // sooner), except the last even one: its successor, 999 999, was lost.
    assert.equal(fromSends.total.reordered, n / 2 - 1);
    t.diagnostic(`analyzeReceives: ${n} datagrams, 1000 windows in ${ms.toFixed(1)} ms`);
  });
});
