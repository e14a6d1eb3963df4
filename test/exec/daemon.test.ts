import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isOurProcess, isRunning, spawnDetached, stopProcess } from '../../src/exec/daemon.js';

const dir = await mkdtemp(join(tmpdir(), 'flowmig-daemon-'));
after(() => rm(dir, { recursive: true, force: true }));

describe('isOurProcess and isRunning', () => {
  it('tell our process by its markers, and a gone one as not running', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'marker-a'], {
      stdio: 'ignore',
    });
    const pid = child.pid ?? assert.fail('no pid');
    try {
      assert.equal(await isRunning(pid), true);
      assert.equal(await isOurProcess(pid, ['marker-a']), true);
      assert.equal(await isOurProcess(pid, ['marker-a', 'marker-b']), false);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    assert.equal(await isRunning(pid), false);
    assert.equal(await isOurProcess(pid, ['marker-a']), false);
  });

  it('find the markers of a program started through an exec chain right after the spawn', async () => {
    // `env` execs node: the command line is briefly empty in between; the check must not miss it.
    for (let i = 0; i < 20; i++) {
      const log = join(dir, `chain-${i}.log`);
      const pid = spawnDetached(
        ['/usr/bin/env', process.execPath, '-e', 'setTimeout(() => {}, 60000)', `chain-${i}`],
        { logFile: log },
      );
      try {
        assert.equal(await isOurProcess(pid, [`chain-${i}`]), true, `attempt ${i}`);
      } finally {
        await stopProcess(pid);
      }
      assert.equal(await isRunning(pid), false);
      assert.equal(await readFile(log, 'utf8'), '');
    }
  });
});

describe('spawnDetached: what the program and its log may show others', () => {
  it('appends to a log only its owner may read, tightening one an older start left 0644', async () => {
    const log = join(dir, 'modes.log');
    await writeFile(log, 'earlier\n', { mode: 0o644 });
    await chmod(log, 0o644);
    const pid = spawnDetached([process.execPath, '-e', 'console.log("now")', 'modes-a'], {
      logFile: log,
    });
    await waitUntilGone(pid);
    assert.equal((await stat(log)).mode & 0o777, 0o600);
    assert.equal(await readFile(log, 'utf8'), 'earlier\nnow\n');
  });

  it('starts the program with umask 077, so what it makes is its owner only', async () => {
    const made = join(dir, 'made-by-child');
    const pid = spawnDetached(
      [
        process.execPath,
        '-e',
        `require('node:fs').writeFileSync(${JSON.stringify(made)}, 'x'); console.log(process.umask().toString(8))`,
        'modes-b',
      ],
      { logFile: join(dir, 'modes-b.log') },
    );
    await waitUntilGone(pid);
    assert.equal((await readFile(join(dir, 'modes-b.log'), 'utf8')).trim(), '77');
    assert.equal((await stat(made)).mode & 0o777, 0o600);
    assert.notEqual(process.umask(), 0o077, "this process's umask is back");
  });
});

/** Waits until `pid` (a short program) has ended. */
async function waitUntilGone(pid: number): Promise<void> {
  for (let i = 0; i < 500 && (await isRunning(pid)); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.equal(await isRunning(pid), false, `pid ${pid} still runs`);
}

describe('stopProcess', () => {
  it('takes a process that exited but is not reaped yet (a zombie) as gone', async () => {
    // `sh` starts a child that exits at once, then becomes `sleep`, which never reaps it.
    const parent = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 60'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const [line] = (await once(parent.stdout, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      let state = '';
      for (let i = 0; i < 500 && state !== 'Z'; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const stat = await readFile(`/proc/${zombie}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      }
      assert.equal(state, 'Z', 'the child is a zombie');
      await stopProcess(zombie);
      assert.equal(await isRunning(zombie), false);
      assert.ok(
        (await readFile(`/proc/${zombie}/stat`, 'utf8')).includes(') Z '),
        'stopProcess returned while the zombie is still there to reap',
      );
    } finally {
      parent.kill('SIGKILL');
      await once(parent, 'exit').catch(() => undefined);
    }
  });
});
