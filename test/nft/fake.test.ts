// The in-memory ruleset: transactions applied as the kernel does (all or nothing, its refusals),
// listings and dumps, and chains run on packets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeRuleset, NftError, type PacketView } from '../../src/nft/fake.js';
import {
  type Chain,
  concat,
  counter,
  dnat,
  ip6,
  l4proto,
  lookup,
  mangle,
  mapOf,
  markSet,
  notrack,
  type SetRef,
  type Table,
} from '../../src/nft/objects.js';
import {
  addElements,
  addTable,
  declareTable,
  deleteElements,
  deleteTable,
  flushSet,
  type Transaction,
} from '../../src/nft/transaction.js';
import { at } from '../support/labs.js';

const T: Table = {
  family: 'ip6',
  name: 't',
  sets: [
    { name: 's', key: ['ipv6_addr', 'ipv6_addr'], flags: ['timeout'] },
    { name: 'm', key: ['ipv6_addr'], value: 'ipv6_addr' },
  ],
  chains: [
    {
      name: 'pre',
      base: { type: 'filter', hook: 'prerouting', priority: { name: 'raw' }, policy: 'accept' },
      rules: [
        [l4proto('!=', 'tcp'), lookup(concat(ip6('saddr'), ip6('daddr')), 's'), notrack, counter],
        [l4proto('==', 'tcp'), markSet(7)],
        [mangle('daddr', mapOf(ip6('daddr'), 'm')), counter],
      ],
    },
    {
      name: 'nat',
      base: { type: 'nat', hook: 'prerouting', priority: { name: 'dstnat' }, policy: 'accept' },
      rules: [[dnat(mapOf(ip6('daddr'), 'm'))], [counter]],
    },
  ],
};
const S: SetRef = { family: 'ip6', name: 't', set: 's', kind: 'set' };
const M: SetRef = { family: 'ip6', name: 't', set: 'm', kind: 'map' };

const fresh = (tx: Transaction = []) => {
  const r = new FakeRuleset();
  r.apply([addTable(T), ...tx]);
  return r;
};

const refused = (r: FakeRuleset, tx: Transaction, reason: RegExp) =>
  assert.throws(
    () => r.apply(tx),
    (e: unknown) => e instanceof NftError && reason.test(e.message),
  );

describe('FakeRuleset.apply', () => {
  it('declares a table; nft lists nothing for a missing one', () => {
    const r = fresh();
    assert.equal(r.has(T), true);
    assert.equal(r.list({ family: 'ip6', name: 'other' }), undefined);
  });

  it('declaring into a table that is there keeps its elements and appends the rules again', () => {
    const r = fresh([addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }])]);
    r.apply([addTable(T)]);
    assert.deepEqual(r.elements(M), [{ key: ['fe00::1'], value: 'fc00::1' }]);
    const rules = (JSON.parse(r.list(T) ?? '') as { nftables: object[] }).nftables.filter(
      (i) => 'rule' in i,
    );
    assert.equal(rules.length, 10, 'five rules declared twice');
    // An empty declaration (`table ip6 t {}`) changes nothing.
    const before = r.list(T);
    r.apply([declareTable(T)]);
    assert.equal(r.list(T), before);
  });

  it('a set or chain declared again differently is refused', () => {
    const r = fresh();
    refused(
      r,
      [addTable({ ...T, sets: [{ name: 's', key: ['ipv6_addr'] }], chains: [] })],
      /File exists/,
    );
    const other: Chain = {
      name: 'pre',
      base: { type: 'filter', hook: 'forward', priority: { name: 'raw' }, policy: 'accept' },
      rules: [],
    };
    refused(r, [addTable({ ...T, sets: [], chains: [other] })], /File exists/);
  });

  it('deletes, flushes and element verbs on what is missing are refused (No such file or directory)', () => {
    const r = new FakeRuleset();
    refused(r, [deleteTable(T)], /No such file or directory\ndelete table ip6 t$/);
    refused(r, [flushSet(M)], /No such file or directory\nflush map ip6 t m$/);
    refused(r, [addElements(M, [{ key: ['fe00::1'], value: 'x' }])], /No such file or directory/);
    const t = fresh();
    refused(
      t,
      [deleteElements(M, [{ key: ['fe00::9'] }])],
      /delete element ip6 t m \{ fe00::9 \}$/,
    );
    refused(t, [flushSet({ ...S, set: 'nope' })], /No such file or directory/);
  });

  it('elements must fit their set: key length, value for a map only, timeout with the flag only', () => {
    const r = fresh();
    refused(r, [addElements(S, [{ key: ['fc01::1'] }])], /Invalid argument/);
    refused(r, [addElements(S, [{ key: ['fc01::1', 'fe00::1'], value: 'x' }])], /Invalid argument/);
    refused(r, [addElements(M, [{ key: ['fe00::1'] }])], /Invalid argument/);
    refused(
      r,
      [addElements(M, [{ key: ['fe00::1'], value: 'x', timeoutMs: 5 }])],
      /Invalid argument/,
    );
    // A set named as a map (or the other way round) is not found.
    refused(r, [flushSet({ ...S, kind: 'map' })], /No such file or directory/);
  });

  it('all or nothing: a refused verb undoes the ones before it, tables and elements alike', () => {
    const r = fresh([addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }])]);
    const before = r.list(T);
    const u: Table = { family: 'ip6', name: 'u', sets: [], chains: [] };
    refused(
      r,
      [
        addTable(u),
        flushSet(M),
        addElements(S, [{ key: ['fc01::1', 'fe00::1'] }]),
        deleteTable(T),
        deleteElements(M, [{ key: ['fe00::1'] }]),
      ],
      /No such file or directory/,
    );
    assert.equal(r.list(T), before);
    assert.equal(r.has(u), false);
  });

  it('deleting a table and declaring it again in one transaction starts it empty', () => {
    const r = fresh([addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }])]);
    r.apply([declareTable(T), deleteTable(T), addTable(T)]);
    assert.deepEqual(r.elements(M), []);
  });
});

