import assert from 'node:assert/strict';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Flowmig, Move, MoveOutcome } from '../../src/control/flowmig.js';
import { DaemonServer } from '../../src/daemon/server.js';
import { DaemonClient } from '../../src/daemon-api/client.js';
import {
  type DaemonReply,
  type HelloReply,
  MAX_REQUEST_BYTES,
} from '../../src/daemon-api/protocol.js';
import { CommandError, FlowmigError, InputError } from '../../src/errors.js';
import { removeDir, tempDir } from '../support/tmp.js';

const LAB = 'lab1';

/** One call the daemon made to the controller, with when it started and ended (ms). */
interface Call {
  readonly verb: string;
  readonly args: readonly unknown[];
  readonly start: number;
  end: number;
}

/**
 * A controller stand-in: records every call; `behave` may delay or fail a call. A batch of moves
 * (changeMany) is recorded as its swaps and migrations, one after the other, each with its outcome.
 */
class StubController {
  readonly calls: Call[] = [];
  /** The moves of each batch the daemon asked for. */
  readonly batches: Move[][] = [];
  /** Calls of verbs that change the lab under way now, and the most ever at once. */
  changing = 0;
  maxChanging = 0;
  /** Called inside each call (after it is recorded); its result or error is the call's. */
  behave: (verb: string, args: readonly unknown[]) => unknown = () => undefined;

  private async record(verb: string, args: readonly unknown[]): Promise<unknown> {
    const call: Call = { verb, args, start: performance.now(), end: Number.NaN };
    this.calls.push(call);
    const change = verb !== 'status' && verb !== 'flows';
    if (change) this.maxChanging = Math.max(this.maxChanging, ++this.changing);
    try {
      const special = await this.behave(verb, args);
      return special ?? { verb, args };
    } finally {
      if (change) this.changing--;
      call.end = performance.now();
    }
  }

  status = (...args: unknown[]) => this.record('status', args);
  flows = (...args: unknown[]) => this.record('flows', args);
  swap = (...args: unknown[]) => this.record('swap', args);
  migrate = (...args: unknown[]) => this.record('migrate', args);
  evacuate = (...args: unknown[]) => this.record('evacuate', args);
  reconcile = (...args: unknown[]) => this.record('reconcile', args);
  down = (...args: unknown[]) => this.record('down', args);
  serve = (...args: unknown[]) => this.record('serve', args);
  unserve = (...args: unknown[]) => this.record('unserve', args);
  /** When set, a whole batch fails with it (the lab is not up, its lock is busy). */
  batchFailure: Error | undefined;
  changeMany = async (lab: string, moves: readonly Move[]): Promise<MoveOutcome[]> => {
    this.batches.push([...moves]);
    if (this.batchFailure) throw this.batchFailure;
    const outcomes: MoveOutcome[] = [];
    for (const m of moves) {
      try {
        const result =
          m.kind === 'swap'
            ? await this.swap(lab, m.flow)
            : await this.migrate(lab, m.flow, m.node);
        outcomes.push({ ok: true, result: result as never });
      } catch (error) {
        outcomes.push({ ok: false, error: error instanceof Error ? error : (error as never) });
      }
    }
    return outcomes;
  };

