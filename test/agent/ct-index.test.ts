import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConntrackIndex } from '../../src/agent/ct-index.js';
import type { CtEntry } from '../../src/netlink/conntrack.js';

/** An entry: `key` stands in for the tuple bytes (unique per connection). */
function entry(origDst: string, key: string, replySrc?: string): CtEntry {
  return { origDst, replySrc, key: `${origDst}|${key}`, tuple: Buffer.from(`${origDst}|${key}`) };
}

const keys = (list: readonly CtEntry[]) => list.map((e) => e.key).sort();

describe('ConntrackIndex', () => {
  it('starts empty and clean', () => {
    const ix = new ConntrackIndex();
    assert.equal(ix.size, 0);
    assert.equal(ix.dirty, false);
    assert.deepEqual(ix.take('fe00::1'), []);
  });

  it('add counts each distinct tuple once', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::1', 'b'));
    ix.add(entry('fe00::2', 'a'));
    assert.equal(ix.size, 3);
    ix.add(entry('fe00::1', 'a')); // the same tuple again (a repeated NEW event)
    assert.equal(ix.size, 3);
  });

  it('adding the same tuple again replaces the stored entry', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a', 'fc01::1'));
    ix.add(entry('fe00::1', 'a', 'fc02::2'));
    const [e, more] = ix.take('fe00::1');
    assert.equal(more, undefined);
    assert.equal(e?.replySrc, 'fc02::2');
  });

  it('remove deletes one tuple; removing an unknown one changes nothing', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::1', 'b'));
    ix.remove(entry('fe00::1', 'a'));
    assert.equal(ix.size, 1);
    ix.remove(entry('fe00::1', 'a'));
    ix.remove(entry('fe00::1', 'zzz'));
    ix.remove(entry('fe00::9', 'b'));
    assert.equal(ix.size, 1);
    assert.deepEqual(keys(ix.take('fe00::1')), ['fe00::1|b']);
    assert.equal(ix.size, 0);
  });

  it('remove of the last tuple of a destination, then add again, counts correctly', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.remove(entry('fe00::1', 'a'));
    assert.equal(ix.size, 0);
    assert.deepEqual(ix.take('fe00::1'), []);
    ix.add(entry('fe00::1', 'a'));
    assert.equal(ix.size, 1);
    assert.deepEqual(keys(ix.take('fe00::1')), ['fe00::1|a']);
  });

  it('take returns every entry of the destination and only those, and removes them', () => {
    const ix = new ConntrackIndex();
    for (const k of ['a', 'b', 'c']) ix.add(entry('fe00::1', k));
    ix.add(entry('fe00::2', 'a'));
    ix.add(entry('fe00::10', 'a'));
    const taken = ix.take('fe00::1');
    assert.deepEqual(keys(taken), ['fe00::1|a', 'fe00::1|b', 'fe00::1|c']);
    assert.equal(ix.size, 2);
    assert.deepEqual(ix.take('fe00::1'), [], 'a second take finds nothing');
    assert.deepEqual(keys(ix.take('fe00::2')), ['fe00::2|a']);
    assert.deepEqual(keys(ix.take('fe00::10')), ['fe00::10|a']);
    assert.equal(ix.size, 0);
  });

  it('take with keep leaves the kept entries in the index', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'old1', 'fc01::1'));
    ix.add(entry('fe00::1', 'new', 'fc02::2'));
    ix.add(entry('fe00::1', 'old2', 'fc01::1'));
    ix.add(entry('fe00::1', 'none'));
    const taken = ix.take('fe00::1', (e) => e.replySrc === 'fc02::2');
    assert.deepEqual(keys(taken), ['fe00::1|none', 'fe00::1|old1', 'fe00::1|old2']);
    assert.equal(ix.size, 1);
    assert.deepEqual(keys(ix.take('fe00::1')), ['fe00::1|new']);
    assert.equal(ix.size, 0);
  });

  it('take with keep that keeps everything returns nothing and keeps the size', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::1', 'b'));
    assert.deepEqual(
      ix.take('fe00::1', () => true),
      [],
    );
    assert.equal(ix.size, 2);
    ix.remove(entry('fe00::1', 'a'));
    ix.remove(entry('fe00::1', 'b'));
    assert.equal(ix.size, 0);
  });

  it('take with keep that keeps nothing behaves like take without it', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::1', 'b'));
    assert.equal(ix.take('fe00::1', () => false).length, 2);
    assert.equal(ix.size, 0);
  });

  it('keep is asked only about the destination’s entries', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::2', 'b'));
    const asked: string[] = [];
    ix.take('fe00::1', (e) => {
      asked.push(e.key);
      return false;
    });
    assert.deepEqual(asked, ['fe00::1|a']);
  });

  it('a removed entry is not taken', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.add(entry('fe00::1', 'b'));
    ix.remove(entry('fe00::1', 'b'));
    assert.deepEqual(keys(ix.take('fe00::1')), ['fe00::1|a']);
  });

  it('reset replaces everything, deduplicates, and clears dirty', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'stale'));
    ix.add(entry('fe00::3', 'stale'));
    ix.dirty = true;
    ix.reset([entry('fe00::1', 'a'), entry('fe00::2', 'b'), entry('fe00::1', 'a')]);
    assert.equal(ix.dirty, false);
    assert.equal(ix.size, 2);
    assert.deepEqual(ix.take('fe00::3'), []);
    assert.deepEqual(keys(ix.take('fe00::1')), ['fe00::1|a']);
    assert.deepEqual(keys(ix.take('fe00::2')), ['fe00::2|b']);
  });

  it('reset accepts any iterable, including an empty one', () => {
    const ix = new ConntrackIndex();
    ix.add(entry('fe00::1', 'a'));
    ix.reset([]);
    assert.equal(ix.size, 0);
    function* gen() {
      yield entry('fe00::1', 'x');
      yield entry('fe00::1', 'y');
    }
    ix.reset(gen());
    assert.equal(ix.size, 2);
  });

  it('dirty is only a flag: add/remove/take leave it alone', () => {
    const ix = new ConntrackIndex();
    ix.dirty = true;
    ix.add(entry('fe00::1', 'a'));
    ix.remove(entry('fe00::1', 'a'));
    ix.take('fe00::1');
    assert.equal(ix.dirty, true);
  });

  it('size stays equal to what take can return, through a mixed sequence', () => {
    const ix = new ConntrackIndex();
    const live = new Set<string>();
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const e = entry(`fe00::${rnd(5) + 1}`, String(rnd(20)));
      const op = rnd(3);
      if (op < 2) {
        ix.add(e);
        live.add(e.key);
      } else {
        ix.remove(e);
        live.delete(e.key);
      }
      assert.equal(ix.size, live.size);
    }
    const all = [1, 2, 3, 4, 5].flatMap((n) => ix.take(`fe00::${n}`));
    assert.deepEqual(keys(all), [...live].sort());
    assert.equal(ix.size, 0);
  });
});
