// The nft text renderer: objects, rules and verbs as `nft -f -` input, table-driven.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  concat,
  counter,
  ctOriginal,
  ctState,
  ctStatus,
  dnat,
  ip6,
  l4proto,
  lookup,
  mangle,
  mapOf,
  markSet,
  notrack,
  type Rule,
  type SetRef,
  snat,
  type Table,
} from '../../src/nft/objects.js';
import { renderPriority, renderRule, renderTable, renderTransaction } from '../../src/nft/text.js';
import {
  addElements,
  addTable,
  declareTable,
  deleteElements,
  deleteTable,
  flushSet,
} from '../../src/nft/transaction.js';

describe('renderRule', () => {
  const cases: [string, Rule, string][] = [
    ['l4proto ==', [l4proto('==', 'tcp')], 'meta l4proto tcp'],
    ['l4proto !=', [l4proto('!=', 'tcp')], 'meta l4proto != tcp'],
    ['ct state, in the order given', [ctState('new', 'invalid')], 'ct state new,invalid'],
    ['ct status', [ctStatus('dnat')], 'ct status dnat'],
    [
      'a concatenation looked up in a set',
      [lookup(concat(ip6('saddr'), ip6('daddr')), 'late_from')],
      'ip6 saddr . ip6 daddr @late_from',
    ],
    [
      'the conntrack original destination in a key',
      [lookup(concat(ip6('daddr'), ctOriginal('daddr')), 'held')],
      'ip6 daddr . ct original ip6 daddr @held',
    ],
    [
      'dnat through a map',
      [dnat(mapOf(concat(ip6('saddr'), ip6('daddr')), 'dnat_to'))],
      'dnat to ip6 saddr . ip6 daddr map @dnat_to',
    ],
    [
      'snat to the original destination',
      [snat(ctOriginal('daddr'))],
      'snat to ct original ip6 daddr',
    ],
    [
      'notrack, two address writes and a counter',
      [notrack, mangle('saddr', ip6('daddr')), mangle('daddr', mapOf(ip6('daddr'), 'm')), counter],
      'notrack ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @m counter',
    ],
    ['a mark in hex', [markSet(0x464d0001)], 'meta mark set 0x464d0001'],
  ];
  for (const [what, rule, text] of cases) it(what, () => assert.equal(renderRule(rule), text));
});

describe('renderPriority', () => {
  it('a name, or a name and an offset', () => {
    assert.equal(renderPriority({ name: 'dstnat' }), 'dstnat');
    assert.equal(renderPriority({ name: 'raw', offset: -10 }), 'raw - 10');
    assert.equal(renderPriority({ name: 'mangle', offset: 5 }), 'mangle + 5');
    assert.equal(renderPriority({ name: 'srcnat', offset: 0 }), 'srcnat');
  });
});

const TABLE: Table = {
  family: 'ip6',
  name: 't',
  sets: [
    { name: 's', key: ['ipv6_addr', 'ipv6_addr'], flags: ['timeout'] },
    { name: 'm', key: ['ipv6_addr'], value: 'ipv6_addr' },
  ],
  chains: [
    {
      name: 'c',
      base: { type: 'filter', hook: 'prerouting', priority: { name: 'raw' }, policy: 'accept' },
      rules: [[counter], [notrack]],
    },
    { name: 'plain', rules: [] },
  ],
};

describe('renderTable', () => {
  it('sets and maps, then chains with their hook line and one rule a line', () => {
    assert.equal(
      renderTable(TABLE),
      [
        'table ip6 t {',
        '  set s { type ipv6_addr . ipv6_addr; flags timeout; }',
        '  map m { type ipv6_addr : ipv6_addr; }',
        '  chain c {',
        '    type filter hook prerouting priority raw; policy accept;',
        '    counter',
        '    notrack',
        '  }',
        '  chain plain {',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('ends rule lines with `;` when the table says so (nft reads both alike)', () => {
    const text = renderTable({ ...TABLE, ruleSemicolons: true });
    assert.match(text, /^ {4}counter;$/m);
    assert.match(text, /^ {4}notrack;$/m);
  });

  it('a table that declares nothing is `table ip6 t {}`', () => {
    assert.equal(renderTable({ family: 'ip6', name: 't', sets: [], chains: [] }), 'table ip6 t {}');
  });
});

describe('renderTransaction', () => {
  const m: SetRef = { family: 'ip6', name: 't', set: 'm', kind: 'map' };
  const s: SetRef = { family: 'ip6', name: 't', set: 's', kind: 'set' };

  it('one line (or block) per verb, in order, newline-terminated', () => {
    assert.equal(
      renderTransaction([
        declareTable(TABLE),
        deleteTable(TABLE),
        flushSet(m),
        deleteElements(m, [{ key: ['fe00::1'] }, { key: ['fe00::2'] }]),
        addElements(m, [{ key: ['fe00::1'], value: 'fc00::1' }]),
        addElements(s, [{ key: ['fc01::1', 'fe00::1'], timeoutMs: 5000 }]),
        flushSet(s),
      ]),
      [
        'table ip6 t {}',
        'delete table ip6 t',
        'flush map ip6 t m',
        'delete element ip6 t m { fe00::1, fe00::2 }',
        'add element ip6 t m { fe00::1 : fc00::1 }',
        'add element ip6 t s { fc01::1 . fe00::1 timeout 5000ms }',
        'flush set ip6 t s',
        '',
      ].join('\n'),
    );
  });

  it('a timeout goes after the key, before the value', () => {
    assert.equal(
      renderTransaction([addElements(m, [{ key: ['fe00::1'], value: 'fc01::1', timeoutMs: 250 }])]),
      'add element ip6 t m { fe00::1 timeout 250ms : fc01::1 }\n',
    );
  });

  it('an element verb without elements writes nothing; an empty transaction is one newline', () => {
    assert.equal(renderTransaction([addElements(m, []), deleteElements(s, [])]), '\n');
    assert.equal(renderTransaction([]), '\n');
  });

  it('a table declared whole is its block', () => {
    assert.equal(renderTransaction([addTable(TABLE)]), `${renderTable(TABLE)}\n`);
  });
});