  callsOf(verb: string): Call[] {
    return this.calls.filter((c) => c.verb === verb);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `p`, or a rejection naming `what` when it takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `test` every few ms until it holds (fails after `ms`). */
async function until(test: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = performance.now() + ms;
  while (!(await test())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${ms} ms: ${what}`);
    await sleep(2);
  }
}

/** A promise with its resolve function (a gate a stubbed call can wait on). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => {};
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

/** A plain connection that speaks raw lines: sends text, collects the replies one by one. */
class Raw {
  private buffer = '';
  private readonly replies: DaemonReply[] = [];
  private readonly waiting: ((r: DaemonReply) => void)[] = [];
  /** Resolves when the daemon ends (or resets) the connection. */
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      for (let at = this.buffer.indexOf('\n'); at >= 0; at = this.buffer.indexOf('\n')) {
        const reply = JSON.parse(this.buffer.slice(0, at)) as DaemonReply;
        this.buffer = this.buffer.slice(at + 1);
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.once('end', () => {
        this.ended = true;
        resolve();
      });
      socket.once('close', () => resolve());
    });
  }

  static open(path: string): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new Raw(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next reply on this connection. */
  next(ms = 3000): Promise<DaemonReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return within(new Promise((r) => this.waiting.push(r)), ms, 'a reply on a raw connection');
  }

  /** Sends one request line and waits for the next reply. */
  ask(request: unknown): Promise<DaemonReply> {
    this.send(`${typeof request === 'string' ? request : JSON.stringify(request)}\n`);
    return this.next();
  }

  /** Replies received and not yet read. */
  get unread(): number {
    return this.replies.length;
  }

  close(): void {
    this.socket.destroy();
  }
}

let dir = '';
let sockets = 0;

before(async () => {
  dir = await tempDir('daemon');
});

after(async () => {
  await removeDir(dir);
});

interface Setup {
  readonly stub: StubController;
  readonly daemon: DaemonServer;
  readonly path: string;
  /** A client, closed after the test. */
  client(): Promise<DaemonClient>;
  /** A raw connection, closed after the test. */
  raw(): Promise<Raw>;
  downCalls: number;
}

/** Starts a daemon with a stub controller for `fn`; everything is closed afterwards. */
async function withDaemon(fn: (t: Setup) => Promise<void>, onDown?: () => void): Promise<void> {
  const stub = new StubController();
  const path = join(dir, `d${++sockets}.sock`);
  const closers: (() => void)[] = [];
  const t: { -readonly [K in keyof Setup]: Setup[K] } = {
    stub,
    path,
    downCalls: 0,
    daemon: undefined as unknown as DaemonServer,
    client: async () => {
      const c = await DaemonClient.connect(path, 2000);
      closers.push(() => c.close());
      return c;
    },
    raw: async () => {
      const r = await Raw.open(path);
      closers.push(() => r.close());
      return r;
    },
  };
  t.daemon = await DaemonServer.start(stub as unknown as Flowmig, LAB, path, {
    onDown: () => {
      t.downCalls++;
      onDown?.();
    },
  });
  try {
    await fn(t);
  } finally {
    for (const close of closers) close();
    await t.daemon.close();
  }
}

const isGone = async (path: string) =>
  stat(path).then(
    () => false,
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
  );

describe('DaemonServer: serving', () => {
  it('hello: the lab, this process, its socket, when it started, no changes, nothing queued', async () => {
    const t0 = Date.now();
    await withDaemon(async ({ client, path, stub }) => {
      const c = await client();
      const hello = await c.request<HelloReply>({ verb: 'hello' }, 2000);
      assert.equal(hello.lab, LAB);
      assert.equal(hello.pid, process.pid);
      assert.equal(hello.socket, path);
      assert.equal(hello.changes, 0);
      assert.equal(hello.queued, 0);
      const started = Date.parse(hello.startedAt);
      assert.equal(new Date(started).toISOString(), hello.startedAt);
      assert.ok(started >= t0 - 5 && started <= Date.now(), hello.startedAt);
      assert.equal(stub.calls.length, 0, 'hello needs no controller');
    });
  });

  it('every verb reaches the controller with the lab and its arguments; its result comes back', async () => {
    await withDaemon(async ({ client, stub }) => {
      const c = await client();
      const asked = [
        [{ verb: 'status' }, ['status', [LAB]]],
        [{ verb: 'flows' }, ['flows', [LAB]]],
        [{ verb: 'swap' }, ['swap', [LAB, undefined]]],
        [{ verb: 'swap', flow: 'fe00::1' }, ['swap', [LAB, 'fe00::1']]],
        [{ verb: 'migrate', flow: 'web', node: 'D' }, ['migrate', [LAB, 'web', 'D']]],
        [{ verb: 'evacuate', from: 'C', to: 'D' }, ['evacuate', [LAB, 'C', 'D']]],
        [{ verb: 'reconcile' }, ['reconcile', [LAB]]],
      ] as const;
      for (const [body, [verb, args]] of asked) {
        const result = await c.request(body, 2000);
        // The stub answers with what it was called with: the reply carries it back unchanged.
        assert.deepEqual(result, JSON.parse(JSON.stringify({ verb, args })), JSON.stringify(body));
      }
      assert.deepEqual(
        stub.calls.map((x) => [x.verb, x.args]),
        asked.map(([, call]) => call),
      );
      const hello = await c.request<HelloReply>({ verb: 'hello' }, 2000);
      assert.equal(
        hello.changes,
        5,
        'swap twice, migrate, evacuate, reconcile; reads do not count',
      );
    });
  });

  it('replies carry the request id, also when answers come back out of order', async () => {
    await withDaemon(async ({ raw, stub }) => {
      const held = gate();
      stub.behave = (verb) => (verb === 'swap' ? held.promise : undefined);
      const r = await raw();
      r.send(`${JSON.stringify({ id: 70, verb: 'swap' })}\n`);
      r.send(`${JSON.stringify({ id: 71, verb: 'status' })}\n`);
      const first = await r.next();
      assert.equal(first.id, 71, 'the read is answered while the swap waits');
      assert.equal(first.ok, true);
      held.open();
      const second = await r.next();
      assert.deepEqual(second, { id: 70, ok: true, result: { verb: 'swap', args: [LAB, null] } });
    });
  });

  it('a request without an id is answered (and refused) with id null; the connection keeps serving', async () => {
    await withDaemon(async ({ raw, stub }) => {
      const r = await raw();
      assert.deepEqual(await r.ask({ verb: 'swap', flow: 'fe00::1' }), {
        id: null,
        ok: true,
        result: { verb: 'swap', args: [LAB, 'fe00::1'] },
      });
      const bad = await r.ask({ verb: 'migrate', flow: 'fe00::1' });
      assert.equal(bad.id, null);
      assert.equal(bad.ok ? '' : bad.code, 'bad-request');
      assert.equal((await r.ask({ id: 9, verb: 'status' })).id, 9);
      assert.equal(stub.callsOf('swap').length, 1);
    });
  });

  it('a client that shuts its side down after its requests gets every reply, then the end', async () => {
    await withDaemon(async ({ path, stub }) => {
      const held = gate();
      stub.behave = (verb) => (verb === 'swap' ? held.promise : undefined);
      const socket = connect(path);
      let got = '';
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => {
        got += text;
      });
      const closed = once(socket, 'close');
      await once(socket, 'connect');
      // The last request has no newline: the end of the stream ends it.
      socket.end('{"id":1,"verb":"swap"}\n{"id":2,"verb":"status"}\n{"verb":"flows"}');
      await until(() => got.split('\n').length === 3, 3000, 'the two reads are answered');
      held.open();
      await within(closed, 3000, 'the daemon ends the connection after the last reply');
      const replies = got
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as DaemonReply);
      assert.deepEqual(
        replies.map((r) => [r.id, r.ok]),
        [
          [2, true],
          [null, true],
          [1, true],
        ],
      );
    });
  });

  it('the socket is mode 0600, replacing a stale file at its path', async () => {
    const path = join(dir, 'stale.sock');
    await writeFile(path, 'left over', { mode: 0o666 });
    const daemon = await DaemonServer.start(new StubController() as unknown as Flowmig, LAB, path);
    try {
      const s = await stat(path);
      assert.ok(s.isSocket(), 'a socket, not the stale file');
      assert.equal(s.mode & 0o777, 0o600);
      const c = await DaemonClient.connect(path, 2000);
      try {
        assert.equal((await c.request<HelloReply>({ verb: 'hello' }, 2000)).lab, LAB);
      } finally {
        c.close();
      }
    } finally {
      await daemon.close();
    }
    assert.ok(await isGone(path), 'close removes the socket file');
  });

  it('lines split across writes, blank lines and CRLF ends are read as whole requests', async () => {
    await withDaemon(async ({ raw, stub }) => {
      const r = await raw();
      r.send('\n  \n{"id":1,"ve');
      await sleep(20);
      assert.equal(r.unread, 0, 'nothing answered before the line is complete');
      r.send('rb":"status"}\r\n');
      assert.deepEqual(await r.next(), {
        id: 1,
        ok: true,
        result: { verb: 'status', args: [LAB] },
      });
      // A character split between two writes: the name arrives whole.
      const line = Buffer.from(`${JSON.stringify({ id: 2, verb: 'swap', flow: 'café→1' })}\n`);
      const cut = line.indexOf(Buffer.from('é')) + 1;
      r.send(line.subarray(0, cut));
      await sleep(20);
      r.send(line.subarray(cut));
      const reply = await r.next();
      assert.equal(reply.id, 2);
      assert.equal(reply.ok, true);
      assert.deepEqual(stub.callsOf('swap')[0]?.args, [LAB, 'café→1']);
      assert.equal(r.unread, 0, 'blank lines got no reply');
    });
  });
});

describe('DaemonServer: bad requests', () => {
  it('malformed JSON, unknown verb, schema errors: bad-request, and the connection keeps serving', async () => {
    await withDaemon(async ({ raw, client, stub }) => {
      const r = await raw();
      assert.deepEqual(await r.ask('{"id":1,"verb":"status"'), {
        id: null,
        ok: false,
        error: 'malformed request: not JSON',
        code: 'bad-request',
      });
      assert.deepEqual(await r.ask({ id: 2, verb: 'frobnicate' }), {
        id: 2,
        ok: false,
        error: "unknown verb 'frobnicate'",
        code: 'bad-request',
      });
      const missing = await r.ask({ id: 3, verb: 'migrate', flow: 'web' });
      assert.equal(missing.id, 3);
      assert.equal(missing.ok, false);
      assert.ok(!missing.ok && missing.code === 'bad-request', JSON.stringify(missing));
      assert.match(missing.error, /^malformed request: node: /);
      const extra = await r.ask({ id: 4, verb: 'swap', flow: 'web', force: true });
      assert.ok(!extra.ok && extra.code === 'bad-request' && extra.id === 4);
      assert.match(extra.error, /force/);
      const badId = await r.ask({ id: 'five', verb: 'down' });
      assert.ok(!badId.ok && badId.code === 'bad-request' && badId.id === null);
      assert.deepEqual(
        stub.calls.map((x) => x.verb),
        [],
        'nothing refused reached the controller',
      );

      // The same connection still serves.
      assert.deepEqual(await r.ask({ id: 6, verb: 'status' }), {
        id: 6,
        ok: true,
        result: { verb: 'status', args: [LAB] },
      });
      // And a new one.
      const c = await client();
      assert.deepEqual(await c.request({ verb: 'flows' }, 2000), { verb: 'flows', args: [LAB] });
      assert.deepEqual(
        stub.calls.map((x) => x.verb),
        ['status', 'flows'],
      );
    });
  });

  it('good and bad requests in one burst: each gets exactly one answer, by id', async () => {
    await withDaemon(async ({ raw, stub }) => {
      const r = await raw();
      r.send(
        [
          JSON.stringify({ id: 1, verb: 'status' }),
          'garbage',
          JSON.stringify({ id: 3, verb: 'nope' }),
          JSON.stringify({ id: 4, verb: 'flows' }),
          '',
        ].join('\n'),
      );
      const replies = [await r.next(), await r.next(), await r.next(), await r.next()];
      // Refusals are written at once, answers when the controller returns: match them by id.
      assert.deepEqual(
        replies
          .map((x) => [x.id, x.ok, x.ok ? undefined : x.code])
          .sort((a, b) => Number(a[0] ?? 0) - Number(b[0] ?? 0)),
        [
          [null, false, 'bad-request'],
          [1, true, undefined],
          [3, false, 'bad-request'],
          [4, true, undefined],
        ],
      );
      await sleep(20);
      assert.equal(r.unread, 0, 'no second answer to anything');
      assert.deepEqual(
        stub.calls.map((x) => x.verb),
        ['status', 'flows'],
      );
    });
  });

  // 65,537 bytes arrives whole with its newline after one full read; 200,000 bytes overflows the
  // buffer before its newline comes. Either way: refused, connection closed, nothing after it run.
  for (const size of [MAX_REQUEST_BYTES + 1, 200_000]) {
    it(`a ${size}-byte line gets too-large, its connection is closed, others keep working`, async () => {
      await withDaemon(async ({ raw, client, stub }) => {
        const other = await client();
        const bystander = await raw();
        const r = await raw();
        const head = JSON.stringify({ id: 1, verb: 'status' }).slice(0, -1);
        const big = `${head}${' '.repeat(size - head.length - 1)}}`;
        assert.equal(Buffer.byteLength(big), size);
        r.send(`${big}\n${JSON.stringify({ id: 2, verb: 'swap', flow: 'after-too-large' })}\n`);
        const reply = await r.next();
        assert.equal(reply.id, null);
        assert.ok(!reply.ok && reply.code === 'too-large', JSON.stringify(reply));
        assert.match(reply.error, /too large/);
        await within(r.closed, 2000, 'the daemon closing the connection of the large line');
        await sleep(20);
        assert.equal(r.unread, 0, 'no reply after too-large');
        assert.deepEqual(
          stub.calls.map((x) => x.args),
          [],
          'neither the large line nor the one after it ran',
        );

        assert.deepEqual(await bystander.ask({ id: 9, verb: 'status' }), {
          id: 9,
          ok: true,
          result: { verb: 'status', args: [LAB] },
        });
        assert.equal((await other.request<HelloReply>({ verb: 'hello' }, 2000)).lab, LAB);
        const fresh = await client();
        assert.deepEqual(await fresh.request({ verb: 'swap', flow: 'next' }, 2000), {
          verb: 'swap',
          args: [LAB, 'next'],
        });
      });
    });
  }

  it('a line of exactly 64 KiB is accepted', async () => {
    await withDaemon(async ({ raw }) => {
      const r = await raw();
      const head = JSON.stringify({ id: 5, verb: 'status' }).slice(0, -1);
      const line = `${head}${' '.repeat(MAX_REQUEST_BYTES - head.length - 1)}}`;
      assert.equal(Buffer.byteLength(line), MAX_REQUEST_BYTES);
      assert.deepEqual(await r.ask(line), {
        id: 5,
        ok: true,
        result: { verb: 'status', args: [LAB] },
      });
      assert.equal(r.ended, false);
    });
  });

  it('a client sending a too-large request gets a FlowmigError saying so', async () => {
    await withDaemon(async ({ client, stub }) => {
      const c = await client();
      await assert.rejects(
        c.request({ verb: 'swap', flow: 'x'.repeat(MAX_REQUEST_BYTES) }, 3000),
        (e) => {
          assert.ok(e instanceof FlowmigError);
          assert.match(e.message, /too large/);
          return true;
        },
      );
      assert.equal(stub.calls.length, 0);
    });
  });
});

describe('DaemonServer: one change at a time', () => {
  it('50 concurrent swaps from 5 clients run one at a time, each client’s in order; a status is not held up', async () => {
    await withDaemon(async ({ client, stub }) => {
      stub.behave = async (verb) => {
        if (verb === 'swap') await sleep(3);
      };
      const clients = await Promise.all(Array.from({ length: 5 }, () => client()));
      const reader = await client();
      let swapsAnswered = 0;
      const swaps = clients.flatMap((c, k) =>
        Array.from({ length: 10 }, (_, i) =>
          c.request({ verb: 'swap', flow: `c${k}-${i}` }, 10_000).then((result) => {
            swapsAnswered++;
            return result;
          }),
        ),
      );
      await sleep(10);
      const status = await reader.request({ verb: 'status' }, 10_000);
      assert.deepEqual(status, { verb: 'status', args: [LAB] });
      assert.ok(swapsAnswered < 40, `the status waited for ${swapsAnswered} swaps`);
      const results = await within(Promise.all(swaps), 10_000, '50 swaps');

      // Every request got its own answer.
      assert.deepEqual(
        results,
        clients.flatMap((_, k) =>
          Array.from({ length: 10 }, (_, i) => ({ verb: 'swap', args: [LAB, `c${k}-${i}`] })),
        ),
      );
      const calls = stub.callsOf('swap');
      assert.equal(calls.length, 50);
      assert.equal(stub.maxChanging, 1);
      // No two swaps overlap: each starts after the one before it ended.
      for (let n = 1; n < calls.length; n++) {
        const [prev, cur] = [calls[n - 1], calls[n]];
        assert.ok(
          prev && cur && cur.start >= prev.end,
          `swap ${n} started before swap ${n - 1} ended`,
        );
      }
      // Each connection's requests ran in the order it sent them.
      for (let k = 0; k < 5; k++) {
        const mine = calls.map((x) => x.args[1] as string).filter((f) => f.startsWith(`c${k}-`));
        assert.deepEqual(
          mine,
          Array.from({ length: 10 }, (_, i) => `c${k}-${i}`),
        );
      }
      // The status ran while the swaps were under way.
      const read = stub.callsOf('status')[0];
      assert.ok(read && read.start < (calls.at(-1)?.start ?? 0), 'status ran before the last swap');
      const hello = await reader.request<HelloReply>({ verb: 'hello' }, 2000);
      assert.equal(hello.changes, 50);
      assert.equal(hello.queued, 0);
    });
  });

  it('no two changes of any kind overlap', async () => {
    await withDaemon(async ({ client, stub }) => {
      stub.behave = async (verb) => {
        if (verb !== 'status' && verb !== 'flows') await sleep(2);
      };
      const cs = await Promise.all([client(), client(), client()]);
      const bodies = [
        { verb: 'swap' },
        { verb: 'migrate', flow: 'a', node: 'D' },
        { verb: 'evacuate', from: 'C', to: 'D' },
        { verb: 'reconcile' },
      ] as const;
      await within(
        Promise.all(
          Array.from({ length: 24 }, (_, n) =>
            cs[n % 3]?.request(bodies[n % bodies.length] ?? { verb: 'swap' }, 10_000),
          ),
        ),
        10_000,
        '24 changes',
      );
      const changes = [...stub.calls].sort((a, b) => a.start - b.start);
      assert.equal(changes.length, 24);
      assert.equal(stub.maxChanging, 1);
      for (let n = 1; n < changes.length; n++) {
        const [prev, cur] = [changes[n - 1], changes[n]];
        assert.ok(prev && cur && cur.start >= prev.end, `${cur?.verb} overlapped ${prev?.verb}`);
      }
    });
  });

  it('changes from several connections run in the order they arrived; reads answer meanwhile', async () => {
    await withDaemon(async ({ client, stub }) => {
      const held = gate();
      stub.behave = (verb, args) =>
        verb === 'swap' && args[1] === 'first' ? held.promise : undefined;
      const cs = await Promise.all(Array.from({ length: 4 }, () => client()));
      const watcher = await client();
      const queued = async () =>
        (await watcher.request<HelloReply>({ verb: 'hello' }, 2000)).queued;

      const pending = [cs[0]?.request({ verb: 'swap', flow: 'first' }, 10_000)];
      await until(async () => (await queued()) === 1, 2000, 'the first swap queued');
      // Each next request is sent once the one before it is in the queue: a known arrival order.
      const order = [2, 0, 3, 1, 1, 2, 0, 3, 2, 2];
      const sent: string[] = ['first'];
      for (const [n, k] of order.entries()) {
        const flow = `n${n}-c${k}`;
        const body =
          n % 3 === 1
            ? ({ verb: 'migrate', flow, node: 'D' } as const)
            : ({ verb: 'swap', flow } as const);
        pending.push(cs[k]?.request(body, 10_000));
        sent.push(flow);
        await until(async () => (await queued()) === n + 2, 2000, `request ${flow} queued`);
      }
      assert.deepEqual(
        stub.calls.map((x) => x.args[1]),
        ['first'],
        'nothing else ran while the first swap held',
      );
      // Reads are answered at once while the changes wait.
      assert.deepEqual(await watcher.request({ verb: 'status' }, 2000), {
        verb: 'status',
        args: [LAB],
      });
      assert.deepEqual(await cs[3]?.request({ verb: 'flows' }, 2000), {
        verb: 'flows',
        args: [LAB],
      });
      held.open();
      await within(Promise.all(pending), 5000, 'the queued changes');
      assert.deepEqual(
        stub.calls.filter((x) => x.verb === 'swap' || x.verb === 'migrate').map((x) => x.args[1]),
        sent,
      );
      assert.equal(await queued(), 0);
    });
  });
});

/** A move as the stub records it: its verb and flow. */
const named = (m: Move) => `${m.kind} ${m.flow ?? '-'}`;

describe('DaemonServer: group commit', () => {
  it('swaps and migrations that arrive while a batch is applied go together as the next batch', async () => {
    await withDaemon(async ({ client, stub }) => {
      const held = gate();
      stub.behave = (_verb, args) => (args[1] === 'first' ? held.promise : undefined);
      const cs = await Promise.all(Array.from({ length: 5 }, () => client()));
      const watcher = await client();
      const hello = () => watcher.request<HelloReply>({ verb: 'hello' }, 2000);
      const first = cs[0]?.request({ verb: 'swap', flow: 'first' }, 10_000);
      await until(async () => stub.calls.length === 1, 2000, 'the first batch under way');
      const sent: string[] = [];
      const pending: Promise<unknown>[] = [];
      for (let n = 0; n < 12; n++) {
        const flow = `f${n}`;
        const body =
          n % 4 === 3
            ? ({ verb: 'migrate', flow, node: 'D' } as const)
            : ({ verb: 'swap', flow } as const);
        pending.push(cs[n % 5]?.request(body, 10_000) as Promise<unknown>);
        sent.push(`${body.verb} ${flow}`);
        await until(async () => (await hello()).queued === n + 2, 2000, `${flow} queued`);
      }
      assert.equal(stub.calls.length, 1, 'nothing else ran while the first batch was applied');
      held.open();
      const results = await within(Promise.all(pending), 5000, 'the second batch');
      assert.deepEqual(await first, { verb: 'swap', args: [LAB, 'first'] });
      // Each request got its own result.
      assert.deepEqual(
        results.map((r) => (r as { args: unknown[] }).args[1]),
        sent.map((x) => x.split(' ')[1]),
      );
      assert.deepEqual(
        stub.batches.map((b) => b.map(named)),
        [['swap first'], sent],
      );
      const h = await hello();
      assert.deepEqual(
        [h.batches, h.sizes, h.changes, h.queued],
        [2, { '1': 1, '2-9': 0, '10-99': 1, '100+': 0 }, 13, 0],
      );
    });
  });

  it('other changes run alone, in arrival order between the batches', async () => {
    await withDaemon(async ({ client, stub }) => {
      const held = gate();
      stub.behave = (_verb, args) => (args[1] === 'first' ? held.promise : undefined);
      const c = await client();
      const watcher = await client();
      const queued = async () =>
        (await watcher.request<HelloReply>({ verb: 'hello' }, 2000)).queued;
      const pending = [c.request({ verb: 'swap', flow: 'first' }, 10_000)];
      await until(async () => stub.calls.length === 1, 2000, 'the first batch under way');
      const bodies = [
        { verb: 'swap', flow: 'a' },
        { verb: 'migrate', flow: 'b', node: 'D' },
        { verb: 'evacuate', from: 'C', to: 'D' },
        { verb: 'swap', flow: 'c' },
        { verb: 'reconcile' },
        { verb: 'serve' },
        { verb: 'swap', flow: 'd' },
        { verb: 'swap', flow: 'e' },
        { verb: 'unserve' },
      ] as const;
      for (const [n, body] of bodies.entries()) {
        pending.push(c.request(body, 10_000));
        await until(async () => (await queued()) === n + 2, 2000, `${body.verb} queued`);
      }
      held.open();
      await within(Promise.all(pending), 5000, 'every change');
      assert.deepEqual(
        stub.calls.map((x) => (x.verb === 'swap' || x.verb === 'migrate' ? x.args[1] : x.verb)),
        ['first', 'a', 'b', 'evacuate', 'c', 'reconcile', 'serve', 'd', 'e', 'unserve'],
      );
      assert.deepEqual(
        stub.batches.map((b) => b.map(named)),
        [['swap first'], ['swap a', 'migrate b'], ['swap c'], ['swap d', 'swap e']],
      );
      assert.equal(stub.maxChanging, 1, 'no two changes overlap');
    });
  });

  it('a batch that fails as a whole fails each of its requests; the next batch goes on', async () => {
    await withDaemon(async ({ client, stub }) => {
      const held = gate();
      stub.behave = (_verb, args) => (args[1] === 'first' ? held.promise : undefined);
      const cs = await Promise.all([client(), client(), client()]);
      const first = cs[0]?.request({ verb: 'swap', flow: 'first' }, 10_000);
      await until(async () => stub.calls.length === 1, 2000, 'the first batch under way');
      const failing = [
        cs[1]?.request({ verb: 'swap', flow: 'x' }, 10_000),
        cs[2]?.request({ verb: 'swap', flow: 'y' }, 10_000),
      ];
      await until(async () => stub.batches.length === 1, 2000, 'queued');
      await sleep(20);
      stub.batchFailure = new FlowmigError('lab lab1 is busy (another flowmig holds its lock)');
      held.open();
      await first;
      for (const p of failing) await assert.rejects(p as Promise<unknown>, /is busy/);
      stub.batchFailure = undefined;
      assert.deepEqual(await cs[1]?.request({ verb: 'swap', flow: 'z' }, 2000), {
        verb: 'swap',
        args: [LAB, 'z'],
      });
      const h = await cs[0]?.request<HelloReply>({ verb: 'hello' }, 2000);
      assert.deepEqual([h?.batches, h?.changes], [2, 2], 'the failed batch counts neither');
    });
  });

  it('a move of a batch that fails gets its own error; the others their results', async () => {
    await withDaemon(async ({ raw, stub }) => {
      const held = gate();
      stub.behave = async (_verb, args) => {
        if (args[1] === 'first') await held.promise;
        if (args[1] === 'bad') throw new InputError('', ["unknown flow 'bad'"]);
      };
      const r = await raw();
      r.send(`${JSON.stringify({ id: 1, verb: 'swap', flow: 'first' })}\n`);
      await until(async () => stub.calls.length === 1, 2000, 'the first batch under way');
      for (const [id, flow] of [
        [2, 'ok1'],
        [3, 'bad'],
        [4, 'ok2'],
      ] as const)
        r.send(`${JSON.stringify({ id, verb: 'swap', flow })}\n`);
      await sleep(30);
      held.open();
      const replies = [await r.next(), await r.next(), await r.next(), await r.next()];
      assert.deepEqual(
        replies.sort((a, b) => (a.id ?? 0) - (b.id ?? 0)),
        [
          { id: 1, ok: true, result: { verb: 'swap', args: [LAB, 'first'] } },
          { id: 2, ok: true, result: { verb: 'swap', args: [LAB, 'ok1'] } },
          { id: 3, ok: false, error: "unknown flow 'bad'", code: 'invalid' },
          { id: 4, ok: true, result: { verb: 'swap', args: [LAB, 'ok2'] } },
        ],
      );
      assert.deepEqual(
        stub.batches.map((b) => b.length),
        [1, 3],
      );
    });
  });
});

describe('DaemonServer: failures', () => {
  it('bad input is invalid, another FlowmigError refused, another error failed; the queue goes on', async () => {
    await withDaemon(async ({ raw, client, stub }) => {
      stub.behave = async (_verb, args) => {
        await sleep(2);
        if (args[1] === 'refuse') throw new FlowmigError('no flow refuse in lab lab1');
        if (args[1] === 'input') throw new InputError('flow', ['bad name']);
        if (args[1] === 'crash') throw new Error('boom');
        if (args[1] === 'string') throw 'a plain string';
        return undefined;
      };
      const r = await raw();
      for (const [id, flow] of [
        [1, 'refuse'],
        [2, 'crash'],
        [3, 'ok-after'],
        [4, 'input'],
        [5, 'string'],
        [6, 'last'],
      ] as const)
        r.send(`${JSON.stringify({ id, verb: 'swap', flow })}\n`);
      const replies = [];
      for (let n = 0; n < 6; n++) replies.push(await r.next());
      assert.deepEqual(replies, [
        { id: 1, ok: false, error: 'no flow refuse in lab lab1', code: 'refused' },
        { id: 2, ok: false, error: 'boom', code: 'failed' },
        { id: 3, ok: true, result: { verb: 'swap', args: [LAB, 'ok-after'] } },
        { id: 4, ok: false, error: 'flow: bad name', code: 'invalid' },
        { id: 5, ok: false, error: 'a plain string', code: 'failed' },
        { id: 6, ok: true, result: { verb: 'swap', args: [LAB, 'last'] } },
      ]);
      assert.deepEqual(
        stub.calls.map((x) => x.args[1]),
        ['refuse', 'crash', 'ok-after', 'input', 'string', 'last'],
      );
      const c = await client();
      assert.equal(
        (await c.request<HelloReply>({ verb: 'hello' }, 2000)).changes,
        2,
        'only the changes that were made count',
      );
    });
  });

  it('a read that fails is refused or failed the same way', async () => {
    await withDaemon(async ({ raw, stub }) => {
      stub.behave = (verb) => {
        if (verb === 'status') throw new FlowmigError('lab lab1 is not up');
        if (verb === 'flows') throw new TypeError('x is undefined');
        if (verb === 'reconcile')
          throw new CommandError({
            argv: ['nft', '-f', '-'],
            exitCode: 1,
            stderr: 'Error: boom\n',
          });
        return undefined;
      };
      const r = await raw();
      assert.deepEqual(await r.ask({ id: 1, verb: 'status' }), {
        id: 1,
        ok: false,
        error: 'lab lab1 is not up',
        code: 'refused',
      });
      assert.deepEqual(await r.ask({ id: 2, verb: 'flows' }), {
        id: 2,
        ok: false,
        error: 'x is undefined',
        code: 'failed',
      });
      // A program that failed is a failure, not a refusal (CommandError is a FlowmigError too).
      assert.deepEqual(await r.ask({ id: 3, verb: 'reconcile' }), {
        id: 3,
        ok: false,
        error: 'nft -f - failed: Error: boom',
        code: 'failed',
      });
    });
  });

  it('the client rejects with a FlowmigError carrying the daemon’s message', async () => {
    await withDaemon(async ({ client, stub }) => {
      stub.behave = (_verb, args) => {
        if (args[1] === 'nope') throw new FlowmigError('no flow nope');
        return undefined;
      };
      const c = await client();
      await assert.rejects(c.request({ verb: 'swap', flow: 'nope' }, 2000), (e) => {
        assert.ok(e instanceof FlowmigError);
        assert.equal(e.message, 'no flow nope');
        return true;
      });
      assert.deepEqual(await c.request({ verb: 'swap', flow: 'yes' }, 2000), {
        verb: 'swap',
        args: [LAB, 'yes'],
      });
    });
  });
});

describe('DaemonServer: down', () => {
  it('replies, then calls onDown with the socket file gone; other connections are closed', async () => {
    const events: string[] = [];
    let path = '';
    let goneAtOnDown: boolean | undefined;
    const downCalled = gate();
    await withDaemon(
      async (t) => {
        path = t.path;
        const other = await t.client();
        const watcher = await t.raw();
        const c = await t.client();
        const result = await c.request({ verb: 'down' }, 2000).then((x) => {
          events.push('reply');
          return x;
        });
        assert.deepEqual(result, { verb: 'down', args: [LAB] });
        await within(downCalled.promise, 2000, 'onDown');
        assert.deepEqual(events, ['reply', 'onDown']);
        assert.equal(goneAtOnDown, true, 'the socket file was gone when onDown ran');
        assert.equal(t.downCalls, 1);
        assert.deepEqual(
          t.stub.calls.map((x) => [x.verb, x.args]),
          [['down', [LAB]]],
        );
        await within(watcher.closed, 2000, 'the other connection closed');
        await assert.rejects(other.request({ verb: 'hello' }, 2000), FlowmigError);
        await assert.rejects(DaemonClient.connect(path, 1000), /cannot reach the daemon/);
      },
      () => {
        events.push('onDown');
        void isGone(path).then((gone) => {
          goneAtOnDown = gone;
          downCalled.open();
        });
      },
    );
  });

  it('waits for the changes queued before it', async () => {
    const done = gate();
    await withDaemon(
      async ({ client, stub }) => {
        const held = gate();
        stub.behave = (verb) => (verb === 'swap' ? held.promise : undefined);
        const [a, b] = await Promise.all([client(), client()]);
        const swap = a.request({ verb: 'swap' }, 5000);
        await until(() => stub.calls.length === 1, 2000, 'the swap running');
        const down = b.request({ verb: 'down' }, 5000);
        await sleep(30);
        assert.deepEqual(
          stub.calls.map((x) => x.verb),
          ['swap'],
          'down waits for the swap',
        );
        held.open();
        await within(Promise.all([swap, down]), 3000, 'swap and down');
        const [s, d] = stub.calls;
        assert.ok(s && d && d.verb === 'down' && d.start >= s.end);
        await within(done.promise, 2000, 'onDown');
      },
      () => done.open(),
    );
  });

  it('a down that fails is reported and the daemon keeps serving', async () => {
    await withDaemon(async (t) => {
      const { client, stub, path } = t;
      stub.behave = (verb) => {
        if (verb === 'down') throw new FlowmigError('cannot delete namespace');
        return undefined;
      };
      const c = await client();
      await assert.rejects(c.request({ verb: 'down' }, 2000), /cannot delete namespace/);
      await sleep(20);
      assert.equal(t.downCalls, 0);
      assert.equal(await isGone(path), false);
      assert.deepEqual(await c.request({ verb: 'status' }, 2000), { verb: 'status', args: [LAB] });
    });
  });
});
