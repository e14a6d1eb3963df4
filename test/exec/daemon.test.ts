import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
