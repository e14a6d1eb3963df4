import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migratingProblems, type ParsedRequest, parseRequest } from '../../src/serve/protocol.js';
import { SAMPLE_STATE } from './samples.js';

const error = (p: ParsedRequest): string => (p.ok ? 'ok' : p.error);

describe('parseRequest', () => {
  it('accepts every verb in its shape', () => {
    const lines = [
      { id: 1, op: 'hello' },
      { id: 2, op: 'prepare', filter: { peerAddress: 'fe00::1' }, timeoutMs: 50 },
      { id: 3, op: 'prepare', filter: { ids: ['a'] } },
      { id: 4, op: 'checkpoint', ids: ['a', 'b'] },
      {
        id: 5,
        op: 'restore',
        connections: [{ id: 'a', socket: SAMPLE_STATE, app: { held: '' }, pendingInput: '' }],
        localAddress: 'fc01::1',
      },
      { id: 6, op: 'resume', ids: [] },
      { id: 7, op: 'abort', ids: ['a'] },
      { id: 8, op: 'status' },
      { id: 9, op: 'shutdown' },
    ];
    for (const l of lines) {
      const p = parseRequest(JSON.stringify(l));
      assert.ok(p.ok, `${l.op}: ${error(p)}`);
      assert.deepEqual(p.request, l);
    }
  });

  it('answers malformed lines with the reason and, when it can, the id', () => {
    const cases: [string, number | null, RegExp][] = [
      ['{not json', null, /not JSON/],
      ['[1,2]', null, /not a JSON object/],
      ['{"op":"hello"}', null, /id/],
      ['{"id":-1,"op":"hello"}', null, /id/],
      ['{"id":1}', 1, /unknown op null/],
      ['{"id":1,"op":"launch"}', 1, /unknown op "launch"/],
      ['{"id":2,"op":"checkpoint"}', 2, /ids is not a string list/],
      ['{"id":2,"op":"resume","ids":[1]}', 2, /ids is not a string list/],
      ['{"id":3,"op":"prepare"}', 3, /filter is not an object/],
      ['{"id":3,"op":"prepare","filter":{}}', 3, /neither peerAddress nor ids/],
      ['{"id":3,"op":"prepare","filter":{"ids":["a"]},"timeoutMs":-5}', 3, /timeoutMs/],
      ['{"id":4,"op":"restore"}', 4, /connections is not a list/],
      ['{"id":4,"op":"restore","connections":[{"id":"a"}]}', 4, /socket is not an object/],
    ];
    for (const [line, id, why] of cases) {
      const p = parseRequest(line);
      assert.equal(p.ok, false, line);
      if (p.ok) continue;
      assert.equal(p.id, id, line);
      assert.match(p.error, why, line);
    }
  });

  it('checks a migrating connection field by field', () => {
    const good = { id: 'a', socket: SAMPLE_STATE, app: null, pendingInput: 'AAEC' };
    assert.deepEqual(migratingProblems(good, 'c'), []);
    const bad = {
      id: 'a',
      socket: { ...SAMPLE_STATE, sendQueue: 'not base64!', local: { address: 'x' }, mss: -1 },
      pendingInput: 3,
    };
    const problems = migratingProblems(bad, 'c');
    assert.ok(problems.includes('c.socket.local is not an {address, port}'), problems.join());
    assert.ok(problems.includes('c.socket.sendQueue is not base64'), problems.join());
    assert.ok(problems.includes('c.socket.mss is not a non-negative integer'), problems.join());
    assert.ok(problems.includes('c.app is missing'), problems.join());
    assert.ok(problems.includes('c.pendingInput is not base64'), problems.join());
  });
});
