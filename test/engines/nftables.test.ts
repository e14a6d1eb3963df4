import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinNftOps } from '../../src/engines/edits.js';
import type { FlowMapping } from '../../src/engines/engine.js';
import { lateTable } from '../../src/engines/late.js';
import * as nftables from '../../src/engines/nftables.js';
import {
  additions,
  DNAT_BACK_MAP,
  DNAT_MAP,
  FLOWMIG_TABLE,
  mapEdits,
  NFT_TABLE,
  nftablesEngine,
  parseNftJson,
  renderTable,
} from '../../src/engines/nftables.js';
import { engineFor } from '../../src/engines/registry.js';
import { NftError } from '../../src/nft/fake.js';
import { counter, setRef } from '../../src/nft/objects.js';
import { addTable, deleteElements } from '../../src/nft/transaction.js';
import { at } from '../support/labs.js';
import { M1, M2 } from '../support/mappings.js';
import {
  NFT_JSON_AFTER_UPDATE,
  NFT_JSON_EMPTY,
  NFT_JSON_FOREIGN_RULE,
  NFT_JSON_NO_POSTROUTING,
  NFT_JSON_NO_TABLE,
  NFT_JSON_THREE_FLOWS,
} from '../support/nft-samples.js';
import { argvOf, mappingsAfter, stdinOf, translatorAfter, withoutHandles } from './ops.js';

const M3: FlowMapping = {
  address: 'fe00::1:0',
  initiatorAddress: 'fc03::1',
  responderAddress: 'fc01::1',
};

