// The JSON-lines server side: its socket file, per-connection dispatch, oversized lines (skipped
// or closing the connection), bad JSON, replies JSON cannot carry, and half-closed clients.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ConnectionOptions, type Peer, RpcServer } from '../../src/rpc/server.js';
import { removeDir, tempDir } from '../support/tmp.js';

let dir = '';
let n = 0;
before(async () => {
  dir = await tempDir('rpc-server');
});
after(() => removeDir(dir));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Requests `{id, op, ms?}`: answered `{id, ok, op}` after `ms`; op `big` answers a BigInt. */
function echo(seen: unknown[] = []): ConnectionOptions['onRequest'] {
  return (value, peer: Peer) => {
    seen.push(value);
    const req = value as { id: number; op: string; ms?: number };
    return sleep(req.ms ?? 0).then(() =>
      peer.send(req.op === 'big' ? { id: req.id, n: 1n } : { id: req.id, ok: true, op: req.op }),
    );
  };
}

function options(
  over: Partial<ConnectionOptions> & Pick<ConnectionOptions, 'onRequest'>,
): ConnectionOptions {
  return {
    maxRequestBytes: 64,
    badJson: () => ({ id: null, ok: false, error: 'not JSON' }),
    oversize: () => ({ id: null, ok: false, error: 'too large' }),
    afterOversize: 'skip',
    ...over,
  };
}

/** A raw connection: writes text, reads reply lines; `ended` once the server ended it. */
async function raw(path: string) {
  const sock: Socket = connect(path);
  await once(sock, 'connect');
  let text = '';
  let ended = false;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    text += d;
  });
  sock.on('end', () => {
    ended = true;
  });
  sock.on('error', () => {});
  const lines = () =>
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const until = async (count: number, ms = 2_000) => {
    const deadline = Date.now() + ms;
    while (lines().length < count) {
      if (Date.now() > deadline) assert.fail(`${lines().length} of ${count} replies: ${text}`);
      await sleep(2);
    }
    return lines();
  };
  const whenEnded = async (ms = 2_000) => {
    const deadline = Date.now() + ms;
    while (!ended) {
      if (Date.now() > deadline) assert.fail('the server did not end the connection');
      await sleep(2);
    }
  };
  return { sock, lines, until, ended: () => ended, whenEnded };
}

async function withServer(
  o: ConnectionOptions,
  fn: (path: string, server: RpcServer) => Promise<void>,
): Promise<void> {
  const path = join(dir, `s${n++}.sock`);
  const server = await RpcServer.listen({ path, existing: 'replace', connection: o });
  try {
    await fn(path, server);
  } finally {
    await server.close();
  }
}

describe('RpcServer: the socket', () => {
  it('is a 0600 socket; replace removes what was there; close removes it', async () => {
    const path = join(dir, 'modes.sock');
    await writeFile(path, 'left over', { mode: 0o666 });
    const server = await RpcServer.listen({
      path,
      existing: 'replace',
      connection: options({ onRequest: echo() }),
    });
    const s = await stat(path);
    assert.ok(s.isSocket());
    assert.equal(s.mode & 0o777, 0o600);
    const c = await raw(path);
    const closed = once(c.sock, 'close');
    await server.close();
    await closed;
    await assert.rejects(stat(path), { code: 'ENOENT' });
  });

  it('refuse-live: fails while something answers, replaces a socket nobody listens on', async () => {
    const path = join(dir, 'live.sock');
    const other = createServer(() => {});
    other.listen(path);
    await once(other, 'listening');
    const o = {
      path,
      existing: 'refuse-live' as const,
      connection: options({ onRequest: echo() }),
    };
    await assert.rejects(RpcServer.listen(o), /another server answers on .*live\.sock/);
    // What a process that died left at the path: nothing answers there.
    await new Promise<void>((r) => other.close(() => r()));
    await writeFile(path, '');
    const server = await RpcServer.listen(o);
    await server.close();
  });
});

