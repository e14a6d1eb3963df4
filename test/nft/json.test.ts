// The nft -j forms of rules, chains and sets (as nft 1.0.6 lists them), and the readers' helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLOWMIG_TABLE } from '../../src/engines/nftables.js';
import {
  chainJson,
  compareShapes,
  expectedShapes,
  jsonParts,
  nftShape,
  nftStyle,
  ruleJson,
  setJson,
} from '../../src/nft/json.js';
import {
  concat,
  counter,
  ctOriginal,
  ctState,
  ip6,
  l4proto,
  lookup,
  markSet,
  type Rule,
} from '../../src/nft/objects.js';
import { at } from '../support/labs.js';
import { NFT_JSON_FOREIGN_RULE, NFT_JSON_THREE_FLOWS } from '../support/nft-samples.js';

const payload = (field: string) => ({ payload: { protocol: 'ip6', field } });

describe('ruleJson', () => {
  const cases: [string, Rule, unknown[]][] = [
    [
      'l4proto == and !=',
      [l4proto('==', 'tcp'), l4proto('!=', 'tcp')],
      [
        { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
        { match: { op: '!=', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
      ],
    ],
    [
      'ct state: in the order of the state bits; one state is a plain value',
      [ctState('new', 'invalid'), ctState('new')],
      [
        { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['invalid', 'new'] } },
        { match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } },
      ],
    ],
    [
      'a lookup with the original destination',
      [lookup(concat(ip6('daddr'), ctOriginal('daddr')), 'held')],
      [
        {
          match: {
            op: '==',
            left: { concat: [payload('daddr'), { ct: { key: 'ip6 daddr', dir: 'original' } }] },
            right: '@held',
          },
        },
      ],
    ],
    [
      'a mark: a mangle of meta mark, in decimal',
      [markSet(0x464d0002)],
      [{ mangle: { key: { meta: { key: 'mark' } }, value: 1179451394 } }],
    ],
  ];
  for (const [what, rule, json] of cases) it(what, () => assert.deepEqual(ruleJson(rule), json));

  it('counters carry their values (zero unless given)', () => {
    assert.deepEqual(ruleJson([counter, counter], [{ packets: 3, bytes: 312 }]), [
      { counter: { packets: 3, bytes: 312 } },
      { counter: { packets: 0, bytes: 0 } },
    ]);
  });

  it('the flowmig table’s rules are what nft listed for them (captured)', () => {
    const listed = (
      JSON.parse(NFT_JSON_THREE_FLOWS) as { nftables: Record<string, unknown>[] }
    ).nftables.flatMap((i) => ('rule' in i ? [(i.rule as { expr: unknown }).expr] : []));
    assert.deepEqual(
      FLOWMIG_TABLE.chains.flatMap((c) => c.rules.map((r) => ruleJson(r))),
      listed,
    );
  });
});

describe('chainJson and setJson', () => {
  it('a base chain: type, hook, priority as a number, policy', () => {
    assert.deepEqual(chainJson(FLOWMIG_TABLE, at(FLOWMIG_TABLE.chains, 0), 1), {
      family: 'ip6',
      table: 'flowmig',
      name: 'prerouting',
      handle: 1,
      type: 'nat',
      hook: 'prerouting',
      prio: -100,
      policy: 'accept',
    });
    assert.deepEqual(chainJson(FLOWMIG_TABLE, { name: 'x', rules: [] }, 9), {
      family: 'ip6',
      table: 'flowmig',
      name: 'x',
      handle: 9,
    });
  });

  it('a map of a concatenation; a set with flags; a single type is a plain value', () => {
    assert.deepEqual(setJson(FLOWMIG_TABLE, at(FLOWMIG_TABLE.sets, 0), 3), {
      family: 'ip6',
      name: 'dnat_to',
      table: 'flowmig',
      type: ['ipv6_addr', 'ipv6_addr'],
      handle: 3,
      map: 'ipv6_addr',
    });
    assert.deepEqual(
      setJson(FLOWMIG_TABLE, { name: 's', key: ['ipv6_addr'], flags: ['timeout'] }, 2),
      {
        family: 'ip6',
        name: 's',
        table: 'flowmig',
        type: 'ipv6_addr',
        handle: 2,
        flags: ['timeout'],
      },
    );
  });
});

describe('expectedShapes and compareShapes', () => {
  const items = (text: string) =>
    (JSON.parse(text) as { nftables: Record<string, unknown>[] }).nftables;

  it('the declared table matches its captured listing exactly', () => {
    assert.deepEqual(
      compareShapes(items(NFT_JSON_THREE_FLOWS), 'flowmig', expectedShapes(FLOWMIG_TABLE)),
      {
        complete: true,
        foreign: 0,
      },
    );
  });

  it('a foreign rule is counted', () => {
    assert.deepEqual(
      compareShapes(items(NFT_JSON_FOREIGN_RULE), 'flowmig', expectedShapes(FLOWMIG_TABLE)),
      { complete: true, foreign: 1 },
    );
  });

  it('a rule’s shape ignores its counter values and handle', () => {
    const a = nftShape(
      { chain: 'c', handle: 1, expr: [{ counter: { packets: 1, bytes: 2 } }] },
      'rule',
    );
    const b = nftShape(
      { chain: 'c', handle: 7, expr: [{ counter: { packets: 0, bytes: 0 } }] },
      'rule',
    );
    assert.equal(a, b);
  });
});

describe('jsonParts', () => {
  const cases: [string, unknown, string[]][] = [
    ['a plain value', 'fe00::1', ['fe00::1']],
    ['a concatenation', { concat: ['fc00::1', 'fe00::1'] }, ['fc00::1', 'fe00::1']],
    ['an empty concatenation', { concat: [] }, []],
    ['null', null, []],
    ['a number', 7, []],
    ['an object without concat', { val: 'fe00::1' }, []],
    ['concat that is not a list', { concat: 'fe00::1' }, []],
  ];
  for (const [what, input, parts] of cases) {
    it(`reads ${what}`, () => {
      assert.deepEqual(jsonParts(input), parts);
    });
  }
});

describe('nftStyle', () => {
  it('prints JSON on one line as nft does', () => {
    assert.equal(nftStyle({ a: [1, 'x'], b: { c: null } }), '{"a": [1, "x"], "b": {"c": null}}');
  });
});
