import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type DaemonRequest,
  MAX_REQUEST_BYTES,
  MUTATING,
  parseRequest,
  requestSchema,
} from '../../src/daemon-api/protocol.js';

/** The request parsed from `line`, failing the test if it was refused. */
function accepted(line: string): DaemonRequest {
  const r = parseRequest(line);
  assert.ok('request' in r, `refused: ${JSON.stringify(r)}`);
  return r.request;
}

/** The refusal of `line`, failing the test if it was accepted. */
function refused(line: string): { error: string; id: number | null } {
  const r = parseRequest(line);
  assert.ok('error' in r, `accepted: ${JSON.stringify(r)}`);
  return r;
}

const line = (v: unknown) => JSON.stringify(v);

describe('parseRequest: every verb', () => {
  const valid: DaemonRequest[] = [
    { id: 1, verb: 'hello' },
    { id: 2, verb: 'status' },
    { id: 3, verb: 'flows' },
    { id: 4, verb: 'swap' },
    { id: 5, verb: 'swap', flow: 'fe00::1' },
    { id: 6, verb: 'migrate', flow: 'web', node: 'D' },
    { id: 7, verb: 'evacuate', from: 'C', to: 'D' },
    { id: 8, verb: 'reconcile' },
    { id: 9, verb: 'down' },
    { id: 10, verb: 'lend' },
    { id: 0, verb: 'hello' },
    { id: 11, verb: 'migrate', flow: 'web', node: 'D', end: 'responder' },
    { id: 12, verb: 'load', kind: 'ping' },
    { id: 13, verb: 'load', kind: 'udp', from: 'A', flow: 'fe00::1' },
    { id: 14, verb: 'unload', load: 3 },
  ];
  for (const request of valid) {
    it(`accepts ${line(request)} as it is`, () => {
      assert.deepEqual(accepted(line(request)), request);
    });
  }

  it('the schema knows exactly these thirteen verbs', () => {
    assert.deepEqual(requestSchema.options.map((o) => o.shape.verb.value).sort(), [
      'down',
      'evacuate',
      'flows',
      'hello',
      'lend',
      'load',
      'migrate',
      'reconcile',
      'serve',
      'status',
      'swap',
      'unload',
      'unserve',
    ]);
  });

  it('refuses a load of another kind, from nowhere, and an unload without its id', () => {
    assert.match(refused('{"verb":"load","kind":"tcp"}').error, /kind/);
    assert.match(refused('{"verb":"load","kind":"ping","from":""}').error, /from/);
    assert.match(refused('{"verb":"unload"}').error, /load/);
    assert.match(refused('{"verb":"unload","load":0}').error, /load/);
    assert.match(refused('{"verb":"migrate","flow":"f","node":"D","end":"both"}').error, /end/);
  });

  it('tolerates surrounding whitespace and a CR (a CRLF line end)', () => {
    assert.deepEqual(accepted('  {"id": 4, "verb": "status"}\r'), { id: 4, verb: 'status' });
  });

  it('key order does not matter', () => {
    assert.deepEqual(accepted('{"node":"D","verb":"migrate","flow":"f","id":12}'), {
      id: 12,
      verb: 'migrate',
      flow: 'f',
      node: 'D',
    });
  });
});

describe('parseRequest: missing fields', () => {
  const cases: [string, unknown, RegExp][] = [
    ['migrate without node', { id: 1, verb: 'migrate', flow: 'f' }, /^malformed request: node: /],
    ['migrate without flow', { id: 1, verb: 'migrate', node: 'D' }, /^malformed request: flow: /],
    ['evacuate without to', { id: 1, verb: 'evacuate', from: 'C' }, /^malformed request: to: /],
    ['evacuate without from', { id: 1, verb: 'evacuate', to: 'D' }, /^malformed request: from: /],
    ['a request without verb', { id: 1 }, /^malformed request: verb: /],
  ];
  for (const [what, value, error] of cases) {
    it(`${what}: refused, naming the field, id echoed`, () => {
      const r = refused(line(value));
      assert.match(r.error, error);
      assert.equal(r.id, 1);
    });
  }

  it('a request without id is accepted (its reply then carries id null)', () => {
    for (const verb of ['hello', 'swap', 'down'] as const) {
      assert.deepEqual(accepted(line({ verb })), { verb });
    }
    assert.deepEqual(accepted(line({ verb: 'migrate', flow: 'f', node: 'D' })), {
      verb: 'migrate',
      flow: 'f',
      node: 'D',
    });
  });

  it('a request without id that is refused has no id to echo', () => {
    const r = refused(line({ verb: 'migrate', flow: 'f' }));
    assert.match(r.error, /^malformed request: node: /);
    assert.equal(r.id, null);
  });
});

