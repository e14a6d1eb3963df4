import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServeClient } from '../../src/serve/client.js';
import { ControlServer, type ControlTarget } from '../../src/serve/control.js';
import type {
  ConnectionFilter,
  MigratingConnection,
  PrepareResult,
} from '../../src/serve/protocol.js';
import { removeDir, tempDir } from '../support/tmp.js';
import { SAMPLE_STATE } from './samples.js';

/** A runtime that records its calls and answers from fixed data. */
class FakeTarget implements ControlTarget {
  readonly address = 'fc01::1';
  readonly port = 5555;
  calls: string[] = [];
  hangPrepare = false;
  prepare(filter: ConnectionFilter, options?: { timeoutMs?: number }): Promise<PrepareResult> {
    this.calls.push(`prepare ${JSON.stringify(filter)} ${options?.timeoutMs}`);
    if (this.hangPrepare) return new Promise(() => {});
    return Promise.resolve({
      ready: ['a'],
      failed: [{ id: 'b', reason: '64 KiB still queued by the application (slow reader)' }],
      prepareMs: 1.5,
    });
  }
  checkpoint(ids: readonly string[]) {
    this.calls.push(`checkpoint ${ids.join(',')}`);
    const connections: MigratingConnection[] = ids.map((id) => ({
      id,
      socket: SAMPLE_STATE,
      app: { held: '' },
      pendingInput: '',
    }));
    return { connections, failed: [], checkpointMs: 0.5 };
  }
  restore(connections: readonly MigratingConnection[], options?: { localAddress?: string }) {
    this.calls.push(`restore ${connections.map((c) => c.id).join(',')} ${options?.localAddress}`);
    return { restored: connections.map((c) => c.id), failed: [], restoreMs: 0.7 };
  }
  resume(ids: readonly string[]) {
    this.calls.push(`resume ${ids.join(',')}`);
    return { resumed: [...ids], failed: [], resumeMs: 0.1 };
  }
  abort(ids: readonly string[]) {
    this.calls.push(`abort ${ids.join(',')}`);
    return { aborted: [...ids], failed: [] };
  }
  connections() {
    return [
      {
        id: 'a',
        remote: { address: 'fe00::1', port: 40_001 },
        local: { address: 'fc01::1', port: 5555 },
        bytesIn: 3,
        bytesOut: 3,
        state: 'active' as const,
      },
    ];
  }
}

