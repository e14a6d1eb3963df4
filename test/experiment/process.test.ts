import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