/** The changes whose update script was applied to the installed [M1, M2, M3] to capture NFT_JSON_AFTER_UPDATE. */
const UPDATE_CHANGES = [
  { before: M1, after: { ...M1, responderAddress: 'fc02::2' } },
  { before: M2, after: { ...M2, initiatorAddress: 'fc03::1' } },
  { before: M3 },
  { after: { address: 'fe00::3', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' } },
];
const AFTER_UPDATE: FlowMapping[] = [
  { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
  { address: 'fe00::2', initiatorAddress: 'fc03::1', responderAddress: 'fc02::2' },
  { address: 'fe00::3', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' },
];

const byAddress = (ms: readonly FlowMapping[]) =>
  [...ms].sort((a, b) => a.address.localeCompare(b.address));

/** The mappings after installing `current` and then `op`, in a fake translator. */
const after = (current: readonly FlowMapping[], op: Parameters<typeof stdinOf>[0]) =>
  mappingsAfter(nftablesEngine, [nftablesEngine.install('B', current), op]);

const prerouting = () => at(FLOWMIG_TABLE.chains, 0);

const noAll = () => {
  throw new Error('the nftables engine must not need the whole table');
};

type Doc = { nftables: Record<string, unknown>[] };
type MapItem = { map?: { name: string; elem?: [unknown, unknown][] } };

/** NFT_JSON_THREE_FLOWS with `edit` applied to its parsed document. */
function threeFlowsWith(edit: (doc: Doc) => void): string {
  const doc = JSON.parse(NFT_JSON_THREE_FLOWS) as Doc;
  edit(doc);
  return JSON.stringify(doc);
}

const mapOf = (doc: Doc, name: string) =>
  (doc.nftables as MapItem[]).find((i) => i.map?.name === name)?.map;

describe('renderTable', () => {
  it('declares the ip6 flowmig table: two maps, dnat there and back, one snat on the way out', () => {
    assert.equal(
      renderTable(),
      [
        'table ip6 flowmig {',
        '  map dnat_to { type ipv6_addr . ipv6_addr : ipv6_addr; }',
        '  map dnat_back { type ipv6_addr . ipv6_addr : ipv6_addr; }',
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        '    dnat to ip6 saddr . ip6 daddr map @dnat_to;',
        '    dnat to ip6 saddr . ip6 daddr map @dnat_back;',
        '  }',
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        '    ct status dnat snat to ct original ip6 daddr;',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('one snat rule for both directions: a translated connection leaves from its abstract address', () => {
    const lines = renderTable().split('\n');
    // The source becomes the address the connection was sent to, whichever end opened it; only
    // connections flowmig's dnat translated (ct status dnat), with no per-flow element.
    assert.deepEqual(
      lines.filter((l) => l.includes('snat')),
      ['    ct status dnat snat to ct original ip6 daddr;'],
    );
    assert.deepEqual(
      lines.filter((l) => l.trim().startsWith('map ')).map((l) => l.trim().split(' ')[1]),
      ['dnat_to', 'dnat_back'],
    );
    assert.doesNotMatch(renderTable(), /snat_from|@snat/);
  });

  it('uses the exported names (no snat map any more)', () => {
    assert.equal(NFT_TABLE, 'flowmig');
    assert.equal(DNAT_MAP, 'dnat_to');
    assert.equal(DNAT_BACK_MAP, 'dnat_back');
    assert.equal('SNAT_MAP' in nftables, false);
  });
});

describe('mapEdits', () => {
  it('a new flow adds its way there and its way back: two elements, no snat element', () => {
    assert.deepEqual(mapEdits([{ after: M1 }]), [
      { map: 'dnat_to', remove: [], add: [['fc00::1', 'fe00::1', 'fc01::1']] },
      { map: 'dnat_back', remove: [], add: [['fc01::1', 'fe00::1', 'fc00::1']] },
    ]);
  });

  it('a removed flow removes both its elements (keys only)', () => {
    assert.deepEqual(mapEdits([{ before: M2 }]), [
      { map: 'dnat_to', remove: [['fc00::1', 'fe00::2']], add: [] },
      { map: 'dnat_back', remove: [['fc02::2', 'fe00::2']], add: [] },
    ]);
  });

  it('a responder change: the way there changes its value, the way back its key', () => {
    assert.deepEqual(mapEdits([{ before: M1, after: { ...M1, responderAddress: 'fc02::2' } }]), [
      // Same key, new value: removed and added in the one transaction.
      {
        map: 'dnat_to',
        remove: [['fc00::1', 'fe00::1']],
        add: [['fc00::1', 'fe00::1', 'fc02::2']],
      },
      {
        map: 'dnat_back',
        remove: [['fc01::1', 'fe00::1']],
        add: [['fc02::2', 'fe00::1', 'fc00::1']],
      },
    ]);
  });

  it('an initiator change: the way there changes its key, the way back its value', () => {
    assert.deepEqual(mapEdits([{ before: M1, after: { ...M1, initiatorAddress: 'fc03::1' } }]), [
      {
        map: 'dnat_to',
        remove: [['fc00::1', 'fe00::1']],
        add: [['fc03::1', 'fe00::1', 'fc01::1']],
      },
      // The way back keeps its key and changes its value.
      {
        map: 'dnat_back',
        remove: [['fc01::1', 'fe00::1']],
        add: [['fc01::1', 'fe00::1', 'fc03::1']],
      },
    ]);
  });

  it('an unchanged flow gives no edit at all', () => {
    assert.deepEqual(mapEdits([{ before: M1, after: { ...M1 } }]), []);
    assert.deepEqual(mapEdits([]), []);
    assert.deepEqual(mapEdits([{}]), []);
  });

  it('several changes are merged into one edit per map, in change order', () => {
    assert.deepEqual(mapEdits(UPDATE_CHANGES), [
      {
        map: 'dnat_to',
        remove: [
          ['fc00::1', 'fe00::1'],
          ['fc00::1', 'fe00::2'],
          ['fc03::1', 'fe00::1:0'],
        ],
        add: [
          ['fc00::1', 'fe00::1', 'fc02::2'],
          ['fc03::1', 'fe00::2', 'fc02::2'],
          ['fc00::1', 'fe00::3', 'fc01::1'],
        ],
      },
      {
        map: 'dnat_back',
        remove: [
          ['fc01::1', 'fe00::1'],
          ['fc02::2', 'fe00::2'],
          ['fc01::1', 'fe00::1:0'],
        ],
        add: [
          ['fc02::2', 'fe00::1', 'fc00::1'],
          ['fc02::2', 'fe00::2', 'fc03::1'],
          ['fc01::1', 'fe00::3', 'fc00::1'],
        ],
      },
    ]);
  });

  it('every flow is exactly two elements, whatever the changes', () => {
    const adds = (changes: Parameters<typeof mapEdits>[0]) =>
      mapEdits(changes).reduce((n, e) => n + e.add.length, 0);
    assert.equal(adds(additions([M1, M2, M3])), 6);
    assert.deepEqual(
      mapEdits(additions([M1, M2, M3])).map((e) => e.map),
      ['dnat_to', 'dnat_back'],
    );
    const removes = mapEdits([{ before: M1 }, { before: M2 }, { before: M3 }]);
    assert.equal(
      removes.reduce((n, e) => n + e.remove.length, 0),
      6,
    );
  });

  it('the last part of every key is the flow’s abstract address (the agent relies on it)', () => {
    for (const e of mapEdits(UPDATE_CHANGES)) {
      for (const k of e.remove) assert.match(k[k.length - 1] ?? '', /^fe00:/);
      for (const k of e.add) assert.match(k[k.length - 2] ?? '', /^fe00:/);
    }
  });

  it('additions turns mappings into changes without `before`', () => {
    assert.deepEqual(additions([M1, M2]), [{ after: M1 }, { after: M2 }]);
    assert.deepEqual(additions([]), []);
  });
});

describe('nftablesEngine operations', () => {
  it('is found by name and needs nft; the agent may apply it (fast path on its table)', () => {
    assert.equal(engineFor('nftables'), nftablesEngine);
    assert.equal(nftablesEngine.name, 'nftables');
    assert.deepEqual(nftablesEngine.programs, ['nft']);
    assert.deepEqual(nftablesEngine.fastPath, { table: 'flowmig' });
  });

  it('install: one `nft -f -` with the table and then the elements', () => {
    const op = nftablesEngine.install('B', [M1, M2, M3]);
    assert.equal(op.kind, 'netfilterApply');
    assert.equal(op.netns, 'B');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(op),
      [
        renderTable(),
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc01::1, fc00::1 . fe00::2 : fc02::2, fc03::1 . fe00::1:0 : fc01::1 }',
        'add element ip6 flowmig dnat_back { fc01::1 . fe00::1 : fc00::1, fc02::2 . fe00::2 : fc00::1, fc01::1 . fe00::1:0 : fc03::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'nft: table ip6 flowmig with 3 flow(s)');
    assert.equal(op.edits, undefined);
  });

  it('install with no mappings declares just the table', () => {
    const op = nftablesEngine.install('B', []);
    assert.equal(stdinOf(op), `${renderTable()}\n`);
  });

  it('replace: flushes the two maps, then adds every mapping, in one script', () => {
    const op = nftablesEngine.replace('B', [M2]);
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(op),
      [
        'flush map ip6 flowmig dnat_to',
        'flush map ip6 flowmig dnat_back',
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::2 : fc02::2 }',
        'add element ip6 flowmig dnat_back { fc02::2 . fe00::2 : fc00::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'nft: set 1 flow(s)');
    assert.doesNotMatch(stdinOf(op), /^table /m, 'does not redeclare the table');
  });

  it('update: the changed elements only, deletes first, with the same change as edits for the agent', () => {
    const changes = [{ before: M1, after: { ...M1, responderAddress: 'fc02::2' } }];
    const op = nftablesEngine.update('B', changes, noAll);
    assert.equal(op.netns, 'B');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(op),
      [
        'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
        'delete element ip6 flowmig dnat_back { fc01::1 . fe00::1 }',
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc02::2 }',
        'add element ip6 flowmig dnat_back { fc02::2 . fe00::1 : fc00::1 }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(op.edits, mapEdits(changes));
    assert.equal(op.summary, 'nft: fe00::1→fc02::2');
  });

  it('update summary lists three moves and counts the rest', () => {
    const changes = [1, 2, 3, 4, 5].map((i) => {
      const m = { ...M1, address: `fe00::${i}` };
      return { before: m, after: { ...m, responderAddress: 'fc02::2' } };
    });
    const op = nftablesEngine.update('B', changes, noAll);
    assert.equal(op.summary, 'nft: fe00::1→fc02::2, fe00::2→fc02::2, fe00::3→fc02::2 and 2 more');
  });

  it('update summary names the flow’s responder after an initiator change', () => {
    const op = nftablesEngine.update(
      'B',
      [{ before: M1, after: { ...M1, initiatorAddress: 'fc03::1' } }],
      noAll,
    );
    assert.equal(op.summary, 'nft: fe00::1→fc01::1');
  });

  it('update that only removes still says something', () => {
    assert.equal(nftablesEngine.update('B', [{ before: M1 }], noAll).summary, 'nft: map update');
  });

  it('update with nothing changed: an empty script and no edits', () => {
    const op = nftablesEngine.update('B', [{ before: M1, after: M1 }], noAll);
    assert.equal(stdinOf(op), '\n');
    assert.deepEqual(op.edits, []);
    assert.ok('nft' in op);
    assert.deepEqual(op.nft, []);
    assert.deepEqual(after([M1], op), [M1]);
  });

  it('uninstall deletes the table', () => {
    const op = nftablesEngine.uninstall('B');
    assert.ok(op);
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(stdinOf(op), 'delete table ip6 flowmig\n');
    assert.equal(op.netns, 'B');
  });

  it('inspect lists the table as JSON in the namespace', () => {
    assert.deepEqual(nftablesEngine.inspect('B'), {
      argv: ['nft', '-j', 'list', 'table', 'ip6', 'flowmig'],
      netns: 'B',
    });
  });
});

describe('nftablesEngine.repair', () => {
  const KERNEL_OK = { installed: true, mappings: [M1, M2] };

  it('one `nft -f -`: declare the table, delete it, declare it whole, then the elements', () => {
    const op = nftablesEngine.repair('t1-B', [M1, M2], KERNEL_OK);
    assert.equal(op.kind, 'netfilterApply');
    assert.equal(op.netns, 't1-B');
    assert.deepEqual(argvOf(op), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(op),
      [
        'table ip6 flowmig {}',
        'delete table ip6 flowmig',
        'table ip6 flowmig {',
        '  map dnat_to { type ipv6_addr . ipv6_addr : ipv6_addr; }',
        '  map dnat_back { type ipv6_addr . ipv6_addr : ipv6_addr; }',
        '  chain prerouting {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        '    dnat to ip6 saddr . ip6 daddr map @dnat_to;',
        '    dnat to ip6 saddr . ip6 daddr map @dnat_back;',
        '  }',
        '  chain postrouting {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        '    ct status dnat snat to ct original ip6 daddr;',
        '  }',
        '}',
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc01::1, fc00::1 . fe00::2 : fc02::2 }',
        'add element ip6 flowmig dnat_back { fc01::1 . fe00::1 : fc00::1, fc02::2 . fe00::2 : fc00::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'nft: table ip6 flowmig restated with 2 flow(s)');
    assert.equal(op.edits, undefined, 'a whole-table script: no map edits for the agent');
  });

  it('with no mappings: the table restated with empty maps', () => {
    const op = nftablesEngine.repair('B', [], { installed: false, mappings: [] });
    assert.equal(stdinOf(op), `table ip6 flowmig {}\ndelete table ip6 flowmig\n${renderTable()}\n`);
    assert.equal(op.summary, 'nft: table ip6 flowmig restated with 0 flow(s)');
  });

  it('the script is the same whatever the kernel holds: missing table, foreign rules, other flows', () => {
    const expected = stdinOf(nftablesEngine.repair('B', [M1, M3], KERNEL_OK));
    for (const kernel of [
      { installed: false, mappings: [] },
      { installed: true, mappings: [M2], foreignRules: 2 },
      parseNftJson(NFT_JSON_FOREIGN_RULE),
      parseNftJson(NFT_JSON_NO_TABLE),
    ]) {
      assert.equal(stdinOf(nftablesEngine.repair('B', [M1, M3], kernel)), expected);
    }
  });

  it('touches only flowmig’s own table, and declares it before deleting it (no error if missing)', () => {
    const lines = stdinOf(nftablesEngine.repair('B', [M1, M2, M3], KERNEL_OK))
      .trim()
      .split('\n');
    const top = lines.filter((l) => !l.startsWith(' ') && l !== '}');
    assert.deepEqual(top.slice(0, 3), [
      'table ip6 flowmig {}',
      'delete table ip6 flowmig',
      'table ip6 flowmig {',
    ]);
    for (const l of top) assert.match(l, /^(table|delete table|add element) ip6 flowmig( |$)/, l);
    assert.equal(lines.filter((l) => l.startsWith('delete ')).length, 1);
  });

  it('in a fake translator, leaves exactly the given mappings, whatever was there', () => {
    const stale = [{ ...M1, responderAddress: 'fc09::9' }, M3];
    const op = nftablesEngine.repair('B', [M1, M2], { installed: true, mappings: stale });
    assert.deepEqual(byAddress(after(stale, op)), [M1, M2]);
    assert.deepEqual(after([M1, M2, M3], nftablesEngine.repair('B', [], KERNEL_OK)), []);
    // Also where there was no table at all (the declaration makes the delete safe).
    assert.deepEqual(byAddress(mappingsAfter(nftablesEngine, [op])), [M1, M2]);
  });

  it('in a fake translator, a repair after someone added a rule leaves only flowmig’s rules', () => {
    const t = translatorAfter([nftablesEngine.install('B', [M1])]);
    t.applyNft([
      addTable({ ...FLOWMIG_TABLE, sets: [], chains: [{ ...prerouting(), rules: [[counter]] }] }),
    ]);
    assert.equal(parseNftJson(t.list(FLOWMIG_TABLE) ?? '').foreignRules, 1);
    t.apply(nftablesEngine.repair('B', [M1], KERNEL_OK));
    const table = parseNftJson(t.list(FLOWMIG_TABLE) ?? '');
    assert.deepEqual(table, { installed: true, mappings: [M1] });
  });

  it('a repaired table parses back as installed with no foreign rule (its script is install’s)', () => {
    const op = nftablesEngine.repair('B', [M1, M2, M3], KERNEL_OK);
    // What follows the delete is exactly what install writes (whose result NFT_JSON_THREE_FLOWS is).
    assert.ok(stdinOf(op).endsWith(stdinOf(nftablesEngine.install('B', [M1, M2, M3]))));
    const t = parseNftJson(NFT_JSON_THREE_FLOWS);
    assert.equal(t.installed, true);
    assert.equal('foreignRules' in t, false);
  });
});

describe('parseNftJson: foreign rules', () => {
  type RuleItem = { rule?: { table: string; chain: string; handle: number; expr: unknown[] } };
  const foreign = (chain: string, handle: number, table = 'flowmig') => ({
    rule: {
      family: 'ip6',
      table,
      chain,
      handle,
      expr: [
        { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
        { accept: null },
      ],
    },
  });

  it('a foreign rule in flowmig’s chain (real nft output): counted, table still read', () => {
    const t = parseNftJson(NFT_JSON_FOREIGN_RULE);
    assert.equal(t.foreignRules, 1);
    assert.equal(t.installed, true);
    assert.deepEqual(byAddress(t.mappings), byAddress([M1, M2, M3]));
    // The capture is the three-flow table plus that rule.
    const rules = (JSON.parse(NFT_JSON_FOREIGN_RULE) as Doc).nftables.filter((i) => 'rule' in i);
    assert.equal(rules.length, 4);
    assert.deepEqual(
      rules.map((i) => (i as RuleItem).rule?.handle),
      [5, 6, 8, 7],
    );
  });

  it('flowmig’s own table has none: the key is absent', () => {
    for (const text of [NFT_JSON_THREE_FLOWS, NFT_JSON_AFTER_UPDATE, NFT_JSON_EMPTY]) {
      assert.equal('foreignRules' in parseNftJson(text), false);
    }
    // Fewer rules than flowmig's three are missing ones, not a negative count of foreign ones.
    assert.equal('foreignRules' in parseNftJson(NFT_JSON_NO_POSTROUTING), false);
    assert.equal('foreignRules' in parseNftJson(NFT_JSON_NO_TABLE), false);
  });

  it('counts foreign rules and chains anywhere in the table, one each', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables.push(
          { chain: { family: 'ip6', table: 'flowmig', name: 'extra', handle: 9 } },
          foreign('extra', 10),
          foreign('postrouting', 11),
        );
      }),
    );
    assert.equal(t.foreignRules, 3);
    assert.equal(t.installed, true);
    assert.equal(t.mappings.length, 3);
  });

  it('a changed flowmig rule (same count) is foreign, and flowmig’s own is then missing', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        const post = doc.nftables.find(
          (i) => (i as RuleItem).rule?.chain === 'postrouting',
        ) as RuleItem;
        assert.ok(post.rule);
        post.rule.expr = [{ snat: { addr: 'fe00::99' } }];
      }),
    );
    assert.equal(t.foreignRules, 1);
    assert.equal(t.installed, false);
  });

  it('a second copy of a flowmig rule is foreign', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        const pre = doc.nftables.find((i) => (i as RuleItem).rule?.chain === 'prerouting');
        doc.nftables.push(structuredClone(pre) as Doc['nftables'][number]);
      }),
    );
    assert.equal(t.foreignRules, 1);
    assert.equal(t.installed, true);
  });

  it('a flowmig chain on another hook or priority is foreign, and the table incomplete', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        for (const i of doc.nftables) {
          const c = (i as { chain?: { name: string; prio: number } }).chain;
          if (c?.name === 'prerouting') c.prio = 0;
        }
      }),
    );
    assert.equal(t.foreignRules, 1);
    assert.equal(t.installed, false);
  });

  it('rules of other tables are not counted', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables.push(foreign('prerouting', 12, 'other'), foreign('late', 13, 'flowmig_late'));
      }),
    );
    assert.equal('foreignRules' in t, false);
    assert.equal(t.installed, true);
  });
});

