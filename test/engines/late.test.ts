import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowChange, FlowMapping } from '../../src/engines/engine.js';
import type { FakeTranslator } from '../../src/engines/fake.js';
import {
  INITIATOR_MAP,
  LATE_SET,
  LATE_TABLE,
  LATE_TABLE_DECL,
  lateEdits,
  lateTable,
  parseLateJson,
  releaseEdits,
  renderLateTable,
} from '../../src/engines/late.js';
import { NftError } from '../../src/nft/fake.js';
import { setRef } from '../../src/nft/objects.js';
import { addElements, deleteElements, type TxOp } from '../../src/nft/transaction.js';
import { M1, M2 } from '../support/mappings.js';
import {
  LATE_JSON_AFTER_SWAP,
  LATE_JSON_AFTER_SWAP_BACK,
  LATE_JSON_FOREIGN_RULE,
  LATE_JSON_INSTALLED,
  lateJson,
  NFT_JSON_NO_TABLE,
  NFT_JSON_THREE_FLOWS,
} from '../support/nft-samples.js';
import { applyTo, argvOf, stdinOf, translatorAfter, withoutHandles } from './ops.js';

const M3: FlowMapping = {
  address: 'fe00::1:0',
  initiatorAddress: 'fc03::1',
  responderAddress: 'fc01::1',
};

/** fe00::1 moved from C (fc01::1) to D (fc02::2), and back. */
const M1_ON_D: FlowMapping = { ...M1, responderAddress: 'fc02::2' };
const SWAP: FlowChange[] = [{ before: M1, after: M1_ON_D }];
const SWAP_BACK: FlowChange[] = [{ before: M1_ON_D, after: M1 }];

/** The late table in a fake translator: initiators, and former responders with their expiry. */
function lateOf(t: FakeTranslator): {
  initiators: Map<string, string>;
  former: Map<string, number>;
} {
  const elements = (set: string) => t.nft.elements({ family: 'ip6', name: LATE_TABLE, set }, t.now);
  return {
    initiators: new Map(elements(INITIATOR_MAP).map((e) => [e.key[0] ?? '', e.value ?? ''])),
    former: new Map(
      elements(LATE_SET).map((e) => [
        e.key.join(' . '),
        e.timeoutMs === undefined ? Number.POSITIVE_INFINITY : t.now + e.timeoutMs,
      ]),
    ),
  };
}

/** `nft -j list table ip6 flowmig_late` from a fake translator. */
const listed = (t: FakeTranslator) => t.list(LATE_TABLE_DECL) ?? '';