/** A raw connection: writes lines, reads reply objects in order. */
async function rawClient(path: string) {
  const sock: Socket = connect(path);
  await new Promise((r) => sock.once('connect', r));
  let buffered = '';
  const replies: unknown[] = [];
  const waiters: (() => void)[] = [];
  sock.on('data', (d) => {
    buffered += d.toString();
    let i = buffered.indexOf('\n');
    while (i >= 0) {
      replies.push(JSON.parse(buffered.slice(0, i)));
      buffered = buffered.slice(i + 1);
      i = buffered.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  const next = async (): Promise<Record<string, unknown>> => {
    while (replies.length === 0) await new Promise<void>((r) => waiters.push(r));
    return replies.shift() as Record<string, unknown>;
  };
  return { sock, next, send: (s: string | Buffer) => sock.write(s) };
}

describe('serve control server', () => {
  let dir = '';
  let path = '';
  let target: FakeTarget;
  let control: ControlServer;
  let shutdowns = 0;

  before(async () => {
    dir = await tempDir('serve-control');
    path = join(dir, 'serve.sock');
    writeFileSync(path, 'stale'); // left by a dead process: replaced
    target = new FakeTarget();
    control = await ControlServer.start({
      path,
      target,
      mode: 'echo',
      onShutdown: () => shutdowns++,
    });
  });
  after(async () => {
    await control.close();
    await removeDir(dir);
  });

  it('replaces a stale file, is a 0600 socket, and refuses a second server on the same path', async () => {
    const st = statSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await assert.rejects(
      ControlServer.start({ path, target, mode: 'echo', onShutdown: () => {} }),
      /another server answers/,
    );
  });

  it('answers every verb through ServeClient', async () => {
    const c = await ServeClient.connect(path);
    try {
      const hello = await c.hello();
      assert.equal(hello.pid, process.pid);
      assert.equal(hello.address, 'fc01::1');
      assert.equal(hello.port, 5555);
      assert.equal(hello.mode, 'echo');
      assert.equal(hello.connections, 1);
      const p = await c.prepare({ peerAddress: 'fe00::1' }, 50);
      assert.deepEqual(p.ready, ['a']);
      assert.match(p.failed[0]?.reason ?? '', /slow reader/);
      const cp = await c.checkpoint(['a']);
      assert.equal(cp.connections[0]?.socket.local.port, 5555);
      const r = await c.restore(cp.connections, { localAddress: 'fc02::2' });
      assert.deepEqual(r.restored, ['a']);
      assert.deepEqual((await c.resume(['a'])).resumed, ['a']);
      assert.deepEqual((await c.abort(['x'])).aborted, ['x']);
      assert.equal((await c.status())[0]?.state, 'active');
      assert.deepEqual(target.calls.slice(-5), [
        'prepare {"peerAddress":"fe00::1"} 50',
        'checkpoint a',
        'restore a fc02::2',
        'resume a',
        'abort x',
      ]);
    } finally {
      c.close();
    }
  });

  it('answers malformed lines with an error and keeps serving', async () => {
    const raw = await rawClient(path);
    try {
      raw.send('this is not json\n');
      assert.deepEqual(await raw.next(), { id: null, ok: false, error: 'not JSON' });
      raw.send('{"id":7,"op":"fly"}\n');
      assert.deepEqual(await raw.next(), { id: 7, ok: false, error: 'unknown op "fly"' });
      raw.send('{"id":8,"op":"checkpoint"}\n');
      const missing = await raw.next();
      assert.equal(missing.id, 8);
      assert.equal(missing.ok, false);
      assert.match(String(missing.error), /ids is not a string list/);
      raw.send('{"id":9,"op":"restore","connections":[{"id":"a","socket":{}}]}\n');
      assert.match(String((await raw.next()).error), /socket\.version is not 1/);
      raw.send('{"id":10,"op":"status"}\n');
      const status = await raw.next();
      assert.equal(status.id, 10);
      assert.equal(status.ok, true);
    } finally {
      raw.sock.destroy();
    }
  });

  it('answers a request line over 64 MiB with an error and reads the next line', async () => {
    const raw = await rawClient(path);
    try {
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      for (let i = 0; i < 65; i++) raw.send(chunk);
      raw.send('\n{"id":11,"op":"hello"}\n');
      assert.deepEqual(await raw.next(), {
        id: null,
        ok: false,
        error: 'request line over 64 MiB',
      });
      const hello = await raw.next();
      assert.equal(hello.id, 11);
      assert.equal(hello.ok, true);
    } finally {
      raw.sock.destroy();
    }
  });

  it('a request the server cannot read (reply id null) fails every call waiting on the client', async () => {
    const p3 = join(dir, 'small.sock');
    const small = await ControlServer.start({
      path: p3,
      target: new FakeTarget(),
      mode: 'echo',
      onShutdown: () => {},
      maxRequestBytes: 1024,
    });
    const c = await ServeClient.connect(p3);
    try {
      await assert.rejects(c.checkpoint(['x'.repeat(2_000)]), /^Error: serve: request line over/);
      assert.equal(c.usable, false);
    } finally {
      c.close();
      await small.close();
    }
  });

  it('rejects the calls still waiting when the connection closes', async () => {
    target.hangPrepare = true;
    const c = await ServeClient.connect(path);
    const pending = c.prepare({ ids: ['a'] }, 5_000);
    await new Promise((r) => setTimeout(r, 20));
    c.close();
    await assert.rejects(pending, /closed the connection/);
    await assert.rejects(c.hello(), /closed the connection/);
    assert.equal(c.usable, false);
    target.hangPrepare = false;
  });

  it('calls onShutdown once the shutdown request is answered', async () => {
    // The hung prepare above holds the queue until it is replaced: a fresh server for this one.
    const p2 = join(dir, 'second.sock');
    let down = 0;
    const second = await ControlServer.start({
      path: p2,
      target: new FakeTarget(),
      mode: 'stream',
      onShutdown: () => down++,
    });
    const c = await ServeClient.connect(p2);
    try {
      await c.shutdown();
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(down, 1);
      assert.equal(shutdowns, 0);
    } finally {
      c.close();
      await second.close();
    }
  });
});