describe('parseRequest: extra and wrong fields', () => {
  it('an unknown key is refused for every verb (strict objects)', () => {
    const bodies: Record<string, unknown>[] = [
      { verb: 'hello' },
      { verb: 'status' },
      { verb: 'flows' },
      { verb: 'swap', flow: 'f' },
      { verb: 'migrate', flow: 'f', node: 'D' },
      { verb: 'evacuate', from: 'C', to: 'D' },
      { verb: 'reconcile' },
      { verb: 'down' },
    ];
    for (const body of bodies) {
      const r = refused(line({ id: 7, ...body, force: true }));
      assert.match(r.error, /^malformed request: .*force/, r.error);
      assert.equal(r.id, 7);
    }
  });

  it('a field of another verb is refused (no node on swap, no flow on status)', () => {
    assert.match(
      refused(line({ id: 1, verb: 'swap', flow: 'f', node: 'D' })).error,
      /Unrecognized key.*node/,
    );
    assert.match(refused(line({ id: 1, verb: 'status', flow: 'f' })).error, /flow/);
  });

  it('names must be non-empty strings of at most 200 characters', () => {
    assert.match(
      refused(line({ id: 1, verb: 'swap', flow: '' })).error,
      /^malformed request: flow: /,
    );
    assert.match(
      refused(line({ id: 1, verb: 'swap', flow: 5 })).error,
      /^malformed request: flow: .*string/,
    );
    assert.match(
      refused(line({ id: 1, verb: 'migrate', flow: 'f', node: 'D'.repeat(201) })).error,
      /^malformed request: node: /,
    );
    accepted(line({ id: 1, verb: 'migrate', flow: 'f', node: 'D'.repeat(200) }));
  });
});

describe('parseRequest: the id', () => {
  it('must be an integer: a fraction is refused, with no id to echo', () => {
    const r = refused(line({ id: 1.5, verb: 'hello' }));
    assert.match(r.error, /^malformed request: id: /);
    assert.equal(r.id, null);
  });

  it('must be a number: a numeric string is refused, with no id to echo', () => {
    const r = refused(line({ id: '1', verb: 'hello' }));
    assert.match(r.error, /^malformed request: id: /);
    assert.equal(r.id, null);
  });

  it('null, a boolean, an object: refused, no id echoed', () => {
    for (const id of [null, true, { n: 1 }, [1]]) {
      const r = refused(line({ id, verb: 'status' }));
      assert.match(r.error, /^malformed request: id: /, JSON.stringify(id));
      assert.equal(r.id, null);
    }
  });

  it('must not be negative; a readable negative id is still echoed', () => {
    const r = refused(line({ id: -1, verb: 'hello' }));
    assert.match(r.error, /^malformed request: id: /);
    assert.equal(r.id, -1);
  });

  it('is echoed whenever it is a readable integer, whatever else is wrong', () => {
    assert.equal(refused(line({ id: 41, verb: 'migrate' })).id, 41);
    assert.equal(refused(line({ id: 42, verb: 'nope' })).id, 42);
    assert.equal(refused(line({ id: 43, verb: 5 })).id, 43);
    assert.equal(refused(line({ id: 44, verb: 'hello', extra: 1 })).id, 44);
  });
});

describe('parseRequest: not a request', () => {
  it('bad JSON: refused as not JSON, no id', () => {
    for (const text of ['nope', '{"id":1,"verb":"hello"', "{id:1,verb:'hello'}", '', '{}}']) {
      assert.deepEqual(
        parseRequest(text),
        { error: 'malformed request: not JSON', id: null },
        text,
      );
    }
  });

  it('JSON that is not an object: refused as malformed, no id', () => {
    for (const text of ['null', '[]', '[{"id":1,"verb":"hello"}]', '5', '"hello"', 'true']) {
      const r = refused(text);
      assert.match(r.error, /^malformed request: request: /, text);
      assert.equal(r.id, null, text);
    }
  });

  it('an unknown verb is refused by name, with the id', () => {
    assert.deepEqual(parseRequest(line({ id: 3, verb: 'frobnicate' })), {
      error: "unknown verb 'frobnicate'",
      id: 3,
    });
  });

  it('verbs that look like object members are unknown too', () => {
    for (const verb of ['toString', '__proto__', 'constructor', 'Hello', 'SWAP']) {
      assert.equal(refused(line({ id: 1, verb })).error, `unknown verb '${verb}'`);
    }
  });

  it('an unknown verb with other faults is still reported as unknown', () => {
    assert.deepEqual(parseRequest(line({ id: 5, verb: 'launch', rockets: 3 })), {
      error: "unknown verb 'launch'",
      id: 5,
    });
  });

  it('a long unknown verb is cut to 40 characters in the error', () => {
    const verb = `${'x'.repeat(40)}TAIL`;
    const r = refused(line({ id: 1, verb }));
    assert.equal(r.error, `unknown verb '${'x'.repeat(40)}'`);
  });

  it('a verb that is not a string is malformed, not unknown', () => {
    const r = refused(line({ id: 1, verb: 7 }));
    assert.match(r.error, /^malformed request: verb: /);
  });
});

describe('protocol constants', () => {
  it('requests may be up to 64 KiB', () => {
    assert.equal(MAX_REQUEST_BYTES, 65_536);
  });

  it('the verbs that change the lab are queued; hello, status and flows are not', () => {
    assert.deepEqual([...MUTATING].sort(), [
      'down',
      'evacuate',
      'migrate',
      'reconcile',
      'serve',
      'swap',
      'unserve',
    ]);
    for (const verb of ['hello', 'status', 'flows'] as const)
      assert.equal(MUTATING.has(verb), false);
  });
});
