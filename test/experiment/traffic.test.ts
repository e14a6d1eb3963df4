// The traffic registry: one module per kind, in the options' order, each finding its own files in
// a run directory and nothing in another kind's.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseExperiment, TRAFFIC_KINDS } from '../../src/experiment/options.js';
import { readRecord } from '../../src/experiment/record.js';
import { ALL_TRAFFIC, type RunData, trafficOf } from '../../src/experiment/traffic/index.js';

const RUNS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'runs',
);

async function runData(name: string): Promise<RunData> {
  const dir = join(RUNS, name);
  const run = await readRecord(dir);
  return {
    dir,
    run,
    rel: (t) => Math.max(0, t - run.startMs),
    marks: run.swaps,
    swaps: run.swaps,
    counted: () => ({}),
  };
}

describe('traffic kinds', () => {
  it('has one module per kind, in the order the options list the kinds', () => {
    assert.deepEqual(
      ALL_TRAFFIC.map((k) => k.kind),
      [...TRAFFIC_KINDS],
    );
    const o = parseExperiment({});
    for (const k of ALL_TRAFFIC) assert.ok(k.optionsKey in o, `${k.kind}: options.${k.optionsKey}`);
  });

  it('picks the kinds a run asks for, in their order whatever the order asked', () => {
    const o = parseExperiment({ traffic: ['tcp', 'ncat-udp', 'ping'] });
    assert.deepEqual(
      trafficOf(o).map((k) => k.kind),
      ['ping', 'ncat-udp', 'tcp'],
    );
  });

  it('names the system programs each kind needs (flowmig’s own programs run on node)', () => {
    assert.deepEqual(Object.fromEntries(ALL_TRAFFIC.map((k) => [k.kind, k.programs])), {
      ping: ['ping'],
      udp: [],
      'ncat-udp': ['ncat'],
      tcp: [],
    });
  });

  for (const [run, kind] of [
    ['ping', 'ping'],
    ['udp', 'udp'],
  ] as const) {
    it(`in the ${run} run, only ${kind} finds its files`, async () => {
      const data = await runData(run);
      for (const k of ALL_TRAFFIC) {
        const results = await k.analyze(data);
        if (k.kind === kind) assert.ok(results, k.kind);
        else assert.equal(results, undefined, k.kind);
      }
    });
  }
});