describe('renderLateTable', () => {
  it('declares the late table: a timeout set, the initiators, a raw-priority rule and its catch after conntrack', () => {
    assert.equal(
      renderLateTable(),
      [
        'table ip6 flowmig_late {',
        '  set late_from { type ipv6_addr . ipv6_addr; flags timeout; }',
        '  map initiator_of { type ipv6_addr : ipv6_addr; }',
        '  chain late {',
        '    type filter hook prerouting priority raw; policy accept;',
        '    meta l4proto != tcp ip6 saddr . ip6 daddr @late_from notrack ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @initiator_of counter',
        '  }',
        '  chain late_tracked {',
        '    type filter hook prerouting priority mangle; policy accept;',
        '    meta l4proto != tcp ct state new,invalid ip6 saddr . ip6 daddr @late_from ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @initiator_of counter',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('uses the exported names', () => {
    assert.equal(LATE_TABLE, 'flowmig_late');
    assert.equal(LATE_SET, 'late_from');
    assert.equal(INITIATOR_MAP, 'initiator_of');
  });
});

describe('lateEdits', () => {
  it('a swap: the old responder joins the set for the grace time (nothing is made absent)', () => {
    assert.deepEqual(lateEdits(SWAP, 5000), [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [['fc01::1', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
  });

  it('a swap back within the grace: the other server joins; the returning one is left in the set', () => {
    // C (fc01::1) may still be in the set from the first swap: it leaves it only in the release,
    // after the conntrack delete (see releaseEdits).
    assert.deepEqual(lateEdits(SWAP_BACK, 5000), [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [['fc02::2', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
  });

  it('grace 0: no former responder, so a responder move needs no late edit at all', () => {
    assert.deepEqual(lateEdits(SWAP, 0), []);
    assert.deepEqual(lateEdits(SWAP_BACK, 0), []);
  });

  it('an initiator change replaces the flow’s initiator and leaves the set alone', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1' };
    assert.deepEqual(lateEdits([{ before: M1, after }], 5000), [
      {
        table: 'flowmig_late',
        map: 'initiator_of',
        remove: [['fe00::1']],
        add: [['fe00::1', 'fc03::1']],
      },
    ]);
  });

  it('both ends changed: the initiator edit first, then the set', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1', responderAddress: 'fc02::2' };
    assert.deepEqual(
      lateEdits([{ before: M1, after }], 100).map((e) => [e.map, e.remove, e.add, e.timeoutMs]),
      [
        ['initiator_of', [['fe00::1']], [['fe00::1', 'fc03::1']], undefined],
        ['late_from', [], [['fc01::1', 'fe00::1']], 100],
      ],
    );
  });

  it('a new flow adds its initiator, a removed one removes it; neither has a former responder', () => {
    assert.deepEqual(lateEdits([{ after: M1 }, { before: M2 }], 5000), [
      {
        table: 'flowmig_late',
        map: 'initiator_of',
        remove: [['fe00::2']],
        add: [['fe00::1', 'fc00::1']],
      },
    ]);
  });

  it('nothing changed: no edit', () => {
    assert.deepEqual(lateEdits([{ before: M1, after: { ...M1 } }], 5000), []);
    assert.deepEqual(lateEdits([], 5000), []);
    assert.deepEqual(lateEdits([{}], 5000), []);
  });

  it('several flows moved at once (an evacuation): one set edit with all of them', () => {
    const m3OnD = { ...M3, responderAddress: 'fc02::2' };
    const edits = lateEdits(
      [
        { before: M1, after: M1_ON_D },
        { before: M3, after: m3OnD },
      ],
      2500,
    );
    assert.equal(edits.length, 1);
    const [edit] = edits;
    assert.deepEqual(edit?.add, [
      ['fc01::1', 'fe00::1'],
      ['fc01::1', 'fe00::1:0'],
    ]);
    assert.equal(edit?.timeoutMs, 2500);
    assert.equal(edit !== undefined && 'absent' in edit, false);
  });

  it('never makes an element absent: that is the release’s part, after the conntrack delete', () => {
    const both = { ...M1, initiatorAddress: 'fc03::1', responderAddress: 'fc02::2' };
    for (const changes of [SWAP, SWAP_BACK, [{ before: M1, after: both }], [{ after: M1 }]])
      for (const grace of [0, 5000])
        for (const e of lateEdits(changes, grace)) assert.equal('absent' in e, false, e.map);
  });

  it('the last part of every key is the flow’s abstract address (the agent relies on it)', () => {
    const after = { ...M3, initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' };
    for (const e of lateEdits([...SWAP, { before: M3, after }], 5000)) {
      for (const k of [...e.remove, ...(e.absent ?? [])]) assert.match(k.at(-1) ?? '', /^fe00:/);
      for (const k of e.add) assert.match(e.set ? (k.at(-1) ?? '') : (k.at(-2) ?? ''), /^fe00:/);
    }
  });
});

// The new responder leaves the late set only after the flow's conntrack entries are deleted.
// Before that, a late packet from it (a former responder swapped back to within its grace) would
// be tracked: it would start a connection whose reply tuple is taken by the initiator's entry to
// the old responder, NAT would remap its port, and the initiator's socket would drop the reply.
// While it is still in the set, the packet is rewritten statelessly and arrives.
describe('releaseEdits', () => {
  it('a swap: the new responder is made absent from the late set (added, then deleted)', () => {
    assert.deepEqual(releaseEdits(SWAP, 5000), [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [],
        absent: [['fc02::2', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
  });

  it('a swap back: the returning responder (a former one within its grace) is made absent', () => {
    assert.deepEqual(releaseEdits(SWAP_BACK, 5000), [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [],
        absent: [['fc01::1', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
  });

  it('grace 0: nobody is ever a former responder, so nothing to release', () => {
    assert.deepEqual(releaseEdits(SWAP, 0), []);
    assert.deepEqual(releaseEdits(SWAP_BACK, 0), []);
  });

  it('several flows moved at once (an evacuation): one edit with every new responder', () => {
    const m3OnD = { ...M3, responderAddress: 'fc02::2' };
    assert.deepEqual(
      releaseEdits(
        [
          { before: M1, after: M1_ON_D },
          { before: M3, after: m3OnD },
          { before: M2, after: { ...M2 } }, // D's own flow, unchanged: not released
        ],
        2500,
      ),
      [
        {
          table: 'flowmig_late',
          map: 'late_from',
          set: true,
          remove: [],
          add: [],
          absent: [
            ['fc02::2', 'fe00::1'],
            ['fc02::2', 'fe00::1:0'],
          ],
          timeoutMs: 2500,
        },
      ],
    );
  });

  it('an initiator change alone: the responder stays, nothing to release', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1' };
    assert.deepEqual(releaseEdits([{ before: M1, after }], 5000), []);
  });

  it('both ends changed: only the new responder, no initiator edit (that was in the rule change)', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1', responderAddress: 'fc02::2' };
    assert.deepEqual(
      releaseEdits([{ before: M1, after }], 5000).map((e) => [e.map, e.absent]),
      [['late_from', [['fc02::2', 'fe00::1']]]],
    );
  });

  it('new, removed or unchanged flows: nothing to release', () => {
    assert.deepEqual(releaseEdits([{ after: M1 }, { before: M2 }], 5000), []);
    assert.deepEqual(releaseEdits([{ before: M1, after: { ...M1 } }], 5000), []);
    assert.deepEqual(releaseEdits([], 5000), []);
  });

  it('carries the grace (how long a former element may live), but adds nothing with a timeout', () => {
    const edits = releaseEdits(SWAP, 5000);
    assert.equal(edits[0]?.timeoutMs, 5000);
    // Absent elements are added and deleted in one transaction: never with a timeout.
    const script = stdinOf(lateTable.release('B', SWAP, 5000));
    assert.doesNotMatch(script, /timeout/);
  });
});

describe('lateTable operations', () => {
  it('install: the table, then every flow’s initiator, in one `nft -f -`', () => {
    const op = lateTable.install('B', [M1, M2, M3]);
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(op.netns, 'B');
    assert.equal(
      stdinOf(op),
      [
        renderLateTable(),
        'add element ip6 flowmig_late initiator_of { fe00::1 : fc00::1, fe00::2 : fc00::1, fe00::1:0 : fc03::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'nft: table ip6 flowmig_late (late packets)');
    assert.equal(op.edits, undefined);
  });

  it('install with no flows declares just the table', () => {
    assert.equal(stdinOf(lateTable.install('B', [])), `${renderLateTable()}\n`);
  });

  it('replace: sets exactly these initiators and leaves the former responders be', () => {
    const op = lateTable.replace('B', [M2]);
    assert.equal(
      stdinOf(op),
      [
        'flush map ip6 flowmig_late initiator_of',
        'add element ip6 flowmig_late initiator_of { fe00::2 : fc00::1 }',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(stdinOf(op), /late_from/);
    assert.equal(op.summary, 'nft: set 1 initiator(s) for late packets');
  });

  it('update for a swap: the former responder with its timeout, nothing more', () => {
    const op = lateTable.update('B', SWAP, 5000);
    assert.ok(op);
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(op.netns, 'B');
    assert.equal(
      stdinOf(op),
      'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 timeout 5000ms }\n',
    );
    assert.deepEqual(op.edits, lateEdits(SWAP, 5000));
    assert.equal(op.summary, 'nft: 1 former responder(s) translated for 5000 ms');
  });

  it('update with grace 0 for a responder move is undefined (nothing for late packets)', () => {
    assert.equal(lateTable.update('B', SWAP, 0), undefined);
  });

  it('update with grace 0 still moves the late packets’ initiator', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1', responderAddress: 'fc02::2' };
    const op = lateTable.update('B', [{ before: M1, after }], 0);
    assert.equal(
      stdinOf(op),
      [
        'delete element ip6 flowmig_late initiator_of { fe00::1 }',
        'add element ip6 flowmig_late initiator_of { fe00::1 : fc03::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op?.summary, 'nft: 0 former responder(s) translated for 0 ms');
  });

  it('update is undefined when late packets need no change', () => {
    assert.equal(lateTable.update('B', [{ before: M1, after: M1 }], 5000), undefined);
  });

  it('release for a swap: the new responder added and deleted in one `nft -f -`', () => {
    const op = lateTable.release('B', SWAP, 5000);
    assert.ok(op);
    assert.equal(op.kind, 'netfilterApply');
    assert.equal(op.netns, 'B');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    // Added first, so the delete succeeds whether or not it was in the set.
    assert.equal(
      stdinOf(op),
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(op.edits, releaseEdits(SWAP, 5000));
    assert.equal(op.summary, 'nft: 1 new responder(s) tracked again');
  });

  it('release for a swap back names the returning responder', () => {
    const op = lateTable.release('B', SWAP_BACK, 5000);
    assert.equal(
      stdinOf(op),
      [
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc01::1 . fe00::1 }',
        '',
      ].join('\n'),
    );
  });

  it('release for an evacuation: every moved flow in one add and one delete', () => {
    const m3OnD = { ...M3, responderAddress: 'fc02::2' };
    const changes = [
      { before: M1, after: M1_ON_D },
      { before: M3, after: m3OnD },
    ];
    const op = lateTable.release('B', changes, 5000);
    assert.equal(
      stdinOf(op),
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1, fc02::2 . fe00::1:0 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1, fc02::2 . fe00::1:0 }',
        '',
      ].join('\n'),
    );
    assert.equal(op?.summary, 'nft: 2 new responder(s) tracked again');
  });

  it('release is undefined with grace 0, for an initiator move, or when nothing changed', () => {
    assert.equal(lateTable.release('B', SWAP, 0), undefined);
    const initiator = { ...M1, initiatorAddress: 'fc03::1' };
    assert.equal(lateTable.release('B', [{ before: M1, after: initiator }], 5000), undefined);
    assert.equal(lateTable.release('B', [{ before: M1, after: M1 }], 5000), undefined);
    assert.equal(lateTable.release('B', [], 5000), undefined);
  });

  it('update and release touch only the late set of the late table', () => {
    for (const op of [lateTable.update('B', SWAP, 5000), lateTable.release('B', SWAP, 5000)])
      for (const line of stdinOf(op).trim().split('\n'))
        assert.match(line, /^(add|delete) element ip6 flowmig_late late_from \{ /);
  });

  it('uninstall deletes the table; inspect lists it as JSON', () => {
    const op = lateTable.uninstall('B');
    assert.equal(stdinOf(op), 'delete table ip6 flowmig_late\n');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.deepEqual(lateTable.inspect('B'), {
      argv: ['nft', '-j', 'list', 'table', 'ip6', 'flowmig_late'],
      netns: 'B',
    });
  });
});

describe('lateTable.repair', () => {
  it('one `nft -f -`: declare the table, delete it, declare it whole, then the initiators', () => {
    const op = lateTable.repair('t1-B', [M1, M2]);
    assert.equal(op.kind, 'netfilterApply');
    assert.equal(op.netns, 't1-B');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(op),
      [
        'table ip6 flowmig_late {}',
        'delete table ip6 flowmig_late',
        'table ip6 flowmig_late {',
        '  set late_from { type ipv6_addr . ipv6_addr; flags timeout; }',
        '  map initiator_of { type ipv6_addr : ipv6_addr; }',
        '  chain late {',
        '    type filter hook prerouting priority raw; policy accept;',
        '    meta l4proto != tcp ip6 saddr . ip6 daddr @late_from notrack ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @initiator_of counter',
        '  }',
        '  chain late_tracked {',
        '    type filter hook prerouting priority mangle; policy accept;',
        '    meta l4proto != tcp ct state new,invalid ip6 saddr . ip6 daddr @late_from ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @initiator_of counter',
        '  }',
        '}',
        'add element ip6 flowmig_late initiator_of { fe00::1 : fc00::1, fe00::2 : fc00::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'nft: table ip6 flowmig_late restated');
    assert.equal(op.edits, undefined);
  });

  it('with no flows: the table alone, restated', () => {
    assert.equal(
      stdinOf(lateTable.repair('B', [])),
      `table ip6 flowmig_late {}\ndelete table ip6 flowmig_late\n${renderLateTable()}\n`,
    );
  });

  it('touches only the late table and writes no former responder', () => {
    const lines = stdinOf(lateTable.repair('B', [M1, M2, M3]))
      .trim()
      .split('\n');
    const top = lines.filter((l) => !l.startsWith(' ') && l !== '}');
    for (const l of top)
      assert.match(l, /^(table|delete table|add element) ip6 flowmig_late( |$)/, l);
    assert.equal(lines.filter((l) => l.startsWith('delete ')).length, 1);
    assert.equal(lines.filter((l) => l.startsWith('add element')).length, 1);
    assert.doesNotMatch(lines.filter((l) => l.startsWith('add ')).join('\n'), /late_from/);
  });

  it('what follows the delete is exactly install’s script', () => {
    const op = lateTable.repair('B', [M1, M2, M3]);
    assert.equal(
      stdinOf(op),
      `table ip6 flowmig_late {}\ndelete table ip6 flowmig_late\n${stdinOf(lateTable.install('B', [M1, M2, M3]))}`,
    );
  });

  it('in a fake translator: exactly the given initiators, former responders and their grace dropped', () => {
    const t = translatorAfter([
      lateTable.install('B', [M1, M2, M3]),
      lateTable.update('B', SWAP, 60_000),
    ]);
    assert.equal(lateOf(t).former.size, 1);
    t.advance(10);
    t.apply(lateTable.repair('B', [M1_ON_D]));
    assert.deepEqual(lateOf(t), {
      initiators: new Map([['fe00::1', 'fc00::1']]),
      former: new Map(),
    });
    assert.equal(parseLateJson(listed(t)).installed, true);
  });
});

describe('parseLateJson (real nft 1.0.6 output)', () => {
  const INITIATORS = new Map([
    ['fe00::1', 'fc00::1'],
    ['fe00::2', 'fc00::1'],
    ['fe00::1:0', 'fc03::1'],
  ]);

  it('the installed table: every initiator, no former responder, nothing translated', () => {
    assert.deepEqual(parseLateJson(LATE_JSON_INSTALLED), {
      installed: true,
      initiators: INITIATORS,
      former: [],
      translated: 0,
      afterConntrack: 0,
    });
  });

  it('after a swap: the former responder with its time left, and the rule’s counter', () => {
    assert.deepEqual(parseLateJson(LATE_JSON_AFTER_SWAP), {
      installed: true,
      initiators: INITIATORS,
      former: [{ responderAddress: 'fc01::1', address: 'fe00::1', expiresMs: 58_000 }],
      translated: 3,
      afterConntrack: 0,
    });
  });

  it('after the swap back: the other server is the former responder now', () => {
    const s = parseLateJson(LATE_JSON_AFTER_SWAP_BACK);
    assert.deepEqual(s.former, [
      { responderAddress: 'fc02::2', address: 'fe00::1', expiresMs: 59_000 },
    ]);
    assert.equal(s.translated, 3);
  });

  it('lateTable.parse is parseLateJson', () => {
    assert.deepEqual(lateTable.parse(LATE_JSON_AFTER_SWAP), parseLateJson(LATE_JSON_AFTER_SWAP));
  });

  it('the transactions that made the captures leave a fake translator listing the same', () => {
    // The captures were made when one script held the former responder and the absent pair; a
    // migration now writes them in two transactions (update, then release after the conntrack
    // delete), which leave the set the same.
    const t = translatorAfter([lateTable.install('B', [M1, M2, M3])]);
    assert.deepEqual(withoutHandles(listed(t)), withoutHandles(LATE_JSON_INSTALLED));
    assert.deepEqual(parseLateJson(listed(t)), parseLateJson(LATE_JSON_INSTALLED));
    const step = (changes: FlowChange[]) => {
      applyTo(t, lateTable.update('B', changes, 60_000), lateTable.release('B', changes, 60_000));
    };
    const formerOf = (text: string) =>
      parseLateJson(text).former.map((f) => `${f.responderAddress} . ${f.address}`);
    step(SWAP);
    assert.deepEqual(formerOf(listed(t)), ['fc01::1 . fe00::1']);
    assert.deepEqual(formerOf(LATE_JSON_AFTER_SWAP), ['fc01::1 . fe00::1']);
    step(SWAP_BACK);
    assert.deepEqual(formerOf(listed(t)), ['fc02::2 . fe00::1']);
    assert.deepEqual(formerOf(LATE_JSON_AFTER_SWAP_BACK), ['fc02::2 . fe00::1']);
    // As nft lists an element with a timeout: the timeout and the time left, in seconds.
    t.advance(1000);
    assert.deepEqual(parseLateJson(listed(t)).former, [
      { responderAddress: 'fc02::2', address: 'fe00::1', expiresMs: 59_000 },
    ]);
  });

  it('rounds fractional seconds; an element without timeout has no time left', () => {
    const doc = JSON.parse(LATE_JSON_AFTER_SWAP) as { nftables: { set?: { elem: unknown[] } }[] };
    const set = doc.nftables.find((i) => i.set)?.set;
    assert.ok(set);
    set.elem = [
      { elem: { val: { concat: ['fc01::1', 'fe00::1'] }, timeout: 5, expires: 1.2345 } },
      { concat: ['fc02::2', 'fe00::2'] },
    ];
    assert.deepEqual(parseLateJson(JSON.stringify(doc)).former, [
      { responderAddress: 'fc01::1', address: 'fe00::1', expiresMs: 1235 },
      { responderAddress: 'fc02::2', address: 'fe00::2', expiresMs: 0 },
    ]);
  });

  it('without its rule the table is not installed', () => {
    const doc = JSON.parse(LATE_JSON_AFTER_SWAP) as { nftables: Record<string, unknown>[] };
    doc.nftables = doc.nftables.filter((i) => !('rule' in i));
    const s = parseLateJson(JSON.stringify(doc));
    assert.equal(s.installed, false);
    assert.equal(s.translated, 0);
    assert.equal(s.former.length, 1);
  });

  it('no table, another table, or no JSON (nft failed): not installed, nothing read', () => {
    for (const text of [NFT_JSON_NO_TABLE, NFT_JSON_THREE_FLOWS, '', 'Error: No such file', '{}']) {
      assert.deepEqual(
        parseLateJson(text),
        { installed: false, initiators: new Map(), former: [], translated: 0, afterConntrack: 0 },
        text.slice(0, 40),
      );
    }
  });
});

describe('parseLateJson: foreign rules', () => {
  type Doc = { nftables: Record<string, unknown>[] };
  const foreignRule = (handle: number) => ({
    rule: {
      family: 'ip6',
      table: 'flowmig_late',
      chain: 'late',
      handle,
      expr: [
        {
          match: {
            op: '==',
            left: { payload: { protocol: 'ip6', field: 'saddr' } },
            right: 'fc09::9',
          },
        },
        { drop: null },
      ],
    },
  });
  const withItems = (text: string, ...items: Record<string, unknown>[]) => {
    const doc = JSON.parse(text) as Doc;
    doc.nftables.push(...items);
    return JSON.stringify(doc);
  };

  it('a foreign rule in the late chain (real nft output): one, the table still read', () => {
    const s = parseLateJson(LATE_JSON_FOREIGN_RULE);
    assert.equal(s.foreignRules, 1);
    assert.equal(s.installed, true);
    assert.deepEqual(
      s.initiators,
      new Map([
        ['fe00::1', 'fc00::1'],
        ['fe00::2', 'fc00::1'],
        ['fe00::1:0', 'fc03::1'],
      ]),
    );
    assert.deepEqual(s.former, []);
    // The capture is the installed table (two rules) plus that rule.
    const rules = (JSON.parse(LATE_JSON_FOREIGN_RULE) as Doc).nftables.filter((i) => 'rule' in i);
    assert.equal(rules.length, 3);
  });

  it('counts every rule and chain of the table beyond flowmig’s own', () => {
    const text = withItems(
      lateJson([['fe00::1', 'fc00::1']], []),
      { chain: { family: 'ip6', table: 'flowmig_late', name: 'extra', handle: 7 } },
      foreignRule(8),
      { rule: { ...foreignRule(9).rule, chain: 'extra' } },
    );
    const s = parseLateJson(text);
    assert.equal(s.foreignRules, 3);
    assert.equal(s.installed, true);
  });

  it('a changed late rule is foreign, and the table incomplete', () => {
    const doc = JSON.parse(LATE_JSON_INSTALLED) as Doc;
    for (const i of doc.nftables) {
      const r = (i as { rule?: { chain: string; expr: unknown[] } }).rule;
      if (r?.chain === 'late') r.expr = r.expr.slice(0, 2);
    }
    const s = parseLateJson(JSON.stringify(doc));
    assert.equal(s.foreignRules, 1);
    assert.equal(s.installed, false);
  });

  it('flowmig’s table alone, or rules of other tables: the key is absent', () => {
    for (const text of [LATE_JSON_INSTALLED, LATE_JSON_AFTER_SWAP, LATE_JSON_AFTER_SWAP_BACK]) {
      assert.equal('foreignRules' in parseLateJson(text), false);
    }
    const other = withItems(LATE_JSON_INSTALLED, {
      rule: { ...foreignRule(8).rule, table: 'flowmig' },
    });
    assert.equal('foreignRules' in parseLateJson(other), false);
    // Without its own rule, the table has no rule at all: none foreign either.
    const doc = JSON.parse(LATE_JSON_INSTALLED) as Doc;
    doc.nftables = doc.nftables.filter((i) => !('rule' in i));
    assert.equal('foreignRules' in parseLateJson(JSON.stringify(doc)), false);
  });
});

describe('lateJson (the test helper) prints what nft prints', () => {
  const initiators: [string, string][] = [
    ['fe00::1', 'fc00::1'],
    ['fe00::2', 'fc00::1'],
    ['fe00::1:0', 'fc03::1'],
  ];

  it('for the installed table', () => {
    assert.equal(lateJson(initiators, []), LATE_JSON_INSTALLED);
  });

  it('for the table after a swap, with its counter', () => {
    const former = [{ responderAddress: 'fc01::1', address: 'fe00::1', timeout: 60, expires: 58 }];
    assert.equal(lateJson(initiators, former, { packets: 3, bytes: 312 }), LATE_JSON_AFTER_SWAP);
  });
});

describe('the late table in a fake translator (its transactions applied as the kernel would)', () => {
  /** A translator with the late table of [M1, M2], its clock at 0. */
  const installed = () => translatorAfter([lateTable.install('B', [M1, M2])]);
  const clockAt = (t: FakeTranslator, now: number) => t.advance(now - t.now);
  /** The rule change's late part alone (what holds until the conntrack delete). */
  const updateAt = (t: FakeTranslator, changes: FlowChange[], grace: number, now: number) => {
    clockAt(t, now);
    const op = lateTable.update('B', changes, grace);
    if (op) t.apply(op);
    return t;
  };
  /** The release, after the conntrack delete. */
  const releaseAt = (t: FakeTranslator, changes: FlowChange[], grace: number, now: number) => {
    clockAt(t, now);
    const op = lateTable.release('B', changes, grace);
    if (op) t.apply(op);
    return t;
  };
  /** A whole migration's late-table work: the update, then the release. */
  const swapAt = (t: FakeTranslator, changes: FlowChange[], grace: number, now: number) =>
    releaseAt(updateAt(t, changes, grace, now), changes, grace, now);
  const former = (t: FakeTranslator) => [...lateOf(t).former];
  const lateSet = setRef(LATE_TABLE_DECL, LATE_SET);
  const add = (timeoutMs?: number): TxOp[] => [
    addElements(lateSet, [
      { key: ['fc01::1', 'fe00::1'], ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
    ]),
  ];

  it('the install sets the initiators', () => {
    assert.deepEqual(lateOf(installed()), {
      initiators: new Map([
        ['fe00::1', 'fc00::1'],
        ['fe00::2', 'fc00::1'],
      ]),
      former: new Map(),
    });
  });

  it('a swap at t=1000 with a 5000 ms grace: the former responder until t=6000', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    assert.deepEqual(former(t), [['fc01::1 . fe00::1', 6000]]);
    assert.equal(lateOf(t).initiators.get('fe00::1'), 'fc00::1');
  });

  it('an element expires when its time has come (kept just before)', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    clockAt(t, 5999);
    assert.equal(lateOf(t).former.size, 1);
    clockAt(t, 6000);
    assert.equal(lateOf(t).former.size, 0);
  });

  it('a swap back within the grace removes the returning responder and adds the other', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    swapAt(t, SWAP_BACK, 5000, 2000);
    assert.deepEqual(former(t), [['fc02::2 . fe00::1', 7000]]);
  });

  it('a swap back within the grace: the returning responder stays late until the release', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    // Between the rule change and the release (the conntrack delete runs in between), C's
    // packets are still rewritten statelessly: both servers are in the set.
    updateAt(t, SWAP_BACK, 5000, 2000);
    assert.deepEqual(former(t), [
      ['fc01::1 . fe00::1', 6000],
      ['fc02::2 . fe00::1', 7000],
    ]);
    releaseAt(t, SWAP_BACK, 5000, 2100);
    assert.deepEqual(former(t), [['fc02::2 . fe00::1', 7000]]);
  });

  it('a swap back after the grace: the release’s absent pair works on the expired element too', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    updateAt(t, SWAP_BACK, 5000, 9000);
    assert.deepEqual(former(t), [['fc02::2 . fe00::1', 14000]]);
    // C's element expired: a bare delete would fail the transaction; the add before it makes it safe.
    releaseAt(t, SWAP_BACK, 5000, 9000);
    assert.deepEqual(former(t), [['fc02::2 . fe00::1', 14000]]);
  });

  it('the release of a swap to a server that was never a former responder changes nothing', () => {
    const t = updateAt(installed(), SWAP, 5000, 1000);
    const between = lateOf(t);
    assert.deepEqual(lateOf(releaseAt(t, SWAP, 5000, 1000)), between);
  });

  it('re-adding an element with another timeout restarts it (as kernel 6.18 does)', () => {
    const swapped = () => swapAt(installed(), SWAP, 5000, 1000);
    assert.deepEqual(former(swapped()), [['fc01::1 . fe00::1', 6000]]);
    // A longer timeout at t=4000: the element outlives its first expiry, until t=4000 + 8000.
    const longer = swapped();
    clockAt(longer, 4000);
    longer.applyNft(add(8000));
    assert.deepEqual(former(longer), [['fc01::1 . fe00::1', 12_000]]);
    clockAt(longer, 11_999);
    assert.equal(lateOf(longer).former.size, 1);
    clockAt(longer, 12_000);
    assert.equal(lateOf(longer).former.size, 0);
    // A shorter one at t=2000: now + timeout, whatever was left.
    const shorter = swapped();
    clockAt(shorter, 2000);
    shorter.applyNft(add(1000));
    assert.deepEqual(former(shorter), [['fc01::1 . fe00::1', 3000]]);
    // None given: the element has no timeout any more and stays.
    const none = swapped();
    clockAt(none, 2000);
    none.applyNft(add());
    assert.deepEqual(former(none), [['fc01::1 . fe00::1', Number.POSITIVE_INFINITY]]);
    clockAt(none, 1e12);
    assert.equal(lateOf(none).former.size, 1);
  });

  it('re-adding an element with the same timeout leaves its expiry be (the kernel does not restart it)', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    clockAt(t, 3000);
    // The same swap's transaction applied again (a retry) does not prolong the grace.
    applyTo(t, lateTable.update('B', SWAP, 5000));
    clockAt(t, 4000);
    t.applyNft(add(5000));
    assert.deepEqual(former(t), [['fc01::1 . fe00::1', 6000]]);
    clockAt(t, 6000);
    assert.equal(lateOf(t).former.size, 0);
    // Once expired, an add is a new element with a fresh timeout.
    t.applyNft(add(5000));
    assert.deepEqual(former(t), [['fc01::1 . fe00::1', 11_000]]);
  });

  it('the timeout a re-add compares with is the one the element was last given', () => {
    const changed = () => {
      const t = swapAt(installed(), SWAP, 5000, 1000);
      clockAt(t, 2000);
      t.applyNft(add(8000)); // until 10000, timeout 8000
      clockAt(t, 3000);
      return t;
    };
    const same = changed();
    same.applyNft(add(8000));
    assert.deepEqual(former(same), [['fc01::1 . fe00::1', 10_000]]);
    const other = changed();
    other.applyNft(add(5000));
    assert.deepEqual(former(other), [['fc01::1 . fe00::1', 8000]]);
  });

  it('grace 0: neither the update nor the release writes the late set', () => {
    assert.equal(lateTable.update('B', SWAP, 0), undefined);
    assert.equal(lateTable.release('B', SWAP, 0), undefined);
    assert.equal(lateOf(swapAt(installed(), SWAP, 0, 1000)).former.size, 0);
  });

  it('an initiator change: the flow’s late packets go to the new initiator', () => {
    const after = { ...M1, initiatorAddress: 'fc03::1' };
    const t = swapAt(installed(), [{ before: M1, after }], 5000, 0);
    assert.equal(lateOf(t).initiators.get('fe00::1'), 'fc03::1');
    assert.equal(lateOf(t).initiators.get('fe00::2'), 'fc00::1');
  });

  it('a delete of a missing (or expired) element fails the transaction, as in nft, nothing changed', () => {
    const t = swapAt(installed(), SWAP, 5000, 1000);
    clockAt(t, 2000);
    const before = listed(t);
    const initiators = setRef(LATE_TABLE_DECL, INITIATOR_MAP);
    assert.throws(
      () =>
        t.applyNft([
          addElements(initiators, [{ key: ['fe00::9'], value: 'fc09::9' }]),
          deleteElements(lateSet, [{ key: ['fc09::9', 'fe00::9'] }]),
        ]),
      (e: unknown) =>
        e instanceof NftError &&
        e.message ===
          'Error: Could not process rule: No such file or directory\ndelete element ip6 flowmig_late late_from { fc09::9 . fe00::9 }',
    );
    assert.equal(listed(t), before, 'the initiator added before the failing delete is not there');
    const expired = [deleteElements(lateSet, [{ key: ['fc01::1', 'fe00::1'] }])];
    const early = swapAt(installed(), SWAP, 5000, 1000);
    clockAt(early, 5999);
    assert.doesNotThrow(() => early.applyNft(expired));
    clockAt(t, 6000);
    assert.throws(() => t.applyNft(expired), /No such file or directory/);
    assert.throws(
      () => t.applyNft([deleteElements(initiators, [{ key: ['fe00::9'] }])]),
      /delete element ip6 flowmig_late initiator_of \{ fe00::9 \}/,
    );
  });

  it('adding an initiator that is there with another value fails (nft: File exists)', () => {
    const t = installed();
    assert.throws(
      () =>
        t.applyNft([
          addElements(setRef(LATE_TABLE_DECL, INITIATOR_MAP), [
            { key: ['fe00::1'], value: 'fc09::9' },
          ]),
        ]),
      /File exists/,
    );
    // The same value again is fine.
    t.applyNft([
      addElements(setRef(LATE_TABLE_DECL, INITIATOR_MAP), [{ key: ['fe00::1'], value: 'fc00::1' }]),
    ]);
  });

  it('flush clears the initiators only; delete table removes everything', () => {
    const t = swapAt(installed(), SWAP, 5000, 0);
    t.apply(lateTable.replace('B', [M2]));
    assert.deepEqual([...lateOf(t).initiators], [['fe00::2', 'fc00::1']]);
    assert.equal(lateOf(t).former.size, 1);
    t.apply(lateTable.uninstall('B'));
    assert.equal(t.list(LATE_TABLE_DECL), undefined);
    assert.deepEqual(lateOf(t), { initiators: new Map(), former: new Map() });
  });

  it('without the table, a migration’s late transaction fails (nft: No such file or directory)', () => {
    const t = translatorAfter([]);
    assert.throws(() => applyTo(t, lateTable.update('B', SWAP, 5000)), /No such file or directory/);
  });
});
