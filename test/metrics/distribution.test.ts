import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize } from '../../src/metrics/distribution.js';

describe('summarize (nearest-rank p50/p90/p99)', () => {
  it('is all zeros for no samples', () => {
    assert.deepEqual(summarize([]), {
      count: 0,
      min: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      max: 0,
      mean: 0,
    });
  });

  const cases: [number, number, number, number][] = [
    // n, p50, p90, p99 of 1..n
    [1, 1, 1, 1],
    [4, 2, 4, 4],
    [10, 5, 9, 10],
    [100, 50, 90, 99],
    [1000, 500, 900, 990],
  ];
  for (const [n, p50, p90, p99] of cases) {
    it(`1..${n}, reversed: p50 ${p50}, p90 ${p90}, p99 ${p99}`, () => {
      const d = summarize(Array.from({ length: n }, (_, i) => n - i));
      assert.deepEqual(d, { count: n, min: 1, p50, p90, p99, max: n, mean: (n + 1) / 2 });
    });
  }

  it('sorts numerically, leaves out NaN, takes typed arrays and iterables', () => {
    assert.equal(summarize([10, 9, 100, Number.NaN]).p50, 10);
    assert.equal(summarize(new Float64Array([3, 1, 2])).max, 3);
    assert.equal(summarize(new Set([0.5, 0.25])).min, 0.25);
  });
});
