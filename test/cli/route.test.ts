import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Globals, Route } from '../../src/cli/route.js';
import { daemonPaths } from '../../src/control/daemon-process.js';
import type { Flowmig } from '../../src/control/flowmig.js';
import { FlowmigError, InputError } from '../../src/errors.js';
import { DamagedStateError } from '../../src/state/store.js';
import { removeDir, tempDir } from '../support/tmp.js';

const LAB = 'fmu-default';

/** A daemon socket that answers every request line with `reply(request)`; counts connections. */
async function fakeDaemon(
  path: string,
  reply: (request: Record<string, unknown>) => Record<string, unknown>,
): Promise<{ server: Server; requests: Record<string, unknown>[]; connections: () => number }> {
  const requests: Record<string, unknown>[] = [];
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let buffer = '';
    socket.on('data', (b: Buffer) => {
      buffer += b.toString();
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, at)) as Record<string, unknown>;
        buffer = buffer.slice(at + 1);
        requests.push(request);
        socket.write(`${JSON.stringify({ id: request.id, ...reply(request) })}\n`);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, requests, connections: () => connections };
}

/** A controller whose store reads `state` (or throws it); counts how often it was made. */
function fakeController(state: () => unknown): {
  make: () => Promise<Flowmig>;
  made: () => number;
} {
  let made = 0;
  const fm = { store: { read: async () => state() } } as unknown as Flowmig;
  return {
    make: async () => {
      made++;
      return fm;
    },
    made: () => made,
  };
}

describe('Route.act', () => {
  let dir = '';
  let server: Server | undefined;
  beforeEach(async () => {
    dir = await tempDir('route');
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    await removeDir(dir);
  });
  const route = (globals: Globals, make: () => Promise<Flowmig>) =>
    new Route(() => ({ stateDir: dir, ...globals }), make);

  it("goes through the daemon when the lab's socket answers, without making a controller", async () => {
    const d = await fakeDaemon(daemonPaths(dir, LAB).socket, (r) => ({
      ok: true,
      result: { served: r.verb },
    }));
    server = d.server;
    const c = fakeController(() => undefined);
    const r = await route({}, c.make).act(
      LAB,
      { verb: 'swap', flow: 'fe00::1' },
      async () => ({ served: 'direct' }),
      'change',
    );
    assert.deepEqual(r, { served: 'swap' });
    assert.deepEqual(
      d.requests.map(({ id: _, ...body }) => body),
      [{ verb: 'swap', flow: 'fe00::1' }],
    );
    assert.equal(c.made(), 0);
  });

  it("keeps a refusal's message; bad input through the daemon is exit code 2 as with --direct", async () => {
    const d = await fakeDaemon(daemonPaths(dir, LAB).socket, () => ({
      ok: false,
      error: "no flow 'x' in lab fmu-default",
      code: 'invalid',
    }));
    server = d.server;
    const c = fakeController(() => undefined);
    await assert.rejects(
      route({}, c.make).act(LAB, { verb: 'swap', flow: 'x' }, async () => 0, 'change'),
      (e: unknown) =>
        e instanceof FlowmigError &&
        e.message === "no flow 'x' in lab fmu-default" &&
        e.exitCode === 2,
    );
  });

  it('--direct acts from this process and never asks the daemon', async () => {
    const d = await fakeDaemon(daemonPaths(dir, LAB).socket, () => ({
      ok: true,
      result: 'daemon',
    }));
    server = d.server;
    const c = fakeController(() => undefined);
    const r = await route({ direct: true }, c.make).act(
      LAB,
      { verb: 'status' },
      async (fm) => (fm === (await c.make()) ? 'direct' : 'another controller'),
      'read',
    );
    assert.equal(r, 'direct');
    assert.equal(d.connections(), 0);
  });

  it('no daemon: a read acts from this process', async () => {
    const c = fakeController(() => ({ id: LAB }));
    const r = await route({}, c.make).act(LAB, { verb: 'status' }, async () => 'direct', 'read');
    assert.equal(r, 'direct');
  });

  it('no daemon: a change is refused, saying how to start one or act without it', async () => {
    const c = fakeController(() => ({ id: LAB }));
    let acted = false;
    await assert.rejects(
      route({}, c.make).act(
        LAB,
        { verb: 'swap' },
        async () => {
          acted = true;
        },
        'change',
      ),
      {
        message: `no daemon serves lab ${LAB}; start one with 'flowmig daemon --lab ${LAB}', or act without it with --direct`,
      },
    );
    assert.equal(acted, false);
  });

  it('a recorded daemon that is not running: a change is refused naming its pid', async () => {
    // A pid above the kernel's limit is no process at all.
    const pid = 2 ** 22 + 1;
    const c = fakeController(() => ({ id: LAB, daemon: { pid, socket: join(dir, 'gone.sock') } }));
    await assert.rejects(
      route({}, c.make).act(LAB, { verb: 'swap' }, async () => 0, 'change'),
      {
        message: `the daemon of lab ${LAB} (pid ${pid}) is not running; restart it with 'flowmig daemon --lab ${LAB}', or act without it with --direct`,
      },
    );
  });

  it('a damaged state file: a read acts from this process, a change fails', async () => {
    const c = fakeController(() => {
      throw new DamagedStateError(LAB, join(dir, `${LAB}.json`));
    });
    const r = route({}, c.make);
    assert.equal(await r.act(LAB, { verb: 'down' }, async () => 'direct', 'read'), 'direct');
    await assert.rejects(
      r.act(LAB, { verb: 'swap' }, async () => 'direct', 'change'),
      DamagedStateError,
    );
  });

  it('makes one controller however often it is asked for', async () => {
    const c = fakeController(() => undefined);
    const r = route({}, c.make);
    assert.equal(await r.controller(), await r.controller());
    assert.equal(c.made(), 1);
  });
});

