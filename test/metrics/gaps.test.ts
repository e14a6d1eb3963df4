import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrivalTimes } from '../../src/metrics/arrivals.js';
import { type ArrivalsByNode, type MigrationGap, migrationGaps } from '../../src/metrics/gaps.js';
import type { SwapMark } from '../../src/metrics/swaps.js';
import { parseTcpdump } from '../../src/metrics/tcpdump.js';
import { capture, captureSwaps } from './support.js';

type Want = Partial<MigrationGap>;
const swap = (issuedMs: number, from: string, to: string): SwapMark => ({ issuedMs, from, to });

describe('migrationGaps, hand-made', () => {
  const cases: [string, ArrivalsByNode, SwapMark[], Want[]][] = [
    [
      'clean cut: the last packet at C, then the first at D',
      { C: [0, 1, 2, 3], D: [5, 6, 7] },
      [swap(3.5, 'C', 'D')],
      [{ firstNewMs: 5, lastOldMs: 3, gapMs: 2, inFlight: 0, overlap: 0, windowEndMs: null }],
    ],
    [
      'a packet in flight reaches the old server after the swap',
      { C: [0, 1, 2, 3, 4], D: [5, 6] },
      [swap(3.5, 'C', 'D')],
      [{ firstNewMs: 5, lastOldMs: 4, gapMs: 1, inFlight: 1, overlap: 0 }],
    ],
    [
      'overlap: the old server still gets a packet after the new one got its first (negative gap)',
      { C: [0, 1, 2, 6], D: [5, 7] },
      [swap(3, 'C', 'D')],
      [{ firstNewMs: 5, lastOldMs: 6, gapMs: -1, inFlight: 0, overlap: 1 }],
    ],
    [
      'an arrival at the old server at the very instant of the first new one is in flight, gap 0',
      { C: [0, 5], D: [5] },
      [swap(1, 'C', 'D')],
      [{ firstNewMs: 5, lastOldMs: 5, gapMs: 0, inFlight: 1, overlap: 0 }],
    ],
    [
      'no packet at the new server: not measurable, in flight counts the whole window',
      { C: [0, 1, 2, 3, 4], D: [] },
      [swap(2.5, 'C', 'D')],
      [
        {
          firstNewMs: null,
          lastOldMs: 4,
          gapMs: null,
          unmeasurable: 'no-arrival-at-new',
          inFlight: 2,
          overlap: 0,
        },
      ],
    ],
    [
      'the new server is not in the arrivals at all',
      { C: [0, 1] },
      [swap(0.5, 'C', 'D')],
      [{ firstNewMs: null, gapMs: null, unmeasurable: 'no-arrival-at-new', inFlight: 1 }],
    ],
    [
      'no packet ever reached the old server',
      { C: [], D: [5, 6] },
      [swap(1, 'C', 'D')],
      [
        {
          firstNewMs: 5,
          lastOldMs: null,
          gapMs: null,
          unmeasurable: 'no-arrival-at-old',
          inFlight: 0,
        },
      ],
    ],
    [
      'a packet at the new server before the swap is not its first new one',
      { C: [0, 1, 2], D: [0.5, 4] },
      [swap(3, 'C', 'D')],
      [{ firstNewMs: 4, lastOldMs: 2, gapMs: 2 }],
    ],
    [
      'back and forth: each swap only looks at its own window',
      { C: [0, 1, 2, 7, 8], D: [4, 5] },
      [swap(3, 'C', 'D'), swap(6, 'D', 'C')],
      [
        { firstNewMs: 4, lastOldMs: 2, gapMs: 2, windowEndMs: 6 },
        { firstNewMs: 7, lastOldMs: 5, gapMs: 2, windowEndMs: null },
      ],
    ],
    [
      "a packet at D after the swap back is not D's: the window ends at the next swap",
      { C: [0, 1, 6.5, 7], D: [3, 4, 6.2] },
      [swap(2, 'C', 'D'), swap(6, 'D', 'C')],
      [
        { firstNewMs: 3, lastOldMs: 1, gapMs: 2, inFlight: 0, overlap: 0 },
        { firstNewMs: 6.5, lastOldMs: 6.2, gapMs: 6.5 - 6.2, inFlight: 1 },
      ],
    ],
    [
      'swaps while no traffic flows: quiet windows are not measurable, the next one spans the pause',
      { C: [0, 1], D: [10] },
      [swap(2, 'C', 'D'), swap(4, 'D', 'C'), swap(8, 'C', 'D')],
      [
        { firstNewMs: null, lastOldMs: 1, unmeasurable: 'no-arrival-at-new', inFlight: 0 },
        { firstNewMs: null, lastOldMs: null, unmeasurable: 'no-arrival-at-new', inFlight: 0 },
        { firstNewMs: 10, lastOldMs: 1, gapMs: 9, inFlight: 0 },
      ],
    ],
    [
      'two swaps at the same instant: the first has an empty window',
      { C: [0, 1], D: [3] },
      [swap(2, 'C', 'D'), swap(2, 'D', 'C'), swap(2.5, 'C', 'D')],
      [
        { firstNewMs: null, windowEndMs: 2, unmeasurable: 'no-arrival-at-new' },
        { firstNewMs: null, unmeasurable: 'no-arrival-at-new' },
        { firstNewMs: 3, lastOldMs: 1, gapMs: 2 },
      ],
    ],
    [
      'a swap to the node it came from measures nothing',
      { C: [0, 1, 2] },
      [swap(1, 'C', 'C')],
      [{ gapMs: null, unmeasurable: 'same-node', inFlight: 0, overlap: 0 }],
    ],
    [
      'three servers, arrivals given as a Map',
      new Map([
        ['C', [0, 1]],
        ['D', [3, 4]],
        ['E', [6, 7]],
      ]),
      [swap(2, 'C', 'D'), swap(5, 'D', 'E')],
      [
        { from: 'C', to: 'D', gapMs: 2 },
        { from: 'D', to: 'E', gapMs: 2 },
      ],
    ],
    ['no swaps', { C: [1, 2] }, [], []],
  ];
  for (const [name, arrivals, swaps, want] of cases) {
    it(name, () => {
      const gaps = migrationGaps(arrivals, swaps);
      assert.equal(gaps.length, want.length);
      gaps.forEach((g, i) => {
        assert.equal(g.index, i);
        for (const [k, v] of Object.entries(want[i] ?? {})) {
          assert.deepEqual(g[k as keyof MigrationGap], v, `swap ${i} ${k}`);
        }
        if (!('unmeasurable' in (want[i] ?? {}))) assert.equal(g.unmeasurable, undefined);
      });
    });
  }

  it('rejects swaps out of order and unsorted arrivals', () => {
    assert.throws(
      () => migrationGaps({ C: [0] }, [swap(2, 'C', 'D'), swap(1, 'D', 'C')]),
      RangeError,
    );
    assert.throws(() => migrationGaps({ C: [0, 2, 1] }, [swap(1, 'C', 'D')]), RangeError);
  });

  it('1000 swaps over 1 000 000 packets: one pass, every gap 1 ms', (t) => {
    // One packet per ms; a swap every second at k·1000 + 0.5, alternating C→D and D→C.
    const n = 1_000_000;
    const c: number[] = [];
    const d: number[] = [];
    for (let t = 0; t < n; t++) {
      const w = t < 0.5 ? -1 : Math.floor((t - 0.5) / 1000);
      (w % 2 === 0 ? d : c).push(t);
    }
    const swaps = Array.from({ length: 1000 }, (_, k) =>
      swap(k * 1000 + 0.5, k % 2 === 0 ? 'C' : 'D', k % 2 === 0 ? 'D' : 'C'),
    );
    const arrivals = { C: Float64Array.from(c), D: Float64Array.from(d) };
    const started = performance.now();
    const gaps = migrationGaps(arrivals, swaps);
    const ms = performance.now() - started;
    assert.equal(gaps.length, 1000);
    assert.ok(gaps.every((g) => g.gapMs === 1 && g.inFlight === 0 && g.overlap === 0));
    assert.ok(gaps.every((g, k) => g.firstNewMs === k * 1000 + 1 && g.lastOldMs === k * 1000));
    // Not a timing assertion: the time is reported, so a quadratic regression is easy to see.
    t.diagnostic(`migrationGaps: 1000 swaps × ${n} packets in ${ms.toFixed(1)} ms`);
  });
});

