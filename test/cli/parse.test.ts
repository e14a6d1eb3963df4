import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import {
  ENGINE_CHOICES,
  experimentInput,
  portNumber,
  positiveInt,
  positiveInts,
  positiveNumber,
  SERVE_MODE_CHOICES,
  servePort,
  TRAFFIC_KIND_CHOICES,
} from '../../src/cli/parse.js';
import { SERVE_MODES } from '../../src/control/serve-process.js';
import { InputError } from '../../src/errors.js';
import { parseExperiment, TRAFFIC_KINDS } from '../../src/experiment/options.js';
import { ENGINE_NAMES } from '../../src/lab/schema.js';

describe('option choices', () => {
  it("are the library's: engines, serve modes, traffic kinds", () => {
    assert.deepEqual(ENGINE_CHOICES, ENGINE_NAMES);
    assert.deepEqual(SERVE_MODE_CHOICES, SERVE_MODES);
    assert.deepEqual(TRAFFIC_KIND_CHOICES, TRAFFIC_KINDS);
  });
});

describe('number parsers', () => {
  const cases: [string, (v: string) => number, string[], [string, number][]][] = [
    [
      'positiveInt',
      positiveInt,
      ['0', '-1', '1.5', 'x', ''],
      [
        ['1', 1],
        ['200', 200],
      ],
    ],
    [
      'portNumber',
      portNumber,
      ['-1', '65536', '1.5', 'x'],
      [
        ['0', 0],
        ['8080', 8080],
        ['65535', 65_535],
      ],
    ],
    [
      'positiveNumber',
      positiveNumber,
      ['0', '-0.5', 'x', 'Infinity'],
      [
        ['0.00001', 0.00001],
        ['20', 20],
      ],
    ],
  ];
  for (const [name, parse, bad, good] of cases) {
    it(`${name}: accepts ${good.map((g) => g[0]).join(', ')}`, () => {
      for (const [text, value] of good) assert.equal(parse(text), value);
    });
    it(`${name}: refuses ${bad.map((b) => `'${b}'`).join(', ')} (a usage error)`, () => {
      for (const text of bad) assert.throws(() => parse(text), InvalidArgumentError, text);
    });
  }

  it('positiveInts: a comma-separated list, spaces allowed', () => {
    assert.deepEqual(positiveInts('1, 1000,100000'), [1, 1000, 100_000]);
    assert.throws(() => positiveInts('1,0'), InvalidArgumentError);
  });

  it('servePort: 1-65535, else bad input (exit code 2) naming the port', () => {
    assert.equal(servePort('5555'), 5555);
    for (const bad of ['0', '65536', 'x', '1.5']) {
      assert.throws(
        () => servePort(bad),
        (e: unknown) => e instanceof InputError && e.message === `serve: bad port '${bad}'`,
      );
    }
  });
});

describe('experimentInput', () => {
  const base = parseExperiment({});

  it('no flags: the base options unchanged', () => {
    assert.deepEqual(parseExperiment(experimentInput(base, {})), base);
  });

  it('each flag lands on its field; the rest of the base stays', () => {
    const from = parseExperiment({ udp: { rate: 100, size: 200 }, tailMs: 900 });
    const o = parseExperiment(
      experimentInput(from, {
        traffic: 'ping, udp',
        interval: '0.01',
        size: '100',
        rate: '500',
        swaps: '7',
        swapEvery: '50',
        flow: 'fe00::1',
        warmup: '250',
        duration: '2000',
        capture: 'none',
      }),
    );
    assert.deepEqual(o.traffic, ['ping', 'udp']);
    assert.deepEqual(o.ping, { interval: 0.01, size: 100 });
    assert.deepEqual(o.udp, { ...from.udp, rate: 500, size: 200 });
    assert.equal(o.swaps.count, 7);
    assert.equal(o.swaps.periodMs, 50);
    assert.equal(o.swaps.flow, 'fe00::1');
    assert.equal(o.warmupMs, 250);
    assert.equal(o.durationMs, 2000);
    assert.equal(o.capture, 'none');
    assert.equal(o.tailMs, 900);
  });

  it('--swap-at becomes the list of times', () => {
    const o = parseExperiment(experimentInput(base, { swapAt: '0,100,250' }));
    assert.deepEqual(o.swaps.atMs, [0, 100, 250]);
  });

  it('a bad number reaches the schema, which names it with the others', () => {
    assert.throws(
      () => parseExperiment(experimentInput(base, { swaps: 'many', rate: '-1' })),
      (e: unknown) =>
        e instanceof InputError && /swaps\.count/.test(e.message) && /udp\.rate/.test(e.message),
    );
  });
});
