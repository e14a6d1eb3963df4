import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arrivalWindow } from '../../src/metrics/window.js';

/** A packet every `everyMs` at whichever server the last swap (at `swaps`) went to. */
function flow(swaps: readonly number[], untilMs: number, everyMs: number) {
  const at = new Map<string, number[]>([
    ['C', []],
    ['D', []],
  ]);
  for (let t = 0; t < untilMs; t += everyMs) {
    const k = swaps.filter((s) => s <= t).length;
    at.get(k % 2 === 0 ? 'C' : 'D')?.push(t);
  }
  return at;
}

describe('arrivalWindow', () => {
  it('covers a few swaps in the middle, half a period around them, every packet in it once', () => {
    const swaps = Array.from({ length: 20 }, (_, i) => 100 + i * 20);
    const w = arrivalWindow(flow(swaps, 600, 0.01), swaps, { swaps: 6 });
    assert.ok(w);
    const bins = Math.max(...Object.values(w.nodes).map((c) => c.length));
    const end = w.fromMs + bins * w.binMs;
    const inside = swaps.filter((t) => t >= w.fromMs && t < end);
    assert.deepEqual(inside, [240, 260, 280, 300, 320, 340], 'the six swaps in the middle');
    assert.ok(w.fromMs <= 230 && end >= 350, `${w.fromMs}..${end}: half a period around them`);
    const counted = Object.values(w.nodes)
      .flat()
      .reduce((a, b) => a + b, 0);
    const sent = [...flow(swaps, 600, 0.01).values()]
      .flat()
      .filter((t) => t >= w.fromMs && t < end);
    assert.equal(counted, sent.length, 'every packet in the window once');
    assert.ok(w.binMs <= 5, `${w.binMs} ms bins: at most a quarter of the period`);
    assert.ok(bins <= 400);
  });

  it('widens the bins of a sparse flow so they hold a few packets', () => {
    const swaps = Array.from({ length: 20 }, (_, i) => 100 + i * 20);
    const dense = arrivalWindow(flow(swaps, 600, 0.01), swaps);
    const sparse = arrivalWindow(flow(swaps, 600, 1), swaps);
    assert.ok(dense && sparse);
    assert.ok(sparse.binMs > dense.binMs, `${sparse.binMs} > ${dense.binMs}`);
    assert.ok(sparse.binMs <= 5);
  });

  it('is undefined without swaps or arrivals', () => {
    assert.equal(arrivalWindow(new Map(), [10]), undefined);
    assert.equal(arrivalWindow(flow([], 10, 1), []), undefined);
  });
});