describe('migrationGaps on real captures', () => {
  it('ping -i 0.005 across 3 swaps: each gap is one ping interval, nothing in flight', () => {
    const requests = (file: string) =>
      arrivalTimes(parseTcpdump(capture(file)).packets, { kind: 'echo-request' });
    const swaps = captureSwaps('swaps-ping.txt');
    assert.deepEqual(
      swaps.map((s) => `${s.from}→${s.to}`),
      ['D→C', 'C→D', 'D→C'],
    );
    const gaps = migrationGaps(
      { C: requests('tcpdump-ping-c.txt'), D: requests('tcpdump-ping-d.txt') },
      swaps,
    );
    // Checked by hand: (first request at the new server) − (last at the old one), from the files:
    // seq 58 at C 1795598461.188025896 − seq 57 at D .183006277, seq 116 at D .480708768 − seq 115
    // at C .475660797, seq 171 at C .758916029 − seq 170 at D .753879285.
    const want = [5.019619, 5.047971, 5.036744];
    gaps.forEach((g, i) => {
      assert.ok(Math.abs((g.gapMs ?? 0) - (want[i] ?? 0)) < 0.001, `gap ${i}: ${g.gapMs}`);
      assert.equal(g.inFlight, 0);
      assert.equal(g.overlap, 0);
    });
    assert.ok(Math.abs((gaps[0]?.firstNewMs ?? 0) - 1_795_598_461_188 - 0.025896) < 0.001);
  });

  it("flowmig's UDP load: a datagram in flight at two swaps; the sender's pause shows in the third", () => {
    const datagrams = (file: string, dst: string) =>
      arrivalTimes(parseTcpdump(capture(file)).packets, { kind: 'udp', dst, dport: 5555 });
    const c = datagrams('tcpdump-udp-load-c.txt', 'fc01::1');
    const d = datagrams('tcpdump-udp-load-d.txt', 'fc02::2');
    assert.equal(c.length, 100);
    assert.equal(d.length, 199);
    const gaps = migrationGaps({ C: c, D: d }, captureSwaps('swaps-udp-load.txt'));
    // By hand from the captures (merged and sorted): C .315481447 → D .320901990 (swap issued at
    // .3146204), D .605830636 → C .610877670 (issued .6054016), C .885568889 → D .897338124.
    const want = [
      { gap: 5.420543, inFlight: 1 },
      { gap: 5.047034, inFlight: 1 },
      { gap: 11.769235, inFlight: 0 },
    ];
    gaps.forEach((g, i) => {
      assert.ok(Math.abs((g.gapMs ?? 0) - (want[i]?.gap ?? 0)) < 0.001, `gap ${i}: ${g.gapMs}`);
      assert.equal(g.inFlight, want[i]?.inFlight);
      assert.equal(g.overlap, 0);
    });
  });
});
