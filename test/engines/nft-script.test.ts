import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MapEdit } from '../../src/engines/engine.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { joinNftOps, jsonParts, nftOp, renderEdits } from '../../src/engines/nft-script.js';
import { M1 } from '../support/mappings.js';

/** A swap of fe00::1 from fc01::1 to fc02::2 with an initiator change, over both tables. */
const EDITS: MapEdit[] = [
  {
    map: 'dnat_to',
    remove: [['fc00::1', 'fe00::1']],
    add: [['fc03::1', 'fe00::1', 'fc02::2']],
  },
  {
    table: 'flowmig_late',
    map: 'initiator_of',
    remove: [['fe00::1']],
    add: [['fe00::1', 'fc03::1']],
  },
  {
    table: 'flowmig_late',
    map: 'late_from',
    set: true,
    remove: [],
    add: [['fc01::1', 'fe00::1']],
    timeoutMs: 5000,
    absent: [['fc02::2', 'fe00::1']],
  },
];

describe('renderEdits', () => {
  it('all deletes, then all adds, then each absent element added and deleted again', () => {
    assert.deepEqual(renderEdits(EDITS, 'flowmig'), [
      'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
      'delete element ip6 flowmig_late initiator_of { fe00::1 }',
      'add element ip6 flowmig dnat_to { fc03::1 . fe00::1 : fc02::2 }',
      'add element ip6 flowmig_late initiator_of { fe00::1 : fc03::1 }',
      'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 timeout 5000ms }',
      'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
      'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
    ]);
  });

  it('an edit without a table is on the default table', () => {
    const edit: MapEdit = { map: 'm', remove: [['fe00::1']], add: [] };
    assert.deepEqual(renderEdits([edit], 'flowmig'), ['delete element ip6 flowmig m { fe00::1 }']);
    assert.deepEqual(renderEdits([edit], 'other'), ['delete element ip6 other m { fe00::1 }']);
    assert.deepEqual(renderEdits([{ ...edit, table: 'mine' }], 'other'), [
      'delete element ip6 mine m { fe00::1 }',
    ]);
  });

  it('element syntax: `a . b : c` for a concatenated key with a value, `a : b` for a plain one', () => {
    const edits: MapEdit[] = [
      { map: 'snat_from', remove: [], add: [['fc00::1', 'fe00::1', 'fe00::1']] },
      { map: 'initiator_of', remove: [], add: [['fe00::1', 'fc00::1']] },
    ];
    assert.deepEqual(renderEdits(edits, 'flowmig'), [
      'add element ip6 flowmig snat_from { fc00::1 . fe00::1 : fe00::1 }',
      'add element ip6 flowmig initiator_of { fe00::1 : fc00::1 }',
    ]);
  });

  it('several elements of one edit go on one line, comma separated, in order', () => {
    const edit: MapEdit = {
      map: 'dnat_to',
      remove: [
        ['fc00::1', 'fe00::1'],
        ['fc00::1', 'fe00::2'],
      ],
      add: [
        ['fc00::1', 'fe00::1', 'fc02::2'],
        ['fc00::1', 'fe00::2', 'fc01::1'],
      ],
    };
    assert.deepEqual(renderEdits([edit], 'flowmig'), [
      'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1, fc00::1 . fe00::2 }',
      'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc02::2, fc00::1 . fe00::2 : fc01::1 }',
    ]);
  });

  it('a timeout goes after the key, before the value; deletes never carry one', () => {
    const edit: MapEdit = {
      map: 'm',
      remove: [['fe00::9']],
      add: [
        ['fe00::1', 'fc01::1'],
        ['fe00::2', 'fc02::2'],
      ],
      timeoutMs: 250,
    };
    assert.deepEqual(renderEdits([edit], 't'), [
      'delete element ip6 t m { fe00::9 }',
      'add element ip6 t m { fe00::1 timeout 250ms : fc01::1, fe00::2 timeout 250ms : fc02::2 }',
    ]);
  });

  it('a set’s elements have no value: every part is key', () => {
    const edit: MapEdit = {
      map: 's',
      set: true,
      remove: [['fc01::1', 'fe00::1']],
      add: [['fc02::2', 'fe00::1']],
    };
    assert.deepEqual(renderEdits([edit], 't'), [
      'delete element ip6 t s { fc01::1 . fe00::1 }',
      'add element ip6 t s { fc02::2 . fe00::1 }',
    ]);
  });

  it('an absent map element is added with its own last key part as value, then deleted', () => {
    const edit: MapEdit = { map: 'm', remove: [], add: [], absent: [['fc01::1', 'fe00::1']] };
    assert.deepEqual(renderEdits([edit], 't'), [
      'add element ip6 t m { fc01::1 . fe00::1 : fe00::1 }',
      'delete element ip6 t m { fc01::1 . fe00::1 }',
    ]);
  });

  it('absent elements get no timeout (they are gone when the script ends)', () => {
    const lines = renderEdits(EDITS, 'flowmig').slice(-2);
    for (const line of lines) assert.doesNotMatch(line, /timeout/);
  });

  it('absent pairs come after the adds of every edit, in edit order', () => {
    const edits: MapEdit[] = [
      { map: 'a', set: true, remove: [], add: [], absent: [['fe00::1']] },
      { map: 'b', set: true, remove: [], add: [['fe00::2']] },
      { map: 'c', set: true, remove: [['fe00::3']], add: [], absent: [['fe00::3']] },
    ];
    assert.deepEqual(renderEdits(edits, 't'), [
      'delete element ip6 t c { fe00::3 }',
      'add element ip6 t b { fe00::2 }',
      'add element ip6 t a { fe00::1 }',
      'delete element ip6 t a { fe00::1 }',
      'add element ip6 t c { fe00::3 }',
      'delete element ip6 t c { fe00::3 }',
    ]);
  });

  it('no line for an edit without elements of a kind', () => {
    assert.deepEqual(renderEdits([{ map: 'm', remove: [], add: [], absent: [] }], 't'), []);
    assert.deepEqual(renderEdits([], 't'), []);
  });
});

