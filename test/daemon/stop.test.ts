// `flowmig daemon --stop` without a kernel: stand-in daemons (small node programs that answer
// `hello` on the lab's socket) are stopped only when they were started as the lab's daemon; the
// lab's state stays, and a socket and token file a killed daemon left behind are removed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MARKER, daemonPaths, stopLabDaemon } from '../../src/control/daemon-process.js';
import { FlowmigError } from '../../src/errors.js';
import { isRunning } from '../../src/procs/find.js';
import { StateStore } from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

/**
 * A stand-in daemon: answers `hello` on `socket` with its own PID; on SIGTERM it removes its
 * socket and exits, unless told to ignore SIGTERM. Prints `ready` once it listens.
 */
const STAND_IN = `
const net = require('node:net');
const fs = require('node:fs');
const [socket, lab, onTerm] = process.argv.slice(1).filter((a) => !a.startsWith('--flowmig'));
const server = net.createServer((c) => {
  c.setEncoding('utf8');
  c.on('data', (line) => {
    const req = JSON.parse(line.trim());
    c.write(JSON.stringify({ id: req.id ?? null, ok: true, result: { lab, pid: process.pid } }) + '\\n');
  });
  c.on('error', () => {});
});
server.listen(socket, () => console.log('ready'));
process.on('SIGTERM', () => {
  if (onTerm === 'ignore') return;
  fs.rmSync(socket, { force: true });
  process.exit(0);
});
`;

describe('stopLabDaemon', () => {
  let dir = '';
  let store: StateStore;
  const lab = referenceLab({ prefix: `st${randomBytes(2).toString('hex')}-` });
  const id = lab.id;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await tempDir('daemon-stop');
    store = new StateStore(dir);
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await removeDir(dir);
  });

  /** Starts a stand-in on the lab's socket, marked as the lab's daemon unless `marked` is false. */
  async function standIn(options: { marked?: boolean; onTerm?: 'ignore' } = {}) {
    const { socket } = daemonPaths(dir, id);
    const marker = options.marked === false ? [] : [DAEMON_MARKER, id];
    const child = spawn(
      process.execPath,
      ['-e', STAND_IN, socket, id, options.onTerm ?? 'exit', ...marker],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(child);
    await once(child.stdout ?? assert.fail('no stdout'), 'data');
    const pid = child.pid ?? assert.fail('no pid');
    await store.write(stateOf(lab, { daemon: { pid, socket } }));
    return { child, pid };
  }

  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );

  it('stops the lab’s daemon and leaves the lab’s state', async () => {
    const { pid } = await standIn();
    const r = await stopLabDaemon(store, id);
    assert.deepEqual(r, { lab: id, stopped: [pid] });
    assert.equal(await isRunning(pid), false);
    assert.equal((await store.read(id))?.phase, 'up');
    assert.equal(await exists(daemonPaths(dir, id).socket), false);
  });

  it('with no daemon running: stops nothing, and says so', async () => {
    assert.deepEqual(await stopLabDaemon(store, id), { lab: id, stopped: [] });
    assert.equal((await store.read(id))?.phase, 'up');
  });

  it('kills one that ignores SIGTERM after the grace time, and removes the socket and token it left', async () => {
    const { pid } = await standIn({ onTerm: 'ignore' });
    const { socket, token } = daemonPaths(dir, id);
    await writeFile(token, 'f'.repeat(32));
    const r = await stopLabDaemon(store, id, 200);
    assert.deepEqual(r.stopped, [pid]);
    assert.equal(await isRunning(pid), false);
    assert.equal(await exists(socket), false);
    assert.equal(await exists(token), false);
  });

  it('refuses to stop what serves the lab when it was not started as its daemon', async () => {
    const { pid } = await standIn({ marked: false });
    await assert.rejects(
      stopLabDaemon(store, id),
      (e: Error) =>
        e instanceof FlowmigError &&
        e.message.includes(`pid ${pid}, which is not a daemon 'flowmig daemon' started`),
    );
    assert.equal(await isRunning(pid), true, 'left running');
    assert.equal(await exists(daemonPaths(dir, id).socket), true);
  });
});
