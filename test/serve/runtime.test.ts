import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { echo } from '../../src/serve/apps.js';
import { type App, MigratableServer } from '../../src/serve/runtime.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, f: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A loopback client that collects what it receives. */
async function client(port: number): Promise<{ sock: Socket; got: () => Buffer }> {
  const sock = connect({ host: '::1', port });
  const parts: Buffer[] = [];
  sock.on('data', (d: Buffer) => parts.push(d));
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  return { sock, got: () => Buffer.concat(parts) };
}

const freePort = () => 40_000 + Math.floor(Math.random() * 20_000);

describe('MigratableServer without TCP repair (loopback)', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function serve(app: App = echo, log?: (m: string) => void): Promise<MigratableServer> {
    const server = new MigratableServer({
      address: '::1',
      port: freePort(),
      app,
      ...(log ? { log } : {}),
    });
    await server.listen();
    cleanup.push(() => server.close());
    return server;
  }

  it('lists connections, picks them by peer address or id, and reports unknown ids', async () => {
    const server = await serve();
    const c = await client(server.port);
    cleanup.push(() => c.sock.destroy());
    await waitFor('the connection', () => server.connections().length === 1);
    const [info] = server.connections();
    assert.equal(info?.state, 'active');
    assert.equal(info?.remote.address, '::1');
    assert.equal(info?.local.port, server.port);

    const none = await server.prepare({ peerAddress: 'fe00::1' });
    assert.deepEqual(none, { ready: [], failed: [], prepareMs: none.prepareMs });
    const p = await server.prepare({ peerAddress: '0:0:0:0:0:0:0:1', ids: [info?.id ?? '', 'x'] });
    assert.deepEqual(p.ready, [info?.id]);
    assert.deepEqual(p.failed, [{ id: 'x', reason: 'no such connection here' }]);
    assert.equal(server.connections()[0]?.state, 'prepared');
    assert.deepEqual(server.checkpoint(['x']).failed, [
      { id: 'x', reason: 'no such connection here' },
    ]);
    assert.deepEqual(server.resume([info?.id ?? '']).failed, [
      { id: info?.id, reason: 'connection is prepared, not restored' },
    ]);
    assert.deepEqual(server.abort([info?.id ?? '']).aborted, [info?.id]);
    assert.equal(server.connections()[0]?.state, 'active');
  });

  it('a prepared connection reads nothing; abort delivers what waited, once and in order', async () => {
    const server = await serve();
    const c = await client(server.port);
    cleanup.push(() => c.sock.destroy());
    c.sock.write('before\n');
    await waitFor('the first echo', () => c.got().toString() === 'before\n');
    const [info] = server.connections();
    const p = await server.prepare({ ids: [info?.id ?? ''] });
    assert.deepEqual(p.ready, [info?.id]);
    assert.ok(p.prepareMs >= 0);
    c.sock.write('during\n');
    await sleep(50);
    assert.equal(c.got().toString(), 'before\n'); // quiesced: not read, not echoed
    server.abort([info?.id ?? '']);
    c.sock.write('after\n');
    await waitFor('everything echoed', () => c.got().length >= 'before\nduring\nafter\n'.length);
    await sleep(20);
    assert.equal(c.got().toString(), 'before\nduring\nafter\n');
    assert.equal(server.connections()[0]?.bytesIn, 20);
  });

  it('a slow reader fails prepare with the reason and keeps working, no byte lost or doubled', async () => {
    const server = await serve();
    const c = await client(server.port);
    cleanup.push(() => c.sock.destroy());
    c.sock.pause(); // reads nothing: the echo backs up into Node's write buffer
    const total = 8 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
    c.sock.write(data);
    let last = -1;
    await waitFor('the echo to stall', () => {
      const out = server.connections()[0]?.bytesOut ?? 0;
      const stalled = out > 0 && out === last;
      last = out;
      return stalled;
    });
    await sleep(50);
    const [info] = server.connections();
    const p = await server.prepare({ ids: [info?.id ?? ''] }, { timeoutMs: 30 });
    assert.deepEqual(p.ready, []);
    assert.equal(p.failed[0]?.id, info?.id);
    assert.match(
      p.failed[0]?.reason ?? '',
      /^\d+ KiB still queued by the application \(slow reader\)$/,
    );
    assert.equal(server.connections()[0]?.state, 'active');
    c.sock.resume();
    await waitFor('all echoed', () => c.got().length >= total, 20_000);
    await sleep(20);
    assert.equal(c.got().length, total);
    assert.ok(c.got().equals(data), 'the echo differs from what was sent');
  });

  it('an app that throws loses its connection, never the server', async () => {
    const logs: string[] = [];
    const server = await serve(
      (conn) => ({
        onData(chunk) {
          if (chunk.includes('boom')) throw new Error('boom');
          conn.write(chunk);
        },
        snapshot: () => null,
      }),
      (m) => logs.push(m),
    );
    const bad = await client(server.port);
    const closed = new Promise((r) => bad.sock.once('close', r));
    bad.sock.write('boom');
    await closed;
    await waitFor('the connection to be gone', () => server.connections().length === 0);
    assert.ok(
      logs.some((l) => /the app failed: boom/.test(l)),
      logs.join('\n'),
    );
    const good = await client(server.port);
    cleanup.push(() => good.sock.destroy());
    good.sock.write('fine');
    await waitFor('the echo', () => good.got().toString() === 'fine');
  });

  it('a connection that ends leaves the list and is logged', async () => {
    const logs: string[] = [];
    const server = await serve(echo, (m) => logs.push(m));
    const c = await client(server.port);
    await waitFor('the connection', () => server.connections().length === 1);
    c.sock.end();
    await waitFor('the connection to be gone', () => server.connections().length === 0);
    assert.ok(
      logs.some((l) => /closed \(ended by the peer\)/.test(l)),
      logs.join('\n'),
    );
  });
});
