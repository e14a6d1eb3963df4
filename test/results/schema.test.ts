import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import { type ExperimentResults, parseResults } from '../../src/results/schema.js';
import { emptySwapsRun, pingRun, tcpResetRun, udpRun } from '../support/results-sample.js';

/** What a runner would have written: the sample through JSON, as `results.json` holds it. */
const asJson = (r: ExperimentResults): Record<string, unknown> => JSON.parse(JSON.stringify(r));

function problemsOf(json: unknown, source?: string): string {
  try {
    parseResults(json, source);
  } catch (error) {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('parseResults accepted invalid results');
}

describe('parseResults', () => {
  const samples = { pingRun, udpRun, tcpResetRun, emptySwapsRun };
  for (const [name, build] of Object.entries(samples)) {
    it(`accepts the ${name} sample unchanged`, () => {
      const json = asJson(build());
      assert.deepEqual(parseResults(json), json);
    });
  }

  it('accepts negative gaps (overlap), null gaps and null in-flight counts', () => {
    const json = asJson(tcpResetRun());
    const swaps = json.swaps as Record<string, unknown>[];
    Object.assign(swaps[0] ?? {}, { gapMs: -0.25, inFlight: null });
    assert.equal(parseResults(json).swaps[0]?.gapMs, -0.25);
  });

  it('names every problem, on one line', () => {
    const json = asJson(udpRun());
    delete json.id;
    json.schema = 'flowmig.experiment/0';
    (json.lab as Record<string, unknown>).engine = 'pf';
    const swaps = json.swaps as Record<string, unknown>[];
    const first = swaps[0] ?? {};
    first.inFlight = -1;
    (first.controlMs as Record<string, unknown>).total = 'fast';
    (json.traffic as Record<string, unknown>).pnig = {};
    (json.series as Record<string, unknown>).intervalMs = 0;
    json.files = ['ok.txt', '../etc/passwd', '/abs'];
    const message = problemsOf(json);
    assert.doesNotMatch(message, /\n/);
    for (const expected of [
      /^results: /,
      /schema: /,
      /id: /,
      /lab\.engine: /,
      /swaps\.0\.inFlight: /,
      /swaps\.0\.controlMs\.total: /,
      /traffic: Unrecognized key: "pnig"/,
      /series\.intervalMs: /,
      /files\.1: must be a relative path inside the results directory/,
      /files\.2: must be a relative path/,
    ]) {
      assert.match(message, expected);
    }
    assert.doesNotMatch(message, /files\.0/);
  });

  it('rejects counts that are not non-negative integers', () => {
    const json = asJson(pingRun(3));
    const ping = (json.traffic as Record<string, Record<string, unknown>>).ping ?? {};
    ping.sent = 1.5;
    ping.lost = -2;
    const message = problemsOf(json);
    assert.match(message, /traffic\.ping\.sent: /);
    assert.match(message, /traffic\.ping\.lost: /);
  });

  it('says what to do with results of the older schema (swaps numbered from 0)', () => {
    const json = { ...asJson(pingRun(3)), schema: 'flowmig.experiment/1' };
    assert.match(
      problemsOf(json),
      /flowmig\.experiment\/1 is an older flowmig's.*analyse the run again/,
    );
  });

  it('rejects a swap numbered 0 (swaps are numbered from 1)', () => {
    const json = asJson(pingRun(3));
    const swaps = json.swaps as Record<string, unknown>[];
    Object.assign(swaps[0] ?? {}, { index: 0 });
    assert.match(problemsOf(json), /swaps\.0\.index: /);
  });

  it('rejects what is not an object at all', () => {
    assert.match(problemsOf(null), /^results: \(top\): /);
    assert.match(problemsOf([]), /^results: \(top\): /);
  });

  it('puts the source first when given one', () => {
    assert.match(problemsOf({}, 'results /x/results.json'), /^results \/x\/results\.json: /);
  });
});
