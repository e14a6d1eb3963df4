// The JSON-lines client against a scripted server: ids, out-of-order replies, per-call timeouts,
// every waiting call failed on close or on a reply with id null, bad and oversized replies.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ClientErrors, RpcClient, withConnection } from '../../src/rpc/client.js';
import { ATTACH_FROM, jsonFrames } from '../../src/rpc/frames.js';
import { lineReader } from '../../src/rpc/lines.js';
import { removeDir, tempDir } from '../support/tmp.js';

class TestError extends Error {
  override name = 'TestError';
}

const errors: ClientErrors = {
  connectTimeout: (path, ms) => new TestError(`connect timeout ${path} ${ms}`),
  unreachable: (path, e) => new TestError(`unreachable ${path}: ${e.message}`),
  closed: () => new TestError('closed'),
  timeout: (_path, body, ms) => new TestError(`timeout ${String(body.op)} ${ms}`),
  unaddressed: (reply) => new TestError(`unaddressed: ${String(reply.error)}`),
  failed: (e) => new TestError(`failed: ${e.message}`),
};

/** A server that hands every request (and its connection) to `script`. */
async function scripted(
  path: string,
  script: (req: { id: number; op: string }, conn: Socket) => void,
): Promise<{ server: Server; conns: Set<Socket> }> {
  const conns = new Set<Socket>();
  const server = createServer((conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => {});
    conn.on(
      'data',
      lineReader((line) => script(JSON.parse(line), conn)),
    );
  });
  server.listen(path);
  await once(server, 'listening');
  return { server, conns };
}

const reply = (conn: Socket, value: unknown) => conn.write(`${JSON.stringify(value)}\n`);

let dir = '';
let n = 0;
before(async () => {
  dir = await tempDir('rpc-client');
});
after(() => removeDir(dir));

/** Runs `fn` with a scripted server and a connected client; both closed afterwards. */
async function withServer(
  script: (req: { id: number; op: string }, conn: Socket) => void,
  fn: (c: RpcClient, conns: Set<Socket>) => Promise<void>,
  options: Partial<Parameters<typeof RpcClient.connect>[2]> = {},
): Promise<void> {
  const path = join(dir, `s${n++}.sock`);
  const { server, conns } = await scripted(path, script);
  const c = await RpcClient.connect(path, 1_000, { errors, ...options });
  try {
    await fn(c, conns);
  } finally {
    c.close();
    for (const s of conns) s.destroy();
    server.close();
  }
}

