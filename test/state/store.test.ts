import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { FlowmigError } from '../../src/errors.js';
import { DEFAULT_STATE_DIR, StateStore, stateDirFrom } from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

describe('StateStore', () => {
  let root = '';
  let n = 0;
  /** A fresh store in its own directory (which does not exist yet). */
  const fresh = () => new StateStore(join(root, `store-${n++}`, 'nested'));

  before(async () => {
    root = await tempDir('store');
  });
  after(async () => {
    await removeDir(root);
  });

  it('keeps each lab in <dir>/<id>.json', () => {
    const store = new StateStore('/run/flowmig');
    assert.equal(store.path('t1-default'), '/run/flowmig/t1-default.json');
  });

  it('reads undefined for a lab it has no file for (even without a directory)', async () => {
    assert.equal(await fresh().read('default'), undefined);
  });

  it('writes and reads back a state, creating the directory', async () => {
    const store = fresh();
    const state = stateOf(referenceLab({ prefix: 't1-' }), {
      lastMigration: {
        flow: 'fe00::1',
        from: 'C',
        to: 'D',
        at: '2026-01-01T00:00:01.000Z',
        totalMs: 1.5,
        ruleMs: 1,
        conntrackMs: 0.5,
        conntrackDeleted: 2,
      },
      migrations: 1,
    });
    await store.write(state);
    const read = await store.read('t1-default');
    assert.ok(read);
    const { updatedAt, ...rest } = read;
    const { updatedAt: _old, ...expected } = state;
    assert.deepEqual(rest, expected);
    assert.ok(!Number.isNaN(Date.parse(updatedAt)), 'updatedAt is a timestamp');
    assert.notEqual(updatedAt, state.updatedAt, 'write stamps updatedAt');
  });

  it('keeps flow names through a round trip', async () => {
    const store = fresh();
    const state = stateOf(referenceLab(), {
      flows: [{ name: 'web', address: 'fe00::1', initiator: 'A', responder: 'D' }],
    });
    await store.write(state);
    assert.deepEqual((await store.read('default'))?.flows, state.flows);
  });

  it('hands every reader its own object and arrays; flow records are frozen and shared', async () => {
    const store = fresh();
    await store.write(stateOf(referenceLab()));
    const a = await store.read('default');
    const b = await store.read('default');
    assert.ok(a && b);
    assert.notEqual(a, b);
    assert.notEqual(a.flows, b.flows);
    assert.ok(a.flows[0]);
    assert.equal(a.flows[0], b.flows[0], 'one record, shared');
    assert.throws(() => {
      (a.flows[0] as { responder: string }).responder = 'D';
    }, TypeError);
    a.flows[0] = { ...a.flows[0], responder: 'D' };
    a.flows.push({ address: 'fe00::9', initiator: 'A', responder: 'C' });
    a.created.push('X');
    a.migrations = 9;
    const c = await store.read('default');
    assert.equal(c?.flows[0]?.responder, 'C');
    assert.equal(c?.flows.length, 1);
    assert.equal(c?.created.includes('X'), false);
    assert.equal(c?.migrations, 0);
  });

  it('keeps its own copy of a written state: the writer may go on changing it', async () => {
    const store = fresh();
    const state = stateOf(referenceLab());
    await store.write(state);
    assert.ok(state.flows[0]);
    state.flows[0].responder = 'D';
    state.created.push('X');
    const read = await store.read('default');
    assert.equal(read?.flows[0]?.responder, 'C');
    assert.equal(read?.created.includes('X'), false);
  });

  it('sees a change another process (another store) made to the file', async () => {
    const dir = join(root, `shared-${n++}`);
    const mine = new StateStore(dir);
    const theirs = new StateStore(dir);
    await mine.write(stateOf(referenceLab()));
    assert.equal((await mine.read('default'))?.migrations, 0);
    const state = await theirs.read('default');
    assert.ok(state);
    state.migrations = 5;
    await theirs.write(state);
    assert.equal((await mine.read('default'))?.migrations, 5);
    await writeFile(mine.path('default'), 'not json');
    await assert.rejects(mine.read('default'), FlowmigError);
  });

  it('writes a large state (over 1,000 flows) without indentation', async () => {
    const store = fresh();
    const flows = Array.from({ length: 1_001 }, (_, i) => ({
      address: `fe00::${(i + 1).toString(16)}`,
      initiator: 'A',
      responder: 'C',
    }));
    await store.write(stateOf(referenceLab(), { flows }));
    const text = await readFile(store.path('default'), 'utf8');
    assert.equal(text.split('\n').length, 2, 'one line and the final newline');
    assert.equal((await store.read('default'))?.flows.length, 1_001);
  });

  it('replaces the file atomically, leaving no temporary file', async () => {
    const store = fresh();
    const state = stateOf(referenceLab());
    await store.write(state);
    await store.write({ ...state, migrations: 7 });
    assert.deepEqual(await readdir(store.dir), ['default.json']);
    assert.equal((await store.read('default'))?.migrations, 7);
    const text = await readFile(store.path('default'), 'utf8');
    assert.ok(text.endsWith('}\n'));
  });

  it('lists the labs with a state file, sorted, ignoring other files', async () => {
    const store = fresh();
    assert.deepEqual(await store.list(), []);
    await store.write(stateOf(referenceLab({ prefix: 'zz-' })));
    await store.write(stateOf(referenceLab({ prefix: 'aa-' })));
    await store.write(stateOf(referenceLab()));
    await writeFile(join(store.dir, 'notes.txt'), 'x');
    await writeFile(join(store.dir, 'default.json.123.tmp'), '{');
    await writeFile(join(store.dir, 'bad name.json'), '{}');
    await mkdir(join(store.dir, 'default.lock'));
    assert.deepEqual(await store.list(), ['aa-default', 'default', 'zz-default']);
  });

  it('lists a lab whose id is a 16-character prefix plus a 32-character name', async () => {
    const store = fresh();
    const lab = referenceLab({ prefix: `${'p'.repeat(15)}-`, name: 'n'.repeat(32) });
    assert.equal(lab.id.length, 48);
    await store.write(stateOf(lab));
    assert.ok(await store.read(lab.id), 'the state is there');
    assert.deepEqual(await store.list(), [lab.id]);
  });

  it('removes a state file, and removing a missing one is fine', async () => {
    const store = fresh();
    await store.write(stateOf(referenceLab()));
    await store.remove('default');
    assert.equal(await store.read('default'), undefined);
    await store.remove('default');
    assert.deepEqual(await store.list(), []);
  });

  for (const [what, text] of [
    ['not JSON', 'this is not json'],
    ['truncated JSON', '{"version": 1, "id": "default"'],
    ['JSON of the wrong shape', '{"version": 2, "id": "default"}'],
    ['an empty file', ''],
  ] as const) {
    it(`a damaged state file (${what}) is a FlowmigError that says how to recover`, async () => {
      const store = fresh();
      await mkdir(store.dir, { recursive: true });
      await writeFile(store.path('default'), text);
      await assert.rejects(store.read('default'), (error: unknown) => {
        assert.ok(error instanceof FlowmigError);
        assert.equal(
          error.message,
          `state file ${store.path('default')} is damaged; 'flowmig down --lab default' removes the lab by its marks in the kernel`,
        );
        return true;
      });
    });
  }

  it('withLock returns what the critical section returns and passes its errors on', async () => {
    const store = fresh();
    assert.equal(await store.withLock('default', async () => 42), 42);
    await assert.rejects(
      store.withLock('default', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    // The lock was released despite the error.
    assert.equal(await store.withLock('default', async () => 'again'), 'again');
    assert.deepEqual(await readdir(store.dir), []);
  });

  it('withLock serialises two concurrent critical sections on one lab', async () => {
    const store = fresh();
    const log: string[] = [];
    const section = (name: string) =>
      store.withLock('default', async () => {
        log.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 50));
        log.push(`${name} out`);
        return name;
      });
    assert.deepEqual(await Promise.all([section('a'), section('b')]), ['a', 'b']);
    const first = log[0]?.split(' ')[0];
    const second = first === 'a' ? 'b' : 'a';
    assert.deepEqual(log, [`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
  });

  it('withLock does not make different labs wait for each other', async () => {
    const store = fresh();
    let enteredB!: () => void;
    let failedB!: (e: unknown) => void;
    const bInside = new Promise<void>((resolve, reject) => {
      enteredB = resolve;
      failedB = reject;
    });
    // A holds its lock until B is inside its own: only possible if the locks are per lab.
    const a = store.withLock('lab-a', async () => {
      await bInside;
      return 'a';
    });
    const b = store.withLock('lab-b', async () => {
      enteredB();
      return 'b';
    });
    b.catch(failedB);
    assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
  });
});

describe('stateDirFrom', () => {
  const saved = process.env.FLOWMIG_STATE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.FLOWMIG_STATE_DIR;
    else process.env.FLOWMIG_STATE_DIR = saved;
  });

  it('prefers the option, then $FLOWMIG_STATE_DIR, then /run/flowmig', () => {
    process.env.FLOWMIG_STATE_DIR = '/tmp/from-env';
    assert.equal(stateDirFrom('/tmp/option'), '/tmp/option');
    assert.equal(stateDirFrom(undefined), '/tmp/from-env');
    delete process.env.FLOWMIG_STATE_DIR;
    assert.equal(stateDirFrom(undefined), DEFAULT_STATE_DIR);
    assert.equal(DEFAULT_STATE_DIR, '/run/flowmig');
  });
});

describe('StateStore: only its owner may read the state directory and what is in it', () => {
  let root = '';
  let n = 0;
  before(async () => {
    root = await tempDir('store-modes');
  });
  after(async () => {
    await removeDir(root);
  });

  /** Runs `fn` with umask 0, so a mode flowmig does not set explicitly shows as world-readable. */
  async function withUmask0<T>(fn: () => Promise<T>): Promise<T> {
    const saved = process.umask(0);
    try {
      return await fn();
    } finally {
      process.umask(saved);
    }
  }
  const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

  it('creates the directory 0700 and writes state files (temporary, then renamed) 0600', async () => {
    const store = new StateStore(join(root, `s${n++}`, 'state'));
    await withUmask0(() => store.write(stateOf(referenceLab())));
    assert.equal(await modeOf(store.dir), 0o700);
    assert.equal(await modeOf(store.path('default')), 0o600);
  });

  it('tightens an existing directory to 0700, and a state file an older writer left 0644', async () => {
    const dir = join(root, `s${n++}`);
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    const store = new StateStore(dir);
    await writeFile(store.path('default'), '{}', { mode: 0o644 });
    await chmod(store.path('default'), 0o644);
    // A temporary file a writer killed mid-write left at this process's name: reused, not trusted.
    const stale = `${store.path('default')}.${process.pid}.tmp`;
    await writeFile(stale, 'half', { mode: 0o644 });
    await chmod(stale, 0o644);
    await withUmask0(() => store.write(stateOf(referenceLab())));
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(store.path('default')), 0o600);
    assert.deepEqual(await readdir(dir), ['default.json']);
  });

  it('makes the lock directory 0700', async () => {
    const store = new StateStore(join(root, `s${n++}`));
    const mode = await withUmask0(() =>
      store.withLock('default', () => modeOf(join(store.dir, 'default.lock'))),
    );
    assert.equal(mode, 0o700);
    assert.equal(await modeOf(store.dir), 0o700);
  });

  it('refuses a directory others may write to (sticky or o+w) and leaves its mode alone', async () => {
    for (const shared of [0o1777, 0o777]) {
      const dir = join(root, `s${n++}`);
      await mkdir(dir);
      await chmod(dir, shared);
      const store = new StateStore(dir);
      await assert.rejects(
        store.write(stateOf(referenceLab())),
        (e: Error) => e instanceof FlowmigError && /is shared .*--state-dir/.test(e.message),
      );
      await assert.rejects(
        store.withLock('default', async () => {}),
        FlowmigError,
      );
      assert.equal(await modeOf(dir), shared);
      assert.deepEqual(await readdir(dir), []);
    }
  });
});
