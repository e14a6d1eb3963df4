// StateStore's journal: commits appended and replayed, torn and bad lines, entry numbers, compaction,
// the cache's key over both files, and who sees whose changes.
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatLine, parseJournal, shouldCompact } from '../../src/state/journal.js';
import {
  DamagedStateError,
  type LabState,
  type MigrationRecord,
  StateStore,
} from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

/** n flows fe00::1:<i>, all from A to C. */
function flowsOf(n: number): LabState['flows'] {
  return Array.from({ length: n }, (_, i) => ({
    address: `fe00::1:${i.toString(16)}`,
    initiator: 'A',
    responder: 'C',
  }));
}

const moved = (i: number, to = 'D') => ({
  address: `fe00::1:${i.toString(16)}`,
  initiator: 'A',
  responder: to,
});

function record(flow: string, to: string): MigrationRecord {
  return {
    flow,
    from: 'C',
    to,
    at: '2026-01-01T00:00:01.000Z',
    totalMs: 0.1,
    ruleMs: 0.05,
    conntrackMs: 0.05,
    conntrackDeleted: 0,
    path: 'in-process',
  };
}

const lines = async (path: string) => (await readFile(path, 'utf8')).split('\n').filter(Boolean);

describe('StateStore journal', () => {
  let root = '';
  let n = 0;
  const fresh = () => new StateStore(join(root, `j-${n++}`));
  /** A store holding a lab of `flows` flows, written and read back (its view is current). */
  async function withLab(flows = 4): Promise<{ store: StateStore; state: LabState }> {
    const store = fresh();
    await store.write(stateOf(referenceLab(), { flows: flowsOf(flows) }));
    const state = await store.read('default');
    assert.ok(state);
    return { store, state };
  }

  before(async () => {
    root = await tempDir('journal');
  });
  after(async () => {
    await removeDir(root);
  });

  it('appends one line per commit, a batch of flows included, and leaves the snapshot alone', async () => {
    const { store, state } = await withLab();
    const snapshot = await stat(store.path('default'));
    const last = record('fe00::1:1', 'D');
    await store.commit(state, {
      flows: [moved(0)],
      migrations: 1,
      lastMigration: record('fe00::1:0', 'D'),
    });
    await store.commit(state, {
      flows: [moved(1), moved(2), moved(3)],
      migrations: 4,
      lastMigration: last,
    });
    const text = await lines(store.journalPath('default'));
    assert.equal(text.length, 2);
    assert.deepEqual(JSON.parse(text[1] ?? ''), {
      seq: 2,
      flows: [moved(1), moved(2), moved(3)],
      migrations: 4,
      lastMigration: last,
    });
    const now = await stat(store.path('default'));
    assert.equal(now.ino, snapshot.ino);
    assert.equal(now.mtimeMs, snapshot.mtimeMs);
    const read = await fresh0(store).read('default');
    assert.deepEqual(read?.flows, [moved(0), moved(1), moved(2), moved(3)]);
    assert.equal(read?.migrations, 4);
    assert.deepEqual(read?.lastMigration, last);
  });

  /** Another store on the same directory: another process, as far as the files go. */
  const fresh0 = (store: StateStore) => new StateStore(store.dir);

  it('replays drains set and cleared, and adds a flow it does not know by address', async () => {
    const { store, state } = await withLab(2);
    const draining = [{ flow: 'fe00::1:0', responder: 'C', until: 1_000 }];
    await store.commit(state, { draining });
    assert.deepEqual((await fresh0(store).read('default'))?.draining, draining);
    await store.commit(state, { draining: [] });
    await store.commit(state, { flows: [moved(7)] });
    const read = await fresh0(store).read('default');
    assert.equal(read?.draining, undefined);
    assert.deepEqual(
      read?.flows.map((f) => f.address),
      ['fe00::1:0', 'fe00::1:1', 'fe00::1:7'],
    );
    // The committing store's own copy took the same changes.
    assert.deepEqual(await store.read('default'), read);
  });

  it('unchangedSince: only for files as this store last read, wrote or committed them', async () => {
    const { store, state } = await withLab();
    const other = fresh0(store);
    assert.equal(other.unchangedSince('default'), false, 'never read');
    assert.ok(await other.read('default'));
    assert.equal(other.unchangedSince('default'), true);
    await store.commit(state, { flows: [moved(0)] });
    assert.equal(store.unchangedSince('default'), true, 'its own commit');
    assert.equal(other.unchangedSince('default'), false, "another's commit");
    assert.equal((await other.read('default'))?.flows[0]?.responder, 'D');
    assert.equal(other.unchangedSince('default'), true);
    await other.write({ ...state, migrations: 3 });
    assert.equal(store.unchangedSince('default'), false, "another's write");
    assert.equal((await store.read('default'))?.migrations, 3);
    await store.remove('default');
    assert.equal(store.unchangedSince('default'), false);
    assert.equal(other.unchangedSince('default'), false);
    assert.equal(await other.read('default'), undefined);
  });

  it("reads only the new lines of another process's commits, and follows its compaction", async () => {
    const { store, state } = await withLab(3);
    const other = fresh0(store);
    const theirs = await other.read('default');
    assert.ok(theirs);
    for (let k = 1; k <= 30; k++) {
      await other.commit(theirs, { flows: [moved(k % 3, k % 2 ? 'D' : 'C')], migrations: k });
      const mine = await store.read('default');
      assert.equal(mine?.migrations, k);
      assert.equal(mine?.flows[k % 3]?.responder, k % 2 ? 'D' : 'C');
    }
    // 30 lines outgrew the small snapshot: the other store compacted at least once meanwhile.
    assert.ok((await lines(store.journalPath('default')).catch(() => [])).length < 30);
    assert.deepEqual(await store.read('default'), await fresh0(store).read('default'));
    assert.ok(state);
  });

  it('ignores a torn last line, and the next commit cuts it before appending', async () => {
    for (const torn of ['{"seq":2,"flows":[{"addr', '{"seq":2,"flo\n', '\0\0\0\0']) {
      const { store, state } = await withLab();
      await store.commit(state, { flows: [moved(0)], migrations: 1 });
      await appendFile(store.journalPath('default'), torn);
      const other = fresh0(store);
      const read = await other.read('default');
      assert.equal(read?.migrations, 1, JSON.stringify(torn));
      assert.ok(read);
      await other.commit(read, { flows: [moved(1)], migrations: 2 });
      const text = await lines(store.journalPath('default'));
      assert.equal(text.length, 2);
      assert.ok(text.every((l) => JSON.parse(l).seq > 0));
      const again = await fresh0(store).read('default');
      assert.equal(again?.migrations, 2);
      assert.deepEqual(again?.flows.slice(0, 2), [moved(0), moved(1)]);
    }
  });

  it('a bad line with a good one after it is damage (DamagedStateError naming the journal)', async () => {
    const { store, state } = await withLab();
    await store.commit(state, { migrations: 1 });
    await appendFile(store.journalPath('default'), `not json\n${formatLine(2, { migrations: 2 })}`);
    await assert.rejects(fresh0(store).read('default'), (e: unknown) => {
      assert.ok(e instanceof DamagedStateError);
      assert.equal(e.path, store.journalPath('default'));
      return true;
    });
  });

  it('entry numbers: skips those the snapshot includes; out of order or missing is damage', async () => {
    const { store, state } = await withLab();
    const path = store.journalPath('default');
    // As after a crash between a snapshot (journalSeq 2) and the journal's removal.
    await store.write({ ...state, migrations: 2 });
    const snapshot = JSON.parse(await readFile(store.path('default'), 'utf8'));
    await writeFile(
      store.path('default'),
      JSON.stringify({ ...snapshot, journalSeq: 2, migrations: 2 }),
    );
    await writeFile(
      path,
      formatLine(1, { migrations: 1 }) +
        formatLine(2, { migrations: 2 }) +
        formatLine(3, { migrations: 3 }),
    );
    const read = await fresh0(store).read('default');
    assert.equal(read?.migrations, 3);
    // The next commit is number 4, whatever the lines before it.
    const writer = fresh0(store);
    const current = await writer.read('default');
    assert.ok(current);
    await writer.commit(current, { migrations: 4 });
    assert.equal(JSON.parse((await lines(path)).at(-1) ?? '').seq, 4);
    assert.equal((await fresh0(store).read('default'))?.migrations, 4);

    for (const bad of [
      formatLine(3, { migrations: 3 }) + formatLine(5, { migrations: 5 }),
      formatLine(4, { migrations: 4 }) + formatLine(3, { migrations: 3 }),
    ]) {
      await writeFile(path, bad);
      await assert.rejects(fresh0(store).read('default'), DamagedStateError, bad);
    }
  });

  it('parses lines by bytes (a torn tail and its offset)', () => {
    const good = formatLine(1, {
      flows: [{ name: 'wéb', address: 'fe00::1', initiator: 'A', responder: 'C' }],
    });
    const buf = Buffer.from(`${good}{"seq":2`);
    const parsed = parseJournal(buf, 'default', 'x');
    assert.equal(parsed.lines.length, 1);
    assert.equal(parsed.goodBytes, Buffer.byteLength(good));
    assert.equal(parsed.torn, true);
    assert.equal(parsed.lines[0]?.flows?.[0]?.name, 'wéb');
  });

  it('compacts when the journal outgrows the snapshot: a new snapshot, no journal, same state', async () => {
    const { store, state } = await withLab(4);
    const snapshot = (await stat(store.path('default'))).size;
    let k = 0;
    let journal = 0;
    let line = 0;
    for (;;) {
      k++;
      const change = {
        flows: [moved(k % 4, k % 2 ? 'D' : 'C')],
        migrations: k,
        lastMigration: record('fe00::1:0', 'D'),
      };
      line = Buffer.byteLength(formatLine(k, change));
      await store.commit(state, change);
      const size = await stat(store.journalPath('default')).then(
        (s) => s.size,
        () => undefined,
      );
      if (size === undefined) break;
      journal = size;
      assert.ok(k < 1_000, 'compacted at last');
    }
    assert.ok(
      journal <= snapshot && journal + line > snapshot,
      `${journal} + ${line} / ${snapshot}`,
    );
    const written = JSON.parse(await readFile(store.path('default'), 'utf8'));
    assert.equal(written.journalSeq, k);
    assert.equal(written.migrations, k);
    assert.deepEqual(await readdir(store.dir), ['default.json']);
    const read = await fresh0(store).read('default');
    assert.deepEqual(read, await store.read('default'));
    assert.equal(read?.migrations, k);
    // Numbering goes on after the snapshot's.
    await store.commit(state, { migrations: k + 1 });
    assert.equal(JSON.parse((await lines(store.journalPath('default')))[0] ?? '').seq, k + 1);
    assert.equal((await fresh0(store).read('default'))?.migrations, k + 1);
  });

  it('compacts after max(1,000, flows / 4) flow records, even when the lines are small', () => {
    const view = (weight: number) => ({ key: 'k', goodBytes: 10, torn: false, weight });
    assert.equal(shouldCompact(view(1_000), 100, 1e9), false);
    assert.equal(shouldCompact(view(1_001), 100, 1e9), true);
    assert.equal(shouldCompact(view(25_000), 100_000, 1e9), false);
    assert.equal(shouldCompact(view(25_001), 100_000, 1e9), true);
    assert.equal(shouldCompact({ ...view(1), goodBytes: 11 }, 100, 10), true);
  });

  it('a batch of 2,100 flows over 8,000 is past the weight bound: compacted', async () => {
    const { store, state } = await withLab(8_000);
    const batch = Array.from({ length: 700 }, (_, i) => moved(i));
    await store.commit(state, { flows: batch });
    await store.commit(state, { flows: batch.map((f) => ({ ...f, responder: 'C' })) });
    assert.equal((await lines(store.journalPath('default'))).length, 2);
    await store.commit(state, { flows: batch });
    assert.deepEqual(await readdir(store.dir), ['default.json']);
    const read = await fresh0(store).read('default');
    assert.equal(read?.flows[699]?.responder, 'D');
    assert.equal(read?.flows[700]?.responder, 'C');
  });

  it('write empties the journal, also from a store that never saw it', async () => {
    const { store, state } = await withLab();
    await store.commit(state, { migrations: 1 });
    await store.commit(state, { migrations: 2 });
    const blind = fresh0(store);
    await blind.write({ ...state, migrations: 7 });
    assert.deepEqual(await readdir(store.dir), ['default.json']);
    const written = JSON.parse(await readFile(store.path('default'), 'utf8'));
    assert.equal(written.journalSeq, 2, 'covers the entries it replaced');
    assert.equal((await store.read('default'))?.migrations, 7);
  });

  it('a commit on files another store changed writes the whole given state instead', async () => {
    const { store, state } = await withLab();
    const other = fresh0(store);
    const theirs = await other.read('default');
    assert.ok(theirs);
    await other.commit(theirs, { migrations: 5 });
    await store.commit({ ...state, migrations: 1 }, { migrations: 1 });
    assert.deepEqual(await readdir(store.dir), ['default.json']);
    assert.equal((await fresh0(store).read('default'))?.migrations, 1);
  });

  it('remove removes the journal too', async () => {
    const { store, state } = await withLab();
    await store.commit(state, { migrations: 1 });
    await writeFile(join(store.dir, `default.json.${process.pid}.tmp`), '{');
    await store.remove('default');
    assert.deepEqual(await readdir(store.dir), []);
    assert.equal(await store.read('default'), undefined);
  });

  it('the journal is 0600 whatever the umask', async () => {
    const { store, state } = await withLab();
    const saved = process.umask(0);
    try {
      await store.commit(state, { migrations: 1 });
    } finally {
      process.umask(saved);
    }
    assert.equal((await stat(store.journalPath('default'))).mode & 0o777, 0o600);
  });
});
