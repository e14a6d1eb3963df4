// The managed-process module: starting detached (log and umask), telling our processes from
// /proc, waiting until one answers, stopping, running in the foreground.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findByMarker, findMarked, isOurProcess, isRunning } from '../../src/procs/find.js';
import {
  NoAnswerError,
  startManaged,
  stopProcess,
  waitUntilAnswers,
} from '../../src/procs/managed.js';
import { runForeground, spawnDetached } from '../../src/procs/spawn.js';

const dir = await mkdtemp(join(tmpdir(), 'flowmig-procs-'));
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

describe('startManaged: start, record, wait until it answers', () => {
  /** A program that writes `ready` to `file` after `ms`, then idles; marked with `marker`. */
  const program = (file: string, ms: number, marker: string) => [
    process.execPath,
    '-e',
    `setTimeout(() => require('node:fs').writeFileSync(${JSON.stringify(file)}, 'ready'), ${ms}); setInterval(() => {}, 60000)`,
    marker,
  ];

  it('records the PID before the wait, then resolves with the first answer', async () => {
    const file = join(dir, 'answer-a');
    const order: string[] = [];
    const { pid, answer } = await startManaged({
      argv: program(file, 100, 'managed-a'),
      logFile: join(dir, 'managed-a.log'),
      markers: ['managed-a'],
      record: async (p) => {
        order.push(`record ${await isRunning(p)}`);
      },
      probe: async () => {
        const text = await readFile(file, 'utf8');
        order.push('answered');
        return text;
      },
      timeoutMs: 5_000,
    });
    try {
      assert.equal(answer, 'ready');
      assert.deepEqual(order, ['record true', 'answered']);
      assert.equal(await isOurProcess(pid, ['managed-a']), true);
    } finally {
      await stopProcess(pid);
    }
    assert.equal(await isRunning(pid), false);
  });

  it('one that never answers is stopped, and the last reason is thrown as NoAnswerError', async () => {
    let started = 0;
    const error = await startManaged({
      argv: program(join(dir, 'never'), 60_000, 'managed-b'),
      logFile: join(dir, 'managed-b.log'),
      markers: ['managed-b'],
      record: async (p) => {
        started = p;
      },
      probe: () => Promise.reject(new Error('not yet')),
      timeoutMs: 200,
    }).then(
      () => assert.fail('it answered'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof NoAnswerError);
    assert.equal(error.message, 'not yet');
    assert.equal(error.pid, started);
    assert.equal(await isRunning(started), false, 'stopped');
  });

  it('one that exits is not waited for until the timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(
      startManaged({
        argv: [process.execPath, '-e', 'process.exit(3)', 'managed-c'],
        logFile: join(dir, 'managed-c.log'),
        markers: ['managed-c'],
        probe: () => Promise.reject(new Error('nothing there')),
        timeoutMs: 10_000,
      }),
      (e) => e instanceof NoAnswerError && e.message === 'nothing there',
    );
    assert.ok(Date.now() - t0 < 5_000, 'gave up once the process was gone');
  });

  it('an error of record is thrown as it is', async () => {
    let started = 0;
    await assert.rejects(
      startManaged({
        argv: program(join(dir, 'rec'), 60_000, 'managed-d'),
        logFile: join(dir, 'managed-d.log'),
        markers: ['managed-d'],
        record: async (p) => {
          started = p;
          throw new Error('cannot record');
        },
        probe: () => Promise.resolve('never asked'),
        timeoutMs: 1_000,
      }),
      /^Error: cannot record$/,
    );
    await stopProcess(started);
  });
});

describe('findByMarker and findMarked', () => {
  it('find running processes by the value after their marker, never this process', async () => {
    const child = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 60000)', '--', '--flowmig-test-marker', 'lab-x'],
      { stdio: 'ignore' },
    );
    const pid = child.pid ?? assert.fail('no pid');
    try {
      await waitUntilAnswers(
        pid,
        async () => {
          if ((await findByMarker('--flowmig-test-marker', (v) => v === 'lab-x')).includes(pid))
            return;
          throw new Error('not found yet');
        },
        2_000,
      );
      assert.deepEqual(await findByMarker('--flowmig-test-marker', (v) => v === 'lab-y'), []);
      const found = (await findMarked('--flowmig-test-marker')).find((p) => p.pid === pid);
      assert.equal(found?.value, 'lab-x');
      assert.equal(found?.argv.includes('--flowmig-test-marker'), true);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});

describe('runForeground', () => {
  it('resolves with how the program ended, and leaves this process’s umask as it was', async () => {
    const before = process.umask();
    assert.deepEqual(await runForeground([process.execPath, '-e', 'process.exit(4)']), {
      code: 4,
      signal: null,
    });
    assert.deepEqual(
      await runForeground([process.execPath, '-e', 'process.kill(process.pid, "SIGTERM")']),
      { code: null, signal: 'SIGTERM' },
    );
    assert.equal(process.umask(), before);
  });
});
