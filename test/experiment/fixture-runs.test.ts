// analyzeRun on real run directories (test/fixtures/runs, see its README): a short ping run and a
// short UDP run, analysed from their raw files into results that pass the schema.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyzeRun } from '../../src/experiment/analyze.js';
import { type ExperimentResults, parseResults } from '../../src/results/schema.js';

/** Tests run from dist/test/experiment; the fixtures stay in the source tree. */
const RUNS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'runs',
);

/** To 0.01 ms: the gaps as the captures' nanosecond stamps give them, without float noise. */
const round = (x: number | null | undefined) => (x == null ? x : Math.round(x * 100) / 100);
const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

async function analysed(name: string): Promise<ExperimentResults> {
  const results = await analyzeRun(join(RUNS, name));
  // What the pipeline writes must be what `flowmig report` accepts.
  return parseResults(JSON.parse(JSON.stringify(results)), `${name} results`);
}

describe('analyzeRun on a real ping run (5 swaps, ping -i 0.01)', () => {
  it('counts every echo request and where each went, with no loss and no error', async () => {
    const r = await analysed('ping');
    assert.equal(r.id, '20261207T095337Z-fmx1-default');
    assert.equal(r.lab.controlPath, 'agent');
    const ping = r.traffic.ping;
    assert.ok(ping);
    assert.deepEqual(
      {
        sent: ping.sent,
        received: ping.received,
        lost: ping.lost,
        errors: ping.errors,
        duplicates: ping.duplicates,
      },
      { sent: 65, received: 65, lost: 0, errors: 0, duplicates: 0 },
    );
    assert.deepEqual(ping.errorLines, []);
    assert.deepEqual(ping.perServer, { C: 35, D: 30 }, 'echo requests counted in each server');
    assert.equal(ping.rtt.length, 65);
    assert.deepEqual(
      [ping.rttMs?.min, ping.rttMs?.p50, ping.rttMs?.max],
      [0.014, 0.036, 0.122],
      'from ping’s own lines',
    );
    assert.equal(r.traffic.udp, undefined);
    assert.deepEqual(r.verdict, { ok: true, lines: ['no errors, no loss, every server reached'] });
  });

  it('numbers the swaps from 1, alternating servers, and measures a gap only where packets straddle one', async () => {
    const r = await analysed('ping');
    assert.deepEqual(
      r.swaps.map((s) => [s.index, s.from, s.to]),
      [
        [1, 'C', 'D'],
        [2, 'D', 'C'],
        [3, 'C', 'D'],
        [4, 'D', 'C'],
        [5, 'C', 'D'],
      ],
    );
    assert.deepEqual(
      r.swaps.map((s) => round(s.gapMs)),
      [null, null, 15.96, 16, 16],
    );
    assert.deepEqual(
      r.swaps.map((s) => s.inFlight),
      [null, null, 0, 0, 0],
    );
    assert.equal(r.config.gapsMeasured, 3);
    for (const s of r.swaps) {
      assert.ok(s.controlMs.total >= s.controlMs.rule + s.controlMs.conntrack, `swap ${s.index}`);
      assert.equal(s.udp, undefined);
    }
  });

  it('keeps the packet series per node and a window of arrivals from the captures', async () => {
    const r = await analysed('ping');
    assert.equal(r.series.intervalMs, 10);
    assert.deepEqual(
      Object.fromEntries(Object.entries(r.series.nodes).map(([n, c]) => [n, total(c)])),
      { C: 35, D: 32, B: 132 },
    );
    assert.ok(r.arrivals);
    assert.deepEqual(r.arrivals.nodes.C && total(r.arrivals.nodes.C), 4);
    assert.deepEqual(r.files, [
      'run.json',
      'capture-C.pcap',
      'capture-D.pcap',
      'ping.txt',
      'ping.stderr.txt',
    ]);
  });
});

describe('analyzeRun on a real UDP run (5 swaps, 500 datagrams/s)', () => {
  it('counts every datagram, its echo, and what each server’s echo server received', async () => {
    const r = await analysed('udp');
    assert.equal(r.id, '20261207T095345Z-fmx1-default');
    assert.deepEqual(r.traffic.udp, {
      sent: 510,
      received: 510,
      lost: 0,
      duplicated: 0,
      reordered: 3,
      ratePerS: 499,
      perServer: { C: 245, D: 265 },
    });
    assert.equal(r.traffic.ping, undefined);
    assert.deepEqual(r.verdict, { ok: true, lines: ['no errors, no loss, every server reached'] });
  });

  it('gives every swap its gap, its packets in flight and its UDP figures', async () => {
    const r = await analysed('udp');
    assert.deepEqual(
      r.swaps.map((s) => [s.index, s.from, s.to]),
      [
        [1, 'C', 'D'],
        [2, 'D', 'C'],
        [3, 'C', 'D'],
        [4, 'D', 'C'],
        [5, 'C', 'D'],
      ],
    );
    assert.deepEqual(
      r.swaps.map((s) => round(s.gapMs)),
      [3.57, 2.3, 2.75, 3.13, 1.86],
    );
    assert.deepEqual(
      r.swaps.map((s) => s.inFlight),
      [7, 1, 0, 0, 1],
    );
    assert.deepEqual(
      r.swaps.map((s) => s.udp),
      [
        { lost: 0, duplicated: 0, reordered: 2 },
        { lost: 0, duplicated: 0, reordered: 1 },
        { lost: 0, duplicated: 0, reordered: 0 },
        { lost: 0, duplicated: 0, reordered: 0 },
        { lost: 0, duplicated: 0, reordered: 0 },
      ],
    );
    assert.equal(r.config.gapsMeasured, 5);
  });

  it('keeps only the options of the traffic that ran', async () => {
    const r = await analysed('udp');
    assert.deepEqual(r.config.traffic, ['udp']);
    assert.ok('udp' in r.config);
    for (const k of ['ping', 'ncatUdp', 'tcp']) assert.equal(k in r.config, false, k);
  });
});
