// What commits cost on disk at 100,000 flows: 1,000 single-flow commits append 1,000 short lines;
// the snapshot is not written again (bytes, not time).
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { LabState } from '../../src/state/store.js';
import { StateStore } from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

const FLOWS = 100_000;
const COMMITS = 1_000;

const flow = (i: number, responder: string) => ({
  address: `fe00::1:${i.toString(16)}`,
  initiator: 'A',
  responder,
});

describe('StateStore at 100,000 flows', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('size');
  });
  after(async () => {
    await removeDir(dir);
  });

  it(`${COMMITS} single-flow commits append ${COMMITS} short lines, not snapshots`, async () => {
    const store = new StateStore(dir);
    const flows: LabState['flows'] = Array.from({ length: FLOWS }, (_, i) => flow(i, 'C'));
    await store.write(stateOf(referenceLab(), { flows }));
    const state = await store.read('default');
    assert.ok(state);
    const snapshot = await stat(store.path('default'), { bigint: true });
    for (let k = 1; k <= COMMITS; k++) {
      const f = flow((k * 97) % FLOWS, 'D');
      await store.commit(state, {
        flows: [f],
        migrations: k,
        lastMigration: {
          flow: f.address,
          from: 'C',
          to: 'D',
          at: new Date().toISOString(),
          totalMs: 0.1,
          ruleMs: 0.05,
          conntrackMs: 0.05,
          conntrackDeleted: 1,
          path: 'in-process',
        },
      });
    }
    const after = await stat(store.path('default'), { bigint: true });
    assert.equal(after.ino, snapshot.ino, 'the snapshot was not replaced');
    assert.equal(after.size, snapshot.size);
    assert.equal(after.mtimeNs, snapshot.mtimeNs);
    const journal = await readFile(store.journalPath('default'));
    const lines = journal.toString('utf8').split('\n').slice(0, -1);
    assert.equal(lines.length, COMMITS);
    const longest = Math.max(...lines.map((l) => Buffer.byteLength(l)));
    assert.ok(longest < 400, `a line is short (longest ${longest} bytes)`);
    assert.ok(
      journal.length * 20 < Number(snapshot.size),
      `${journal.length} journal bytes against a ${snapshot.size}-byte snapshot`,
    );
    const read = await new StateStore(dir).read('default');
    assert.equal(read?.migrations, COMMITS);
    assert.equal(read?.flows.length, FLOWS);
    assert.equal(read?.flows[97]?.responder, 'D');
    assert.equal(read?.flows[98]?.responder, 'C');
    assert.deepEqual(read, await store.read('default'));
  });
});