describe('parseNftJson (real nft 1.0.6 output)', () => {
  it('reads the installed table with three flows', () => {
    const t = parseNftJson(NFT_JSON_THREE_FLOWS);
    assert.equal(t.installed, true);
    assert.deepEqual(byAddress(t.mappings), byAddress([M1, M2, M3]));
  });

  it('the kernel holds two maps and one postrouting rule: ct status dnat, snat to the original destination', () => {
    const doc = JSON.parse(NFT_JSON_THREE_FLOWS) as Doc;
    const items = doc.nftables as {
      map?: { name: string };
      rule?: { chain: string; expr: unknown[] };
    }[];
    assert.deepEqual(
      items.flatMap((i) => (i.map ? [i.map.name] : [])),
      ['dnat_to', 'dnat_back'],
    );
    const post = items.flatMap((i) => (i.rule?.chain === 'postrouting' ? [i.rule.expr] : []));
    assert.deepEqual(post, [
      [
        { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } },
        { snat: { addr: { ct: { key: 'ip6 daddr', dir: 'original' } } } },
      ],
    ]);
  });

  it('keeps the kernel’s order of the dnat_to map', () => {
    assert.deepEqual(
      parseNftJson(NFT_JSON_THREE_FLOWS).mappings.map((m) => m.address),
      ['fe00::1:0', 'fe00::1', 'fe00::2'],
    );
  });

  it('engine.parse is parseNftJson', () => {
    assert.deepEqual(
      nftablesEngine.parse(NFT_JSON_THREE_FLOWS),
      parseNftJson(NFT_JSON_THREE_FLOWS),
    );
  });

  it('reads the table after an update script, as the fake translator holds it', () => {
    const t = parseNftJson(NFT_JSON_AFTER_UPDATE);
    assert.equal(t.installed, true);
    assert.deepEqual(byAddress(t.mappings), AFTER_UPDATE);
    const update = nftablesEngine.update('B', UPDATE_CHANGES, noAll);
    assert.deepEqual(byAddress(after([M1, M2, M3], update)), AFTER_UPDATE);
  });

  it('an installed table without elements (maps have no `elem` key)', () => {
    assert.deepEqual(parseNftJson(NFT_JSON_EMPTY), { installed: true, mappings: [] });
  });

  it('a missing chain means not installed, the mappings are still read', () => {
    const t = parseNftJson(NFT_JSON_NO_POSTROUTING);
    assert.equal(t.installed, false);
    assert.deepEqual(byAddress(t.mappings), byAddress([M1, M2, M3]));
  });

  it('no table: not installed, no mappings', () => {
    assert.deepEqual(parseNftJson(NFT_JSON_NO_TABLE), { installed: false, mappings: [] });
  });

  it('empty or non-JSON output (nft failed): not installed', () => {
    assert.deepEqual(parseNftJson(''), { installed: false, mappings: [] });
    assert.deepEqual(parseNftJson('Error: No such file or directory'), {
      installed: false,
      mappings: [],
    });
    assert.deepEqual(parseNftJson('{}'), { installed: false, mappings: [] });
  });

  it('ignores objects of another table', () => {
    const other = NFT_JSON_THREE_FLOWS.replaceAll('"table": "flowmig"', '"table": "other"');
    assert.deepEqual(parseNftJson(other), { installed: false, mappings: [] });
  });

  it('without rules the table is not installed', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables = doc.nftables.filter((i) => !('rule' in i));
      }),
    );
    assert.equal(t.installed, false);
    assert.equal(t.mappings.length, 3);
  });

  it('without the snat rule the table is not installed', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables = doc.nftables.filter((i) => !JSON.stringify(i).includes('"snat"'));
      }),
    );
    assert.equal(t.installed, false);
    assert.deepEqual(byAddress(t.mappings), byAddress([M1, M2, M3]));
  });

  it('without the way-back rule the table is not installed', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables = doc.nftables.filter((i) => !JSON.stringify(i).includes('"@dnat_back"'));
      }),
    );
    assert.equal(t.installed, false);
    assert.deepEqual(byAddress(t.mappings), byAddress([M1, M2, M3]));
  });

  it('without the dnat_back map the table is not installed and no flow is whole', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        doc.nftables = doc.nftables.filter((i) => (i as MapItem).map?.name !== 'dnat_back');
      }),
    );
    assert.equal(t.installed, false);
    assert.deepEqual(
      t.mappings.map((m) => m.responderAddress),
      ['', '', ''],
    );
  });

  it('a flow whose way back is missing is read without its responder (not in sync)', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        const back = mapOf(doc, 'dnat_back');
        assert.ok(back?.elem);
        // Drop fe00::1's element (fc01::1 . fe00::1 → fc00::1).
        back.elem = back.elem.filter((e) => !JSON.stringify(e[0]).includes('"fe00::1"'));
      }),
    );
    assert.equal(t.installed, true);
    assert.deepEqual(byAddress(t.mappings), [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: '' },
      M3,
      M2,
    ]);
  });

  it('a way back to another initiator does not make the flow whole', () => {
    const t = parseNftJson(
      threeFlowsWith((doc) => {
        const back = mapOf(doc, 'dnat_back');
        assert.ok(back?.elem);
        for (const e of back.elem) if (JSON.stringify(e[0]).includes('"fe00::2"')) e[1] = 'fc03::1';
      }),
    );
    const m2 = t.mappings.find((m) => m.address === 'fe00::2');
    assert.deepEqual(m2, { ...M2, responderAddress: '' });
  });
});

