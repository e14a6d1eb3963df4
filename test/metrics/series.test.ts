import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrivalTimes } from '../../src/metrics/arrivals.js';
import {
  bucketCounts,
  counterBuckets,
  downsampleMax,
  type SeriesPoint,
} from '../../src/metrics/series.js';
import { parseTcpdump } from '../../src/metrics/tcpdump.js';
import { capture } from './support.js';

describe('bucketCounts', () => {
  const cases: [string, number[], number, number, number, number[]][] = [
    // name, times, start, interval, duration, want
    ['no times', [], 0, 1, 3, [0, 0, 0]],
    ['bucket edges: start is in, end is out', [0, 0.5, 1, 2.999, 3], 0, 1, 3, [2, 1, 1]],
    ['any order', [2.5, 0.1, 1.5, 0.2], 0, 1, 3, [2, 1, 1]],
    ['a shorter last bucket', [0, 2.4, 2.6], 0, 1, 2.5, [1, 0, 1]],
    ['times before the start are left out', [-1, 9.9, 10, 15], 10, 5, 10, [1, 1]],
    ['duration 0: no buckets', [1, 2], 0, 1, 0, []],
    ['epoch times', [1_795_598_461_000.2, 1_795_598_461_000.7], 1_795_598_461_000, 0.5, 1, [1, 1]],
  ];
  for (const [name, times, start, interval, duration, want] of cases) {
    it(name, () => assert.deepEqual(bucketCounts(times, start, interval, duration), want));
  }

  it('a time that rounds into the bucket past the end lands in the last one', () => {
    // 5.699999999999999 / 0.3 === 19 in doubles, though the time is before the end (5.7).
    const t = 5.699999999999999;
    assert.ok(t < 5.7);
    assert.equal(Math.floor(t / 0.3), 19);
    const counts = bucketCounts([t], 0, 0.3, 5.7);
    assert.equal(counts.length, 19);
    assert.equal(counts[18], 1);
  });

  it('takes any iterable', () => {
    function* times() {
      yield 0;
      yield 1;
    }
    assert.deepEqual(bucketCounts(times(), 0, 1, 2), [1, 1]);
  });

  for (const [interval, duration] of [
    [0, 1],
    [-1, 1],
    [Number.NaN, 1],
    [1, -1],
    [1, Number.POSITIVE_INFINITY],
  ] as const) {
    it(`rejects interval ${interval}, duration ${duration}`, () =>
      assert.throws(() => bucketCounts([], 0, interval, duration), RangeError));
  }

  it('echo requests per 100 ms at C and D add up to what each capture holds', () => {
    const c = arrivalTimes(parseTcpdump(capture('tcpdump-ping-c.txt')).packets, {
      kind: 'echo-request',
    });
    const d = arrivalTimes(parseTcpdump(capture('tcpdump-ping-d.txt')).packets, {
      kind: 'echo-request',
    });
    const start = Math.floor(Math.min(c[0] ?? 0, d[0] ?? 0));
    const perC = bucketCounts(c, start, 100, 1600);
    const perD = bucketCounts(d, start, 100, 1600);
    assert.equal(perC.length, 16);
    assert.equal(
      perC.reduce((a, b) => a + b, 0),
      188,
    );
    assert.equal(
      perD.reduce((a, b) => a + b, 0),
      112,
    );
    // ping -i 0.005: about 20 requests per 100 ms between the two servers while it ran.
    const both = perC.map((x, i) => x + (perD[i] ?? 0));
    assert.ok(
      both.slice(1, 14).every((n) => n >= 18 && n <= 21),
      both.join(' '),
    );
  });
});

describe('downsampleMax', () => {
  const series = (values: number[]): SeriesPoint[] => values.map((value, tMs) => ({ tMs, value }));

  it('returns a series that fits as it is (a copy)', () => {
    const s = series([1, 2, 3]);
    const out = downsampleMax(s, 3);
    assert.deepEqual(out, s);
    assert.notEqual(out, s);
  });

  it('keeps the spike of each bucket', () => {
    // 10 points into 5 buckets of 2: the larger of each pair, first on ties.
    const s = series([1, 9, 2, 2, 5, 3, 0, 0, 4, 8]);
    assert.deepEqual(downsampleMax(s, 5), [
      { tMs: 1, value: 9 },
      { tMs: 2, value: 2 },
      { tMs: 4, value: 5 },
      { tMs: 6, value: 0 },
      { tMs: 9, value: 8 },
    ]);
  });

  it('never returns more than maxPoints, and a single spike in 100 000 points survives', () => {
    const s = series(Array.from({ length: 100_000 }, (_, i) => (i === 31_337 ? 50 : 0.05)));
    const out = downsampleMax(s, 1000);
    assert.ok(out.length <= 1000);
    assert.ok(out.some((p) => p.tMs === 31_337 && p.value === 50));
  });

  it('points at one instant become one point, the largest', () => {
    const s = [1, 3, 2].map((value) => ({ tMs: 5, value }));
    assert.deepEqual(downsampleMax(s, 2), [{ tMs: 5, value: 3 }]);
  });

  it('rejects unsorted points and a bad maxPoints', () => {
    assert.throws(() => downsampleMax(series([1, 2, 3]).reverse(), 2), RangeError);
    assert.throws(() => downsampleMax([], 0), RangeError);
    assert.throws(() => downsampleMax([], 1.5), RangeError);
  });
});

describe('counterBuckets', () => {
  it('spreads each growth over the time between readings, keeping the total', () => {
    // 100 per ms; readings at 0, 10, 20, 45 (late), 50: every 10 ms bucket holds 1000.
    const r = [0, 10, 20, 45, 50].map((t) => ({ tMs: 1000 + t, value: 100 * t }));
    assert.deepEqual(counterBuckets(r, 1000, 10, 50), [1000, 1000, 1000, 1000, 1000]);
  });

  it('rounds the running total: integer counts that add up to the growth', () => {
    const r = [
      { tMs: 0, value: 0 },
      { tMs: 7, value: 10 },
      { tMs: 30, value: 11 },
    ];
    const c = counterBuckets(r, 0, 10, 30);
    assert.ok(c.every((x) => Number.isInteger(x) && x >= 0));
    assert.equal(
      c.reduce((a, b) => a + b, 0),
      11,
    );
  });

  it('puts growth of readings outside the buckets into the nearest one', () => {
    const r = [
      { tMs: -5, value: 0 },
      { tMs: 5, value: 10 },
      { tMs: 25, value: 30 },
    ];
    assert.deepEqual(counterBuckets(r, 0, 10, 20), [15, 15]);
  });
});
