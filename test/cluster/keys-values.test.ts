// The cluster's key layout and stored values: canonical keys, zod-checked values, and a bad
// value turned into a problem naming its key instead of an exception.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkFlows } from '../../src/cluster/flows.js';
import {
  appliedKey,
  DEFAULT_ROOT,
  flowKey,
  layout,
  nameUnder,
  translatorKey,
} from '../../src/cluster/keys.js';
import {
  flowText,
  parseApplied,
  parseFlow,
  parseTranslator,
  translatorText,
} from '../../src/cluster/values.js';
import { InputError } from '../../src/errors.js';

const k = layout();

describe('key layout', () => {
  it('puts flows, translators and applied revisions under /flowmig/v1/', () => {
    assert.equal(DEFAULT_ROOT, '/flowmig/v1/');
    assert.equal(flowKey(k, 'FE00:0:0::1'), '/flowmig/v1/flows/fe00::1');
    assert.equal(translatorKey(k, 'h1'), '/flowmig/v1/translators/h1');
    assert.equal(appliedKey(k, 'host-2.lab'), '/flowmig/v1/applied/host-2.lab');
    assert.equal(nameUnder(k.flows, '/flowmig/v1/flows/fe00::1'), 'fe00::1');
    assert.equal(nameUnder(k.flows, '/flowmig/v1/applied/h1'), undefined);
    assert.equal(layout('/t1/').flows, '/t1/flows/');
  });

  it('refuses what cannot be a key', () => {
    assert.throws(() => flowKey(k, 'fe00::1/64'), InputError);
    assert.throws(() => translatorKey(k, 'h/1'), /"h\/1" is not a host name/);
    assert.throws(() => appliedKey(k, ''), InputError);
    assert.throws(() => layout('flowmig'), /must start and end with \//);
  });
});

describe('flow values', () => {
  const value = {
    initiator: 'fc00::1',
    responder: 'fc01::1',
    tcp: 'reset',
    generation: 3,
  } as const;

  it('round-trip through their stored text', () => {
    const text = flowText(value);
    assert.equal(
      text,
      '{"initiator":"fc00::1","responder":"fc01::1","tcp":"reset","generation":3}',
    );
    assert.deepEqual(parseFlow('/k', text), { ok: true, value });
  });

  it('ignore fields a newer writer added', () => {
    assert.deepEqual(parseFlow('/k', JSON.stringify({ ...value, weight: 2 })), { ok: true, value });
  });

  it('report a malformed value per key, every field at once', () => {
    assert.deepEqual(parseFlow('/flowmig/v1/flows/fe00::1', '{"initiator":"fc00::01","tcp":"x"}'), {
      ok: false,
      problem: {
        key: '/flowmig/v1/flows/fe00::1',
        problem:
          'initiator: is not an IPv6 address in canonical form; responder: Invalid input: expected string, received undefined; tcp: Invalid option: expected one of "reset"|"drain"|"migrate"; generation: Invalid input: expected number, received undefined',
      },
    });
    const notJson = parseFlow('/k', 'fc01::1');
    assert.deepEqual(notJson, {
      ok: false,
      problem: { key: '/k', problem: 'not JSON: "fc01::1"' },
    });
  });
});

describe('translator and applied values', () => {
  it('read a registration and a revision, and report bad ones', () => {
    const t = { host: 'h1', pid: 42, startedAt: '2026-12-07T12:00:00.000Z' };
    assert.deepEqual(parseTranslator('/t', translatorText(t)), { ok: true, value: t });
    assert.equal(parseTranslator('/t', '{"host":"h1","pid":0,"startedAt":"now"}').ok, false);
    assert.deepEqual(parseApplied('/a', '1234'), { ok: true, value: 1234 });
    assert.deepEqual(parseApplied('/a', '-1'), {
      ok: false,
      problem: { key: '/a', problem: 'not a revision: "-1"' },
    });
  });
});

describe('checkFlows', () => {
  it('canonicalises and defaults, or names every bad flow', () => {
    assert.deepEqual(
      checkFlows([{ address: 'FE00::1', initiator: 'fc00::1', responder: 'fc01::1' }]),
      [
        {
          address: 'fe00::1',
          value: { initiator: 'fc00::1', responder: 'fc01::1', tcp: 'reset', generation: 0 },
        },
      ],
    );
    assert.throws(
      () =>
        checkFlows([
          { address: 'fe00::1', initiator: 'x', responder: 'fc01::1' },
          { address: 'fe00::2', initiator: 'fc00::1', responder: 'fc01::1', generation: -1 },
          { address: 'fe00::2', initiator: 'fc00::1', responder: 'fc01::1' },
        ]),
      (e: unknown) =>
        e instanceof InputError &&
        e.problems.join('; ') ===
          'flow 1: initiator "x" is not an IPv6 address; flow 2: generation -1 is not a whole number >= 0; flow fe00::2 given twice',
    );
  });
});
