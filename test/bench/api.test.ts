// flowmig bench api's arithmetic and text: batches between two hellos, the targets of the cells
// measured, '-' where the daemon reports no batches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiBaseline, ApiBenchResult, ApiCell } from '../../src/bench/api.js';
import { apiLab, batchDelta, requestsFor } from '../../src/bench/api.js';
import { apiTargets, renderApiBench } from '../../src/bench/api-render.js';
import { resolveLab } from '../../src/lab/resolve.js';

const cell = (over: Partial<ApiCell>): ApiCell => ({
  flows: 1000,
  clients: 1,
  requests: 1000,
  failed: 0,
  capped: false,
  seconds: 1,
  migrations_per_s: 1000,
  p50_ms: 0.4,
  p99_ms: 1,
  max_ms: 2,
  batches: null,
  p50_vs_inprocess: 2,
  rate_vs_inprocess: 0.5,
  ...over,
});

const base = (flows: number): ApiBaseline => ({
  flows,
  requests: 1000,
  capped: false,
  migrations_per_s: 5000,
  p50_ms: 0.2,
  p99_ms: 0.5,
  apply_p50_ms: 0.1,
});

describe('bench api', () => {
  it('writes labs of N flows from A, alternating C and D, that resolve', () => {
    const lab = resolveLab(apiLab(1000), { prefix: 'x-' });
    assert.equal(lab.id, 'x-api1000');
    assert.equal(lab.flows.length, 1000);
    assert.equal(new Set(lab.flows.map((f) => f.address)).size, 1000);
    assert.deepEqual(
      lab.flows.slice(0, 3).map((f) => [f.address, f.initiator, f.responder]),
      [
        ['fe00::1', 'A', 'C'],
        ['fe00::1:0', 'A', 'D'],
        ['fe00::1:1', 'A', 'C'],
      ],
    );
  });

  it('asks fewer requests of one client by default, the number given otherwise', () => {
    assert.equal(requestsFor(1, undefined), 1000);
    assert.equal(requestsFor(10, undefined), 2000);
    assert.equal(requestsFor(100, 50), 50);
  });

  it('batches: the difference of two hellos, or null when the daemon reports none', () => {
    assert.equal(batchDelta({}, {}, 10), null);
    assert.equal(batchDelta({ batches: 1, sizes: {} }, {}, 10), null);
    assert.deepEqual(
      batchDelta(
        { batches: 10, sizes: { '1': 10 } },
        { batches: 14, sizes: { '1': 11, '2-9': 2, '10-99': 1 } },
        40,
      ),
      { batches: 4, sizes: { '1': 1, '2-9': 2, '10-99': 1 }, mean: 10 },
    );
  });

  it('targets only for the cells measured, met when within the limit', () => {
    assert.deepEqual(
      apiTargets([cell({ flows: 20, p50_ms: 0.6, p50_vs_inprocess: 2.4 })], [base(20)]).map((t) => [
        t.name,
        t.met,
      ]),
      [
        ['1 client at 20 flows: p50 ms', false],
        ['1 client at 20 flows: p50 / in-process p50', true],
      ],
    );
    const all = apiTargets(
      [
        cell({}),
        cell({ clients: 100, migrations_per_s: 12_000, p99_ms: 25 }),
        cell({ flows: 100_000, p50_ms: 0.5 }),
        cell({ flows: 100_000, clients: 100, migrations_per_s: 9_000 }),
      ],
      [base(1000), base(100_000)],
    );
    const met = Object.fromEntries(all.map((t) => [t.name, [t.value, t.met]]));
    assert.deepEqual(met['100 clients at 1,000 flows: migrations/s'], [12_000, true]);
    assert.deepEqual(met['100 clients at 1,000 flows: p99 ms'], [25, false]);
    assert.deepEqual(met['1 client: p50 at 100,000 flows / at 1,000'], [1.25, true]);
    assert.deepEqual(met['100 clients: migrations/s at 1,000 flows / at 100,000'], [
      12_000 / 9_000,
      true,
    ]);
  });

  it('text: one row per cell, "-" where there are no batches, the baseline and the ratios', () => {
    const r: ApiBenchResult = {
      entry: '/x/bin/flowmig.js',
      bundle: { atStart: 'fresh', atEnd: 'fresh' },
      startedAt: '2026-12-07T10:00:00.000Z',
      endedAt: '2026-12-07T10:05:00.000Z',
      cpus: 2,
      load: { atStart: [1, 2, 3], atEnd: [1.5, 2, 3] },
      labs: ['p-iapi1000', 'p-api1000'],
      cells: [
        cell({}),
        cell({
          clients: 10,
          requests: 1990,
          failed: 10,
          capped: true,
          batches: { batches: 200, sizes: { '2-9': 150, '10-99': 50 }, mean: 9.95 },
        }),
      ],
      baseline: [base(1000)],
      targets: [],
      notes: ['a note'],
    };
    const text = renderApiBench(r);
    assert.match(text, /load average 1\.00 2\.00 3\.00 at the start, 1\.50 2\.00 3\.00 at the end/);
    assert.match(text, /^1000 +1 +1000 +1000 +0\.400 +1\.000 +- +- +-$/m);
    assert.match(
      text,
      /^1000 +10 +1990 \(10 failed\) capped +1000 +0\.400 +1\.000 +200 +9\.9 +2-9:150 10-99:50$/m,
    );
    assert.match(text, /^1000 +1000 +5000 +0\.200 +0\.500 +0\.100$/m);
    assert.match(text, /^1000 +1 +2\.00× +0\.50×$/m);
    assert.match(text, /^note: a note$/m);
  });
});