describe('Route.daemonGone', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('gone');
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it("returns once the lab's socket is removed, or after its time when it stays", async () => {
    const r = new Route(() => ({ stateDir: dir }));
    const { socket } = daemonPaths(dir, LAB);
    await r.daemonGone(LAB, 0);
    await writeFile(socket, '');
    const removed = setTimeout(() => void rm(socket), 50);
    const t0 = Date.now();
    await r.daemonGone(LAB);
    assert.ok(Date.now() - t0 >= 40 && !existsSync(socket));
    clearTimeout(removed);
    await writeFile(socket, '');
    await r.daemonGone(LAB, 30);
    assert.ok(existsSync(socket));
  });
});

describe('Route.pick and stateDir', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('pick');
  });
  afterEach(async () => {
    await removeDir(dir);
  });
  const route = () => new Route(() => ({ stateDir: dir }));

  it('the lab named, even when others are up', async () => {
    await writeFile(join(dir, 'a.json'), '{}');
    await writeFile(join(dir, 'b.json'), '{}');
    assert.equal(await route().pick('c'), 'c');
  });

  it('the only lab with a state file (other files in the directory do not count)', async () => {
    await writeFile(join(dir, 'fm1-default.json'), '{}');
    await writeFile(join(dir, 'fm1-default.sock'), '');
    await writeFile(join(dir, 'fm1-default.daemon.log'), '');
    await writeFile(join(dir, '.hidden.json'), '{}');
    assert.equal(await route().pick(undefined), 'fm1-default');
  });

  it('none: says how to start one; several: bad input naming them and --lab', async () => {
    await assert.rejects(route().pick(undefined), {
      message: "no lab is up (start one with 'flowmig up')",
    });
    await writeFile(join(dir, 'b.json'), '{}');
    await writeFile(join(dir, 'a.json'), '{}');
    await assert.rejects(
      route().pick(undefined),
      (e: unknown) =>
        e instanceof InputError &&
        e.message === 'several labs are up (a, b); name one with --lab ID',
    );
  });

  it('a missing state directory holds no lab', async () => {
    const r = new Route(() => ({ stateDir: join(dir, 'missing') }));
    await assert.rejects(r.pick(undefined), { message: /no lab is up/ });
  });

  it('--state-dir, else FLOWMIG_STATE_DIR, else /run/flowmig', () => {
    const saved = process.env.FLOWMIG_STATE_DIR;
    try {
      process.env.FLOWMIG_STATE_DIR = '/tmp/from-env';
      assert.equal(new Route(() => ({ stateDir: '/tmp/option' })).stateDir, '/tmp/option');
      assert.equal(new Route(() => ({})).stateDir, '/tmp/from-env');
      delete process.env.FLOWMIG_STATE_DIR;
      assert.equal(new Route(() => ({})).stateDir, '/run/flowmig');
    } finally {
      if (saved === undefined) delete process.env.FLOWMIG_STATE_DIR;
      else process.env.FLOWMIG_STATE_DIR = saved;
    }
  });
});