describe('RpcClient', () => {
  it('numbers requests from 1 and matches replies by id, in whatever order they come', async () => {
    const held: { id: number; op: string }[] = [];
    let conn: Socket | undefined;
    await withServer(
      (req, s) => {
        conn = s;
        held.push(req);
        if (held.length === 3) for (const r of held.reverse()) reply(s, { id: r.id, echo: r.op });
      },
      async (c) => {
        const replies = await Promise.all(['a', 'b', 'c'].map((op) => c.call({ op }, 2_000)));
        assert.deepEqual(replies, [
          { id: 1, echo: 'a' },
          { id: 2, echo: 'b' },
          { id: 3, echo: 'c' },
        ]);
        assert.ok(conn);
      },
    );
  });

  it('a call without a reply times out alone; its late reply is ignored; the connection goes on', async () => {
    let late: (() => void) | undefined;
    await withServer(
      (req, s) => {
        if (req.op === 'hang') late = () => reply(s, { id: req.id, late: true });
        else reply(s, { id: req.id, ok: true });
      },
      async (c) => {
        await assert.rejects(c.call({ op: 'hang' }, 50), /^TestError: timeout hang 50$/);
        late?.();
        assert.deepEqual(await c.call({ op: 'next' }, 2_000), { id: 2, ok: true });
        assert.equal(c.usable, true);
      },
    );
  });

  it('every waiting call fails when the server closes; later calls fail at once', async () => {
    await withServer(
      () => {},
      async (c, conns) => {
        const waiting = [c.call({ op: 'a' }, 5_000), c.call({ op: 'b' }, 5_000)];
        await new Promise((r) => setTimeout(r, 20));
        for (const s of conns) s.destroy();
        for (const w of waiting) await assert.rejects(w, /^TestError: closed$/);
        assert.equal(c.usable, false);
        await assert.rejects(c.call({ op: 'c' }, 5_000), /^TestError: closed$/);
      },
    );
  });

  it('a half-close by the server (end) fails the waiting calls too', async () => {
    await withServer(
      (_req, s) => s.end(),
      async (c) => {
        await assert.rejects(c.call({ op: 'a' }, 5_000), /^TestError: closed$/);
      },
    );
  });

  it('a reply with id null fails every waiting call with its error', async () => {
    await withServer(
      (req, s) => {
        if (req.op === 'b') reply(s, { id: null, ok: false, error: 'too large' });
      },
      async (c) => {
        const a = c.call({ op: 'a' }, 5_000);
        const b = c.call({ op: 'b' }, 5_000);
        await assert.rejects(a, /unaddressed: too large/);
        await assert.rejects(b, /unaddressed: too large/);
        await assert.rejects(c.call({ op: 'c' }, 5_000), /unaddressed: too large/);
      },
    );
  });

  it('a reply that is not JSON is skipped, unless the protocol calls it a failure', async () => {
    const script = (req: { id: number; op: string }, s: Socket) => {
      s.write('this is not JSON\n');
      reply(s, { id: req.id, ok: true });
    };
    await withServer(script, async (c) => {
      assert.deepEqual(await c.call({ op: 'a' }, 2_000), { id: 1, ok: true });
    });
    await withServer(
      script,
      async (c) => {
        await assert.rejects(c.call({ op: 'a' }, 2_000), /bad reply from s\d+\.sock/);
        assert.equal(c.usable, false);
      },
      {
        errors: {
          ...errors,
          badReply: (path) => new TestError(`bad reply from ${path.split('/').pop()}`),
        },
      },
    );
  });

  it('a reply over maxReplyBytes fails every waiting call', async () => {
    await withServer(
      (req, s) => reply(s, { id: req.id, pad: 'x'.repeat(200) }),
      async (c) => {
        await assert.rejects(c.call({ op: 'a' }, 2_000), /oversize 100/);
      },
      {
        maxReplyBytes: 100,
        errors: { ...errors, oversize: (_path, limit) => new TestError(`oversize ${limit}`) },
      },
    );
  });

  it('speaks the binary framing: long strings travel as attachments both ways', async () => {
    const path = join(dir, `f${n++}.sock`);
    const server = createServer((conn) => {
      const reader = jsonFrames.reader({
        limit: 1 << 30,
        onMessage: (v) => {
          const req = v as { id: number; text: string };
          for (const b of jsonFrames.encode({ id: req.id, back: req.text.toUpperCase() }))
            conn.write(b);
        },
        onBadJson: () => {},
        onOversize: () => {},
      });
      conn.on('data', (chunk: Buffer) => reader.push(chunk));
    });
    server.listen(path);
    await once(server, 'listening');
    try {
      const text = 'abc'.repeat(ATTACH_FROM);
      const back = await withConnection(
        () => RpcClient.connect(path, 1_000, { errors, framing: jsonFrames }),
        (c) => c.call<{ back: string }>({ text }, 5_000),
      );
      assert.equal(back.back, text.toUpperCase());
    } finally {
      server.close();
    }
  });

  it('a path nothing listens on: unreachable, in the protocol’s words', async () => {
    await assert.rejects(
      RpcClient.connect(join(dir, 'nobody.sock'), 1_000, { errors }),
      /^TestError: unreachable .*nobody\.sock: .*ENOENT/,
    );
  });
});
