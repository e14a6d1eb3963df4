// The daemon's optional HTTP API on 127.0.0.1: a bearer token is required, one request per POST,
// the same answers as on the Unix socket.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Flowmig } from '../../src/control/flowmig.js';
import type { DaemonReply } from '../../src/daemon/protocol.js';
import { DaemonServer } from '../../src/daemon/server.js';
import { FlowmigError } from '../../src/errors.js';
import { removeDir, tempDir } from '../support/tmp.js';

const calls: string[] = [];
const stub = {
  status: async (lab: string) => ({ lab, phase: 'up' }),
  swap: async (lab: string, flow?: string) => {
    calls.push(`swap ${lab} ${flow ?? ''}`);
    if (flow === 'nope') throw new FlowmigError('unknown flow nope');
    return { flow: flow ?? 'fe00::1', to: 'D' };
  },
} as unknown as Flowmig;

let dir: string;
let daemon: DaemonServer;
let url: string;
let token: string;

before(async () => {
  dir = await tempDir('http');
  daemon = await DaemonServer.start(stub, 'lab1', join(dir, 'lab1.sock'));
  ({ url, token } = await daemon.startHttp(0));
});
after(async () => {
  await daemon.close();
  await removeDir(dir);
});

async function post(
  body: string,
  auth: string | null = `Bearer ${token}`,
): Promise<{ status: number; reply: DaemonReply }> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: auth === null ? {} : { authorization: auth },
  });
  return { status: res.status, reply: (await res.json()) as DaemonReply };
}

describe('the daemon over HTTP', () => {
  it('listens on 127.0.0.1 with a 32-hex-digit token', () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
    assert.match(token, /^[0-9a-f]{32}$/);
  });

  it('answers a request with the token like the socket does', async () => {
    assert.deepEqual(await post('{"id":1,"verb":"status"}'), {
      status: 200,
      reply: { id: 1, ok: true, result: { lab: 'lab1', phase: 'up' } },
    });
    assert.deepEqual(await post('{"id":2,"verb":"swap","flow":"fe00::2"}'), {
      status: 200,
      reply: { id: 2, ok: true, result: { flow: 'fe00::2', to: 'D' } },
    });
    assert.deepEqual(calls.slice(-1), ['swap lab1 fe00::2']);
  });

  it('refuses without the token, or with a wrong one, and runs nothing', async () => {
    const before = calls.length;
    for (const auth of [null, 'Bearer 00', `Basic ${token}`]) {
      const r = await post('{"id":3,"verb":"swap"}', auth);
      assert.equal(r.status, 401);
      assert.equal(r.reply.ok, false);
    }
    assert.equal(calls.length, before);
  });

  it('bad JSON, unknown verbs and refused changes get error replies; other methods get 405', async () => {
    const bad = await post('not json');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.reply), /not JSON/);
    const unknown = await post('{"id":4,"verb":"explode"}');
    assert.match(JSON.stringify(unknown.reply), /unknown verb 'explode'/);
    assert.deepEqual(await post('{"id":5,"verb":"swap","flow":"nope"}'), {
      status: 400,
      reply: { id: 5, ok: false, error: 'unknown flow nope', code: 'refused' },
    });
    const get = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(get.status, 405);
    await get.body?.cancel();
  });
});