describe('nftOp', () => {
  it('is one `nft -f -` in the namespace, the lines ending in a newline', () => {
    assert.deepEqual(nftOp('B', ['flush map ip6 t m', 'delete table ip6 t'], 'two lines'), {
      kind: 'netfilterApply',
      netns: 'B',
      argv: ['nft', '-f', '-'],
      stdin: 'flush map ip6 t m\ndelete table ip6 t\n',
      summary: 'two lines',
    });
  });

  it('carries the edits when given (an empty list too)', () => {
    assert.deepEqual(nftOp('B', [], 's', EDITS).edits, EDITS);
    assert.deepEqual(nftOp('B', [], 's', []).edits, []);
    assert.equal('edits' in nftOp('B', [], 's'), false);
  });
});

describe('joinNftOps', () => {
  const first = nftOp('B', ['delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }'], 'a', [
    { map: 'dnat_to', remove: [['fc00::1', 'fe00::1']], add: [] },
  ]);
  const second = nftOp('B', ['add element ip6 flowmig_late late_from { fc01::1 . fe00::1 }'], 'b', [
    {
      table: 'flowmig_late',
      map: 'late_from',
      set: true,
      remove: [],
      add: [['fc01::1', 'fe00::1']],
    },
  ]);

  it('is one script, one after the other, with both summaries and all edits in order', () => {
    assert.deepEqual(joinNftOps(first, second), {
      kind: 'netfilterApply',
      netns: 'B',
      argv: ['nft', '-f', '-'],
      stdin: `${first.stdin}${second.stdin}`,
      summary: 'a; b',
      edits: [...(first.edits ?? []), ...(second.edits ?? [])],
    });
    assert.equal(
      joinNftOps(first, second).stdin,
      [
        'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 }',
        '',
      ].join('\n'),
    );
  });

  it('has no edits unless both have them (the agent could apply only half)', () => {
    const plain = nftOp('B', ['flush map ip6 flowmig dnat_to'], 'c');
    assert.equal('edits' in joinNftOps(first, plain), false);
    assert.equal('edits' in joinNftOps(plain, second), false);
  });

  it('refuses operations in two namespaces or of another program', () => {
    const elsewhere = { ...second, netns: 'C' };
    assert.throws(() => joinNftOps(first, elsewhere), /one namespace/);
    const restore = iptablesEngine.replace('B', [M1]);
    assert.throws(() => joinNftOps(first, restore), /only nft -f - operations/);
    assert.throws(() => joinNftOps(restore, first), /only nft -f - operations/);
    const listing = { ...first, argv: ['nft', '-j', 'list', 'ruleset'] };
    assert.throws(() => joinNftOps(listing, second), /only nft -f - operations/);
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
