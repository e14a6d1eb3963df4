// Map edits as typed transactions (and their nft text), and the engines' nftables operations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { editTransaction, joinNftOps, nftOp } from '../../src/engines/edits.js';
import type { MapEdit } from '../../src/engines/engine.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { renderTransaction } from '../../src/nft/text.js';
import { addElements, deleteElements, deleteTable, flushSet } from '../../src/nft/transaction.js';
import { M1 } from '../support/mappings.js';
import { stdinOf } from './ops.js';

/** The edits' transaction as nft text, line by line. */
function renderEdits(edits: readonly MapEdit[], table: string): string[] {
  const text = renderTransaction(editTransaction(edits, table));
  return text === '\n' ? [] : text.trimEnd().split('\n');
}

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

describe('editTransaction', () => {
  it('typed verbs: deletes (keys only), adds (a map element’s last part is its value), absent pairs', () => {
    const late = { family: 'ip6', name: 'flowmig_late' } as const;
    assert.deepEqual(editTransaction(EDITS, 'flowmig'), [
      deleteElements({ family: 'ip6', name: 'flowmig', set: 'dnat_to', kind: 'map' }, [
        { key: ['fc00::1', 'fe00::1'] },
      ]),
      deleteElements({ ...late, set: 'initiator_of', kind: 'map' }, [{ key: ['fe00::1'] }]),
      addElements({ family: 'ip6', name: 'flowmig', set: 'dnat_to', kind: 'map' }, [
        { key: ['fc03::1', 'fe00::1'], value: 'fc02::2' },
      ]),
      addElements({ ...late, set: 'initiator_of', kind: 'map' }, [
        { key: ['fe00::1'], value: 'fc03::1' },
      ]),
      addElements({ ...late, set: 'late_from', kind: 'set' }, [
        { key: ['fc01::1', 'fe00::1'], timeoutMs: 5000 },
      ]),
      addElements({ ...late, set: 'late_from', kind: 'set' }, [{ key: ['fc02::2', 'fe00::1'] }]),
      deleteElements({ ...late, set: 'late_from', kind: 'set' }, [{ key: ['fc02::2', 'fe00::1'] }]),
    ]);
  });

  it('no verb for an edit without elements of a kind', () => {
    assert.deepEqual(editTransaction([{ map: 'm', remove: [], add: [], absent: [] }], 't'), []);
    assert.deepEqual(editTransaction([], 't'), []);
  });
});

describe('editTransaction as nft text', () => {
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
  const tx = [
    flushSet({ family: 'ip6', name: 't', set: 'm', kind: 'map' }),
    deleteTable({ family: 'ip6', name: 't' }),
  ];

  it('is one transaction in the namespace; it runs as `nft -f -`, the lines ending in a newline', () => {
    const op = nftOp('B', tx, 'two lines');
    assert.deepEqual(op, { kind: 'netfilterApply', netns: 'B', nft: tx, summary: 'two lines' });
    assert.equal(stdinOf(op), 'flush map ip6 t m\ndelete table ip6 t\n');
  });

  it('carries the edits when given (an empty list too)', () => {
    assert.deepEqual(nftOp('B', tx, 's', EDITS).edits, EDITS);
    assert.deepEqual(nftOp('B', tx, 's', []).edits, []);
    assert.equal('edits' in nftOp('B', tx, 's'), false);
  });
});

describe('joinNftOps', () => {
  const firstEdits: MapEdit[] = [{ map: 'dnat_to', remove: [['fc00::1', 'fe00::1']], add: [] }];
  const first = nftOp('B', editTransaction(firstEdits, 'flowmig'), 'a', firstEdits);
  const secondEdits: MapEdit[] = [
    {
      table: 'flowmig_late',
      map: 'late_from',
      set: true,
      remove: [],
      add: [['fc01::1', 'fe00::1']],
    },
  ];
  const second = nftOp('B', editTransaction(secondEdits, 'flowmig'), 'b', secondEdits);

  it('is one transaction, one after the other, with both summaries and all edits in order', () => {
    const joined = joinNftOps(first, second);
    assert.deepEqual(joined, {
      kind: 'netfilterApply',
      netns: 'B',
      nft: [...editTransaction(firstEdits, 'flowmig'), ...editTransaction(secondEdits, 'flowmig')],
      summary: 'a; b',
      edits: [...firstEdits, ...secondEdits],
    });
    assert.equal(stdinOf(joined), `${stdinOf(first)}${stdinOf(second)}`);
    assert.equal(
      stdinOf(joined),
      [
        'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 }',
        '',
      ].join('\n'),
    );
  });

  it('has no edits unless both have them (the agent could apply only half)', () => {
    const plain = nftOp(
      'B',
      [flushSet({ family: 'ip6', name: 'flowmig', set: 'dnat_to', kind: 'map' })],
      'c',
    );
    assert.equal('edits' in joinNftOps(first, plain), false);
    assert.equal('edits' in joinNftOps(plain, second), false);
  });

  it('refuses operations in two namespaces or of another program', () => {
    const elsewhere = { ...second, netns: 'C' };
    assert.throws(() => joinNftOps(first, elsewhere), /one namespace/);
    const restore = iptablesEngine.replace('B', [M1]);
    assert.throws(() => joinNftOps(first, restore), /only nftables operations/);
    assert.throws(() => joinNftOps(restore, first), /only nftables operations/);
  });
});
