// The daemon's optional HTTP API on 127.0.0.1: a bearer token is required (compared in constant
// time, kept in a 0600 file that goes with the listener), one request per POST, the same answers
// as on the Unix socket, and HTTP statuses by the reply's code.
import assert from 'node:assert/strict';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Flowmig, Move, MoveOutcome } from '../../src/control/flowmig.js';
import { httpStatusOf, tokenMatches } from '../../src/daemon/http.js';
import { DaemonServer } from '../../src/daemon/server.js';
import type { DaemonReply, HelloReply } from '../../src/daemon-api/protocol.js';
import { CommandError, FlowmigError } from '../../src/errors.js';
import { removeDir, tempDir } from '../support/tmp.js';

const calls: string[] = [];
const swap = (lab: string, flow?: string) => {
  calls.push(`swap ${lab} ${flow ?? ''}`);
  if (flow === 'nope') throw new FlowmigError('unknown flow nope');
  if (flow === 'broken')
    throw new CommandError({ argv: ['nft', '-f', '-'], exitCode: 1, stderr: 'boom' });
  return { flow: flow ?? 'fe00::1', to: 'D' };
};
const stub = {
  status: async (lab: string) => ({ lab, phase: 'up' }),
  // The daemon applies swaps in batches: each move its own outcome.
  changeMany: async (lab: string, moves: readonly Move[]): Promise<MoveOutcome[]> =>
    moves.map((m) => {
      try {
        return { ok: true, result: swap(lab, m.flow) as never };
      } catch (error) {
        return { ok: false, error: error as Error };
      }
    }),
  // What the dashboard's view reads when the listener starts: a lab without nodes or flows.
  lab: async (id: string) => ({
    id,
    engine: 'nftables',
    nodes: [],
    links: [],
    policies: new Map(),
    translator: { name: 'B', role: 'translator', netns: 'none' },
  }),
  flows: async () => [],
  onChange: () => () => {},
  store: { dir: '/nonexistent-flowmig-test', read: async () => undefined },
} as unknown as Flowmig;

let dir: string;
let daemon: DaemonServer;
let url: string;
let token: string;
let tokenFile: string;

before(async () => {
  dir = await tempDir('http');
  tokenFile = join(dir, 'lab1.token');
  daemon = await DaemonServer.start(stub, 'lab1', join(dir, 'lab1.sock'));
  ({ url, token } = await daemon.startHttp(0, { tokenFile }));
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

  it('keeps the token in a file only its owner may read', async () => {
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
    assert.equal(await readFile(tokenFile, 'utf8'), `${token}\n`);
  });

  it('says in hello where it listens and where the token is (never the token)', async () => {
    const { reply } = await post('{"verb":"hello"}');
    assert.ok(reply.ok);
    const hello = reply.result as HelloReply;
    assert.deepEqual(hello.http, { url, tokenFile });
    assert.doesNotMatch(JSON.stringify(reply), new RegExp(token));
  });

  it('answers a request without an id, with id null', async () => {
    assert.deepEqual(await post('{"verb":"status"}'), {
      status: 200,
      reply: { id: null, ok: true, result: { lab: 'lab1', phase: 'up' } },
    });
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
    for (const auth of [
      null,
      '',
      'Bearer',
      'Bearer ',
      'Bearer 00',
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token}0`,
      `Bearer ${token.toUpperCase()}`,
      `Bearer  ${token}`,
      `bearer ${token}`,
      `Basic ${token}`,
      token,
    ]) {
      const r = await post('{"id":3,"verb":"swap"}', auth);
      assert.equal(r.status, 401);
      assert.equal(r.reply.ok, false);
    }
    assert.equal(calls.length, before);
  });

  it('bad JSON, unknown verbs and refused changes get 400; failures 500; other methods 405, other paths 404', async () => {
    const bad = await post('not json');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.reply), /not JSON/);
    const unknown = await post('{"id":4,"verb":"explode"}');
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.reply), /unknown verb 'explode'/);
    assert.deepEqual(await post('{"id":5,"verb":"swap","flow":"nope"}'), {
      status: 400,
      reply: { id: 5, ok: false, error: 'unknown flow nope', code: 'refused' },
    });
    const failed = await post('{"id":6,"verb":"swap","flow":"broken"}');
    assert.equal(failed.status, 500);
    assert.equal(failed.reply.ok ? '' : failed.reply.code, 'failed');
    const get = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(get.status, 405);
    await get.body?.cancel();
    const elsewhere = await fetch(url.replace(/\/api$/, '/nowhere'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(elsewhere.status, 404);
    await elsewhere.body?.cancel();
  });

  it("refuses 'lend': the lab's lock is lent for as long as a socket connection stays open", async () => {
    const lend = await post('{"id":7,"verb":"lend"}');
    assert.equal(lend.status, 400);
    assert.deepEqual(lend.reply.ok ? '' : [lend.reply.code, lend.reply.error], [
      'refused',
      "'lend' is served on the daemon's Unix socket only (the loan ends with the connection)",
    ]);
  });
});

describe('tokenMatches', () => {
  const token = '0123456789abcdef0123456789abcdef';
  it('accepts exactly "Bearer <token>"', () => {
    assert.equal(tokenMatches(`Bearer ${token}`, token), true);
  });
  it('refuses anything else, of any length, without throwing', () => {
    for (const header of [
      undefined,
      '',
      'Bearer ',
      `Bearer ${token.slice(1)}`,
      `Bearer ${token}f`,
      `Bearer ${'0'.repeat(32)}`,
      `Bearer ${'é'.repeat(16)}`,
      `Basic ${token}`,
      token,
    ])
      assert.equal(tokenMatches(header, token), false, String(header));
  });
});

describe('httpStatusOf', () => {
  it('maps each reply code to its HTTP status', () => {
    const error = (code: string) => ({ id: null, ok: false as const, error: 'x', code });
    assert.equal(httpStatusOf({ id: 1, ok: true, result: null }), 200);
    assert.equal(httpStatusOf(error('bad-request')), 400);
    assert.equal(httpStatusOf(error('refused')), 400);
    assert.equal(httpStatusOf(error('unauthorized')), 401);
    assert.equal(httpStatusOf(error('too-large')), 413);
    assert.equal(httpStatusOf(error('failed')), 500);
  });
});

describe('the token file', () => {
  it('is removed when the daemon closes, with its listener', async () => {
    const d = await tempDir('http-close');
    try {
      const file = join(d, 'x.token');
      const server = await DaemonServer.start(stub, 'x', join(d, 'x.sock'));
      await server.startHttp(0, { tokenFile: file });
      await access(file);
      await server.close();
      await assert.rejects(access(file), { code: 'ENOENT' });
    } finally {
      await removeDir(d);
    }
  });
});
