import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distribution } from '../../src/results/stats.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('distribution (nearest-rank percentiles)', () => {
  it('is all zeros for no samples', () => {
    assert.deepEqual(distribution([]), { count: 0, min: 0, p50: 0, p99: 0, max: 0, mean: 0 });
  });

  it('one sample is every statistic', () => {
    assert.deepEqual(distribution([2.5]), {
      count: 1,
      min: 2.5,
      p50: 2.5,
      p99: 2.5,
      max: 2.5,
      mean: 2.5,
    });
  });

  it('four samples, unsorted: p50 is the 2nd, p99 the 4th', () => {
    assert.deepEqual(distribution([4, 1, 3, 2]), {
      count: 4,
      min: 1,
      p50: 2,
      p99: 4,
      max: 4,
      mean: 2.5,
    });
  });

  const cases: [number, number, number][] = [
    // n, p50 (rank ceil(n/2)), p99 (rank ceil(0.99 n))
    [2, 1, 2],
    [3, 2, 3],
    [100, 50, 99],
    [101, 51, 100],
    [200, 100, 198],
    [1000, 500, 990],
  ];
  for (const [n, p50, p99] of cases) {
    it(`1..${n}: p50 ${p50}, p99 ${p99}`, () => {
      const d = distribution(range(n).reverse());
      assert.equal(d.count, n);
      assert.equal(d.min, 1);
      assert.equal(d.max, n);
      assert.equal(d.p50, p50);
      assert.equal(d.p99, p99);
      assert.equal(d.mean, (n + 1) / 2);
    });
  }

  it('sorts numerically, not as text', () => {
    const d = distribution([10, 9, 100]);
    assert.equal(d.min, 9);
    assert.equal(d.p50, 10);
    assert.equal(d.max, 100);
  });

  it('leaves its input alone', () => {
    const samples = [3, 1, 2];
    distribution(samples);
    assert.deepEqual(samples, [3, 1, 2]);
  });
});