describe('nftablesEngine in a fake translator (its transactions applied as the kernel would)', () => {
  it('the install gives exactly the installed mappings, and lists as real nft listed it', () => {
    const op = nftablesEngine.install('B', [M1, M2, M3]);
    assert.deepEqual(byAddress(after([], op)), byAddress([M1, M2, M3]));
    const listed = translatorAfter([op]).list(FLOWMIG_TABLE) ?? '';
    // The captured listing of the same install, but for the handles and the elements' order.
    assert.deepEqual(parseNftJson(listed), {
      installed: true,
      mappings: [M1, M2, M3],
    });
    assert.deepEqual(withoutHandles(listed), withoutHandles(NFT_JSON_THREE_FLOWS));
  });

  it('dumps as the install script (golden text of the ruleset)', () => {
    const op = nftablesEngine.install('B', [M1, M2]);
    assert.equal(translatorAfter([op]).nft.dump(), stdinOf(op));
  });

  it('install then update gives the updated mappings', () => {
    assert.deepEqual(
      byAddress(after([M1, M2, M3], nftablesEngine.update('B', UPDATE_CHANGES, noAll))),
      AFTER_UPDATE,
    );
  });

  it('a migration there and back restores the table', () => {
    const moved = { ...M1, responderAddress: 'fc02::2' };
    const there = nftablesEngine.update('B', [{ before: M1, after: moved }], noAll);
    const back = nftablesEngine.update('B', [{ before: moved, after: M1 }], noAll);
    const t = translatorAfter([nftablesEngine.install('B', [M1, M2]), there]);
    assert.deepEqual(
      byAddress(parseNftJson(t.list(FLOWMIG_TABLE) ?? '').mappings),
      byAddress([moved, M2]),
    );
    t.apply(back);
    assert.deepEqual(
      byAddress(parseNftJson(t.list(FLOWMIG_TABLE) ?? '').mappings),
      byAddress([M1, M2]),
    );
  });

  it('replace sets exactly the given mappings, dropping the others', () => {
    assert.deepEqual(after([M1, M2], nftablesEngine.replace('B', [M3])), [M3]);
  });

  it('`delete table` removes it: nft lists nothing', () => {
    const op = nftablesEngine.uninstall('B');
    const t = translatorAfter([nftablesEngine.install('B', [M1]), op]);
    assert.equal(t.list(FLOWMIG_TABLE), undefined);
    assert.deepEqual(parseNftJson(t.read(nftablesEngine.inspect('B').argv) ?? ''), {
      installed: false,
      mappings: [],
    });
  });

  it('a change to the initiator only keeps the responder', () => {
    const op = nftablesEngine.update(
      'B',
      [{ before: M2, after: { ...M2, initiatorAddress: 'fc03::1' } }],
      noAll,
    );
    assert.deepEqual(byAddress(after([M1, M2], op)), [M1, { ...M2, initiatorAddress: 'fc03::1' }]);
  });

  it('a flow whose way back was deleted has no responder', () => {
    const t = translatorAfter([nftablesEngine.install('B', [M1, M2])]);
    t.applyNft([
      deleteElements(setRef(FLOWMIG_TABLE, DNAT_BACK_MAP), [{ key: ['fc01::1', 'fe00::1'] }]),
    ]);
    assert.deepEqual(parseNftJson(t.list(FLOWMIG_TABLE) ?? '').mappings, [
      { ...M1, responderAddress: '' },
      M2,
    ]);
  });

  it('fails like nft when a transaction deletes a missing element (the same swap twice), changing nothing', () => {
    const changes = [{ before: M1, after: { ...M1, responderAddress: 'fc02::2' } }];
    const op = nftablesEngine.update('B', changes, noAll);
    const t = translatorAfter([nftablesEngine.install('B', [M1, M2]), op]);
    const before = t.list(FLOWMIG_TABLE);
    // dnat_to's key fc00::1 . fe00::1 is still there (with the new value); the way back is not.
    assert.throws(
      () => t.apply(op),
      (e: unknown) =>
        e instanceof NftError &&
        e.message ===
          'Error: Could not process rule: No such file or directory\ndelete element ip6 flowmig dnat_back { fc01::1 . fe00::1 }',
    );
    assert.equal(t.list(FLOWMIG_TABLE), before, 'all or nothing');
  });

  it('applies both tables of a migration joined with the late table’s, as one transaction', () => {
    const changes = [{ before: M1, after: { ...M1, responderAddress: 'fc02::2' } }];
    const late = lateTable.update('B', changes, 5000);
    assert.ok(late);
    const joined = joinNftOps(nftablesEngine.update('B', changes, noAll), late);
    const t = translatorAfter([
      nftablesEngine.install('B', [M1, M2]),
      lateTable.install('B', [M1, M2]),
      joined,
    ]);
    assert.deepEqual(byAddress(parseNftJson(t.list(FLOWMIG_TABLE) ?? '').mappings), [
      { ...M1, responderAddress: 'fc02::2' },
      M2,
    ]);
    // Without the late table the whole transaction fails: the flowmig table stays as it was.
    const alone = translatorAfter([nftablesEngine.install('B', [M1, M2])]);
    assert.throws(() => alone.apply(joined), NftError);
    assert.deepEqual(parseNftJson(alone.list(FLOWMIG_TABLE) ?? '').mappings, [M1, M2]);
  });
});