describe('FakeRuleset: element timeouts', () => {
  it('an element with a timeout is listed with its time left and goes when its time has come', () => {
    const r = fresh();
    r.apply([addElements(S, [{ key: ['fc01::1', 'fe00::1'], timeoutMs: 5000 }])], 1000);
    assert.deepEqual(r.elements(S, 3000), [{ key: ['fc01::1', 'fe00::1'], timeoutMs: 3000 }]);
    const set = (
      JSON.parse(r.list(T, 3000) ?? '') as { nftables: { set?: { elem?: unknown } }[] }
    ).nftables.find((i) => i.set)?.set;
    assert.deepEqual(set?.elem, [
      { elem: { val: { concat: ['fc01::1', 'fe00::1'] }, timeout: 5, expires: 3 } },
    ]);
    assert.equal(r.elements(S, 5999).length, 1);
    assert.equal(r.elements(S, 6000).length, 0);
    // Gone: a delete of it is refused.
    refused(r, [deleteElements(S, [{ key: ['fc01::1', 'fe00::1'] }])], /No such file or directory/);
  });
});

describe('FakeRuleset.dump', () => {
  it('the ruleset as nft text; loaded into an empty ruleset it lists the same', () => {
    const r = fresh([
      addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }]),
      addElements(S, [{ key: ['fc01::1', 'fe00::1'] }]),
    ]);
    const text = r.dump();
    assert.match(text, /^table ip6 t \{$/m);
    assert.match(text, /^add element ip6 t m \{ fe00::1 : fc00::1 \}$/m);
    assert.match(text, /^add element ip6 t s \{ fc01::1 \. fe00::1 \}$/m);
    assert.equal(new FakeRuleset().dump(), '');
  });
});

describe('FakeRuleset.run', () => {
  const packet = (p: Partial<PacketView> = {}): PacketView => ({
    src: 'fc01::1',
    dst: 'fe00::1',
    proto: 'udp',
    length: 100,
    mark: 0,
    notrack: false,
    ...p,
  });
  const pre = () => at(fresh().hooked('prerouting'), 0);

  it('lists the hooked chains of a hook in priority order', () => {
    assert.deepEqual(
      fresh()
        .hooked('prerouting')
        .map((c) => [c.chain, c.type, c.priority]),
      [
        ['pre', 'filter', -300],
        ['nat', 'nat', -100],
      ],
    );
    assert.deepEqual(fresh().hooked('forward'), []);
  });

  it('a rule whose match fails does nothing; the next rules still run', () => {
    const r = fresh([addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }])]);
    const p = packet();
    r.run(pre(), p);
    // Not in the set: no notrack; UDP: no mark; the map rewrites the destination.
    assert.deepEqual([p.notrack, p.mark, p.dst, p.rewritten], [false, 0, 'fc00::1', true]);
  });

  it('statements run in order: notrack, counters count what reaches them', () => {
    const r = fresh([
      addElements(S, [{ key: ['fc01::1', 'fe00::1'] }]),
      addElements(M, [{ key: ['fe00::1'], value: 'fc00::1' }]),
    ]);
    const p = packet();
    r.run(pre(), p);
    assert.equal(p.notrack, true);
    const counters = (
      JSON.parse(r.list(T) ?? '') as { nftables: { rule?: { expr: object[] } }[] }
    ).nftables.flatMap((i) => i.rule?.expr.filter((x) => 'counter' in x) ?? []);
    assert.deepEqual(counters, [
      { counter: { packets: 1, bytes: 100 } },
      { counter: { packets: 1, bytes: 100 } },
      { counter: { packets: 0, bytes: 0 } },
    ]);
  });

  it('a map lookup that finds nothing ends the rule; a mark is set on TCP', () => {
    const r = fresh();
    const p = packet({ proto: 'tcp' });
    r.run(pre(), p);
    assert.deepEqual([p.mark, p.dst, p.rewritten], [7, 'fe00::1', undefined]);
  });

  it('a nat statement gives the verdict and ends the chain', () => {
    const r = fresh([addElements(M, [{ key: ['fe00::1'], value: 'fc02::2' }])]);
    const nat = at(r.hooked('prerouting'), 1);
    const p = packet();
    r.run(nat, p);
    assert.equal(p.dnat, 'fc02::2');
    const counted = (
      JSON.parse(r.list(T) ?? '') as { nftables: { rule?: { chain: string; expr: object[] } }[] }
    ).nftables
      .filter((i) => i.rule?.chain === 'nat')
      .flatMap((i) => i.rule?.expr.filter((x) => 'counter' in x) ?? []);
    assert.deepEqual(
      counted,
      [{ counter: { packets: 0, bytes: 0 } }],
      'the rule after dnat never ran',
    );
  });
});
