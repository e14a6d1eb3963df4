// The labs' locks: taken per change, held for long (the daemon), lent to another holder and taken
// back. Two LabLocks on one directory stand for two processes (the lock is a directory on disk).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabLocks, type LockLender } from '../../src/state/lock.js';
import { removeDir, tempDir } from '../support/tmp.js';

describe('LabLocks', () => {
  let root = '';
  let n = 0;
  /** A fresh directory for one test's locks. */
  const dirFor = () => join(root, `d${n++}`);

  before(async () => {
    root = await tempDir('locks');
  });
  after(async () => {
    await removeDir(root);
  });

  it('takes the lock per change and leaves nothing after it', async () => {
    const dir = dirFor();
    await mkdir(dir, { recursive: true });
    const locks = new LabLocks((id) => join(dir, id));
    const seen = await locks.withLock('lab', async () => existsSync(join(dir, 'lab.lock')));
    assert.equal(seen, true);
    assert.equal(existsSync(join(dir, 'lab.lock')), false);
  });

  it('held: changes run one after another in call order, the lock stays until release', async () => {
    const dir = dirFor();
    await mkdir(dir, { recursive: true });
    const locks = new LabLocks((id) => join(dir, id));
    await locks.hold('lab');
    assert.equal(locks.holds('lab'), true);
    const order: string[] = [];
    const change = (name: string, ms: number) =>
      locks.withLock('lab', async () => {
        order.push(`${name}:start`);
        await sleep(ms);
        order.push(`${name}:end`);
        return name;
      });
    const results = await Promise.all([change('a', 20), change('b', 1), change('c', 5)]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(order, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    assert.equal(existsSync(join(dir, 'lab.lock')), true, 'held between changes');
    // A failed change does not stop the next one.
    await assert.rejects(
      locks.withLock('lab', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await locks.withLock('lab', async () => 'after'), 'after');
    await locks.release('lab');
    assert.equal(locks.holds('lab'), false);
    assert.equal(existsSync(join(dir, 'lab.lock')), false);
  });

  it('lends the held lock to another holder that asks, and takes it back after', async () => {
    const dir = dirFor();
    await mkdir(dir, { recursive: true });
    const owner = new LabLocks((id) => join(dir, id));
    await owner.hold('lab');
    const events: string[] = [];
    let asked = 0;
    // What the daemon does on 'lend': release after its changes, take back when the loan ends.
    const lender: LockLender = async (id) => {
      asked++;
      let giveBack = () => {};
      const back = new Promise<void>((r) => {
        giveBack = () => {
          events.push('given back');
          r();
        };
      });
      await owner.lend(id, back);
      events.push('lent');
      return { giveBack };
    };
    const borrower = new LabLocks((id) => join(dir, id), lender);
    // A change of the owner under way when the borrower asks: the loan waits for it.
    const before = owner.withLock('lab', async () => {
      await sleep(30);
      events.push('owner change 1');
    });
    await sleep(5);
    const borrowed = borrower.withLock('lab', async () => {
      events.push('borrower change');
      await sleep(30);
      events.push('borrower done');
    });
    await sleep(10);
    // Asked while lent: waits until the borrower gave the lock back.
    const afterLoan = owner.withLock('lab', async () => {
      events.push('owner change 2');
      return existsSync(join(dir, 'lab.lock'));
    });
    await Promise.all([before, borrowed]);
    assert.equal(await afterLoan, true, 'the owner holds the lock again');
    assert.equal(asked, 1);
    assert.deepEqual(events, [
      'owner change 1',
      'lent',
      'borrower change',
      'borrower done',
      'given back',
      'owner change 2',
    ]);
    assert.equal(owner.holds('lab'), true);
    await owner.release('lab');
    assert.equal(existsSync(join(dir, 'lab.lock')), false);
  });

  it('a borrower whose lender answers nothing waits for the lock as it is', async () => {
    const dir = dirFor();
    await mkdir(dir, { recursive: true });
    const first = new LabLocks((id) => join(dir, id));
    const second = new LabLocks(
      (id) => join(dir, id),
      async () => undefined,
    );
    const order: string[] = [];
    const a = first.withLock('lab', async () => {
      order.push('first');
      await sleep(40);
    });
    await sleep(5);
    await second.withLock('lab', async () => {
      order.push('second');
    });
    await a;
    assert.deepEqual(order, ['first', 'second']);
  });

  it('lend of a lock this process does not hold resolves at once', async () => {
    const locks = new LabLocks((id) => join(dirFor(), id));
    await locks.lend('lab', new Promise(() => {}));
    assert.equal(locks.holds('lab'), false);
  });
});
