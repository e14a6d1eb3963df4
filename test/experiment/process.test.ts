import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Background } from '../../src/experiment/process.js';

// A line-oriented helper: answers each line with its upper-case form; "quit" ends it.
const ECHO = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => { if (l === 'quit') process.exit(3); process.stdout.write(l.toUpperCase() + '\\n'); });
`;

describe('Background.request', () => {
  it('answers each request with the next whole line, in order', async () => {
    const b = Background.start([process.execPath, '-e', ECHO], { stdin: true });
    try {
      assert.equal(await b.request('one'), 'ONE');
      const [x, y] = await Promise.all([b.request('two'), b.request('three')]);
      assert.deepEqual([x, y], ['TWO', 'THREE']);
      for (let i = 0; i < 200; i++) assert.equal(await b.request(`n${i}`), `N${i}`);
    } finally {
      await b.stop();
    }
  });

  it('rejects when the program ends before answering, and when it has ended', async () => {
    const b = Background.start([process.execPath, '-e', ECHO], { stdin: true });
    try {
      await assert.rejects(b.request('quit'), /ended/);
      await assert.rejects(b.request('again'), /ended/);
      assert.equal((await b.exited).code, 3);
    } finally {
      await b.stop();
    }
  });

  it('rejects when no answer comes in time', async () => {
    const b = Background.start([process.execPath, '-e', 'setTimeout(() => {}, 60000)'], {
      stdin: true,
    });
    try {
      await assert.rejects(b.request('hello', 200), /did not answer within 200 ms/);
    } finally {
      await b.stop();
    }
  });
});

describe('Background after its exit', () => {
  it('never signals its PID again, and ends although a process it left holds its pipes', async (t) => {
    // The shell exits at once; the sleep it leaves behind keeps the shell's stdout and stderr.
    const b = Background.start(['sh', '-c', 'sleep 30 & echo $!; exit 0']);
    let orphan = 0;
    try {
      const deadline = Date.now() + 5_000;
      while (!/^\d+\n/.test(b.stdout) && Date.now() < deadline) await sleep(5);
      orphan = Number.parseInt(b.stdout, 10);
      assert.ok(orphan > 0, b.stdout);
      // Gone from /proc: reaped, so its PID may be given to any new process from now on.
      while (existsSync(`/proc/${b.pid}`) && Date.now() < deadline) await sleep(5);
      assert.equal(existsSync(`/proc/${b.pid}`), false, 'the shell exited');
      const kill = t.mock.method(process, 'kill');
      b.killNow();
      const ended = await b.stop('SIGTERM', 50);
      assert.equal(kill.mock.callCount(), 0, 'no signal to a PID that is no longer ours');
      kill.mock.restore();
      assert.deepEqual(ended, { code: 0, signal: null });
      assert.equal(b.running, false);
    } finally {
      if (orphan > 0) process.kill(orphan, 'SIGKILL');
    }
  });
});
