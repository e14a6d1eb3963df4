// A writer killed with SIGKILL at random moments while it commits: every commit it reported done
// is in the state, the state is exactly the first m commits for some m, and the files always read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StateStore } from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';
import { flowsAfter } from './commit-plan.js';

const CHILD = fileURLToPath(new URL('./commit-child.js', import.meta.url));
const FLOWS = 20;
const KILLS = 25;

/**
 * Starts the child, waits until it is ready, lets it commit for `ms`, kills it with SIGKILL;
 * resolves with the commit numbers it printed.
 */
function runAndKill(dir: string, ms: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, 'default', String(FLOWS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.startsWith('ready\n'))
        timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`child ended by itself (${code}): ${err}`));
        return;
      }
      // A line cut short by the kill was never complete: only whole lines count.
      const done = out.split('\n').slice(1, -1).map(Number);
      resolve(done);
    });
  });
}

describe('StateStore: a committing process killed at random moments', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('crash');
  });
  after(async () => {
    await removeDir(dir);
  });

  it(`keeps every commit reported done, and only whole commits (${KILLS} kills)`, async () => {
    const base = stateOf(referenceLab(), { flows: flowsAfter(0, FLOWS) });
    await new StateStore(dir).write(base);
    let reported = 0;
    let committed = 0;
    for (let i = 0; i < KILLS; i++) {
      const done = await runAndKill(dir, Math.random() * 60);
      for (const [j, k] of done.entries()) assert.equal(k, committed + 1 + j, 'numbers in order');
      reported = Math.max(reported, ...done);
      const state = await new StateStore(dir).read('default');
      assert.ok(state, 'the files read');
      const m = state.migrations;
      assert.ok(m >= reported, `commit ${reported} was reported done; the state has ${m}`);
      // The commit the kill interrupted may have landed (its line written, not yet reported).
      assert.ok(m <= Math.max(reported, committed) + 1, `${m} after ${reported}`);
      assert.deepEqual(state.flows, flowsAfter(m, FLOWS), `exactly commits 1..${m}`);
      committed = m;
    }
    assert.ok(reported > KILLS, `the children committed (${reported} commits)`);
    const names = await readdir(dir);
    assert.ok(
      names.every((n) => /^default\.(json|journal|json\.\d+\.tmp)$/.test(n)),
      names.join(' '),
    );
  });
});