describe('RpcServer: requests and replies', () => {
  it('each request is dispatched as it arrives; replies go out as they are ready, with their ids', async () => {
    const seen: unknown[] = [];
    await withServer(options({ onRequest: echo(seen) }), async (path) => {
      const c = await raw(path);
      c.sock.write('{"id":1,"op":"slow","ms":50}\n{"id":2,"op":"fast"}\n');
      const replies = await c.until(2);
      assert.deepEqual(
        replies.map((r) => r.id),
        [2, 1],
      );
      assert.equal(seen.length, 2);
    });
  });

  it('a line that is not JSON gets the bad-JSON reply; blank lines and CRLF ends are fine', async () => {
    await withServer(options({ onRequest: echo() }), async (path) => {
      const c = await raw(path);
      c.sock.write('nope\n\n   \n{"id":3,"op":"x"}\r\n');
      assert.deepEqual(await c.until(2), [
        { id: null, ok: false, error: 'not JSON' },
        { id: 3, ok: true, op: 'x' },
      ]);
    });
  });

  it('a reply JSON cannot carry is answered with an error for its id', async () => {
    await withServer(options({ onRequest: echo() }), async (path) => {
      const c = await raw(path);
      c.sock.write('{"id":4,"op":"big"}\n');
      const [r] = await c.until(1);
      assert.equal(r?.id, 4);
      assert.equal(r?.ok, false);
      assert.match(String(r?.error), /^reply not JSON: .*BigInt/);
    });
  });

  it('afterOversize skip: the long line is answered and skipped, the next one served', async () => {
    const seen: unknown[] = [];
    await withServer(options({ onRequest: echo(seen) }), async (path) => {
      const c = await raw(path);
      c.sock.write(`{"id":5,"pad":"${'x'.repeat(100)}"}\n{"id":6,"op":"after"}\n`);
      assert.deepEqual(await c.until(2), [
        { id: null, ok: false, error: 'too large' },
        { id: 6, ok: true, op: 'after' },
      ]);
      assert.equal(seen.length, 1);
      assert.equal(c.ended(), false);
    });
  });

  it('afterOversize close: answered, the connection ended, nothing after it read', async () => {
    const seen: unknown[] = [];
    await withServer(options({ onRequest: echo(seen), afterOversize: 'close' }), async (path) => {
      const c = await raw(path);
      const bystander = await raw(path);
      c.sock.write(`{"id":7,"pad":"${'x'.repeat(100)}"}\n{"id":8,"op":"after"}\n`);
      assert.deepEqual(await c.until(1), [{ id: null, ok: false, error: 'too large' }]);
      await c.whenEnded();
      await sleep(20);
      assert.equal(c.lines().length, 1);
      assert.deepEqual(seen, []);
      bystander.sock.write('{"id":9,"op":"still"}\n');
      assert.deepEqual(await bystander.until(1), [{ id: 9, ok: true, op: 'still' }]);
    });
  });

  it('a client that half-closes after its requests gets every reply (the last line needs no newline), then the end', async () => {
    await withServer(options({ onRequest: echo() }), async (path) => {
      const c = await raw(path);
      c.sock.end('{"id":10,"op":"a","ms":40}\n{"id":11,"op":"b"}');
      await c.whenEnded();
      assert.deepEqual(
        c.lines().map((r) => r.id),
        [11, 10],
      );
    });
  });

  it('`flushed` runs once the reply is written', async () => {
    let flushed = 0;
    await withServer(
      options({
        onRequest: (value, peer) => {
          peer.send({ id: (value as { id: number }).id, ok: true }, () => flushed++);
          return undefined;
        },
      }),
      async (path) => {
        const c = await raw(path);
        c.sock.write('{"id":12}\n');
        await c.until(1);
        await sleep(10);
        assert.equal(flushed, 1);
      },
    );
  });
});
