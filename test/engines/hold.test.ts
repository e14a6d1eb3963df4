// The hold table: its typed operations and their text, how it is read back (captured nft -j and
// ip6tables-save output), and where held packets go in a fake translator, with either engine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeTranslator } from '../../src/engines/fake.js';
import {
  HOLD_COMMENT,
  HOLD_MARK_BACK,
  HOLD_MARK_IN,
  HOLD_QUEUE,
  HOLD_RULES,
  HOLD_SET,
  HOLD_TABLE,
  HOLD_TABLE_DECL,
  holdEdit,
  holdTable,
  parseHoldJson,
  renderHoldTable,
} from '../../src/engines/hold.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import {
  addElements,
  addTable,
  declareTable,
  deleteElements,
  deleteTable,
} from '../../src/nft/transaction.js';
import { mappingsFor, planUp } from '../../src/plan/build.js';
import { planMigration } from '../../src/plan/migrate.js';
import { TWO_FLOWS_LAB } from '../support/labs.js';
import { M1, M2 } from '../support/mappings.js';
import { HOLD_JSON_HELD, HOLD_MANGLE_SAVE, HOLD_RAW_SAVE } from '../support/nft-samples.js';
import { applyTo, argvOf, programOp, stdinOf, withoutHandles } from './ops.js';

const HELD = { family: 'ip6', name: HOLD_TABLE, set: HOLD_SET, kind: 'set' } as const;

describe('the hold table’s declaration and rules', () => {
  it('renders as it always has: a set, TCP marked in prerouting (raw - 10) and forward (mangle - 10)', () => {
    assert.equal(
      renderHoldTable(),
      [
        'table ip6 flowmig_hold {',
        '  set held { type ipv6_addr . ipv6_addr; }',
        '  chain hold_in {',
        '    type filter hook prerouting priority raw - 10; policy accept;',
        '    meta l4proto tcp ip6 saddr . ip6 daddr @held meta mark set 0x464d0001',
        '  }',
        '  chain hold_back {',
        '    type filter hook forward priority mangle - 10; policy accept;',
        '    meta l4proto tcp ip6 daddr . ct original ip6 daddr @held meta mark set 0x464d0002',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('queues what carries the marks: raw PREROUTING and mangle FORWARD, no bypass', () => {
    assert.equal(
      HOLD_RULES,
      [
        '*raw',
        `-A PREROUTING -m mark --mark 0x464d0001 -m comment --comment ${HOLD_COMMENT} -j NFQUEUE --queue-num 7710`,
        'COMMIT',
        '*mangle',
        `-A FORWARD -m mark --mark 0x464d0002 -m comment --comment ${HOLD_COMMENT} -j NFQUEUE --queue-num 7710`,
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(HOLD_RULES, /bypass/);
    assert.equal(HOLD_QUEUE, 7710);
    assert.notEqual(HOLD_MARK_IN, HOLD_MARK_BACK);
  });
});

describe('holdTable operations (typed)', () => {
  it('install: the table as one nft transaction, then the queueing rules', () => {
    const [table, queue] = holdTable.install('B');
    assert.ok(table && 'nft' in table);
    assert.deepEqual(table.nft, [addTable(HOLD_TABLE_DECL)]);
    assert.equal(stdinOf(table), `${renderHoldTable()}\n`);
    assert.equal(table.summary, 'nft: table ip6 flowmig_hold (TCP packets held while moving)');
    const rules = programOp(queue);
    assert.deepEqual(rules.argv, ['ip6tables-restore', '--noflush']);
    assert.equal(rules.stdin, HOLD_RULES);
    assert.equal(rules.netns, 'B');
  });

  it('set: one element of the held set in or out, with the same edit for the agent', () => {
    const on = holdTable.set('B', M1, true);
    assert.ok('nft' in on);
    assert.deepEqual(on.nft, [addElements(HELD, [{ key: ['fc00::1', 'fe00::1'] }])]);
    assert.equal(stdinOf(on), 'add element ip6 flowmig_hold held { fc00::1 . fe00::1 }\n');
    assert.deepEqual(on.edits, [holdEdit(M1, true)]);
    assert.equal(on.summary, 'nft: hold TCP of flow fe00::1');
    const off = holdTable.set('B', M1, false);
    assert.ok('nft' in off);
    assert.deepEqual(off.nft, [deleteElements(HELD, [{ key: ['fc00::1', 'fe00::1'] }])]);
    assert.equal(off.summary, 'nft: release TCP of flow fe00::1');
  });

  it('holdEdit: the initiator and the abstract address, in or out of the set', () => {
    assert.deepEqual(holdEdit(M2, true), {
      table: HOLD_TABLE,
      map: HOLD_SET,
      set: true,
      remove: [],
      add: [['fc00::1', 'fe00::2']],
    });
    assert.deepEqual(holdEdit(M2, false).remove, [['fc00::1', 'fe00::2']]);
  });

  it('repair: the table restated (declared, deleted, declared whole); the queueing rules only when missing', () => {
    const [table, ...rest] = holdTable.repair('B', {
      installed: false,
      queueRules: false,
      held: [],
    });
    assert.ok(table && 'nft' in table);
    assert.deepEqual(table.nft, [
      declareTable(HOLD_TABLE_DECL),
      deleteTable(HOLD_TABLE_DECL),
      addTable(HOLD_TABLE_DECL),
    ]);
    assert.deepEqual(rest.map(argvOf), [['ip6tables-restore', '--noflush']]);
    assert.equal(holdTable.repair('B', { installed: true, queueRules: true, held: [] }).length, 1);
  });

  it('inspect: the table as JSON, then the raw and mangle rules', () => {
    assert.deepEqual(
      holdTable.inspect('B').map((c) => c.argv.join(' ')),
      ['nft -j list table ip6 flowmig_hold', 'ip6tables-save -t raw', 'ip6tables-save -t mangle'],
    );
  });
});

describe('reading the hold table back (real output)', () => {
  it('a held flow, both chains, both queueing rules', () => {
    assert.deepEqual(holdTable.parse([HOLD_JSON_HELD, HOLD_RAW_SAVE, HOLD_MANGLE_SAVE]), {
      installed: true,
      held: [['fc00::1', 'fe00::1']],
      queueRules: true,
    });
  });

  it('a queueing rule missing in either table: not all there', () => {
    assert.equal(holdTable.parse([HOLD_JSON_HELD, '', HOLD_MANGLE_SAVE]).queueRules, false);
    assert.equal(holdTable.parse([HOLD_JSON_HELD, HOLD_RAW_SAVE, '']).queueRules, false);
  });

  it('a chain or its rule missing, no table, or no JSON: not installed', () => {
    type Doc = { nftables: Record<string, unknown>[] };
    const without = (drop: (i: Record<string, unknown>) => boolean) => {
      const doc = JSON.parse(HOLD_JSON_HELD) as Doc;
      doc.nftables = doc.nftables.filter((i) => !drop(i));
      return JSON.stringify(doc);
    };
    const chain = (name: string) => (i: Record<string, unknown>) =>
      (i.chain as { name?: string } | undefined)?.name === name;
    const rule = (name: string) => (i: Record<string, unknown>) =>
      (i.rule as { chain?: string } | undefined)?.chain === name;
    for (const text of [
      without(chain('hold_in')),
      without(rule('hold_back')),
      '',
      'Error: x',
      '{}',
    ])
      assert.equal(parseHoldJson(text).installed, false, text.slice(0, 60));
    assert.deepEqual(parseHoldJson(without(chain('hold_in'))).held, [['fc00::1', 'fe00::1']]);
  });

  it('a fake translator lists and saves what the kernel did (but for handles and dates)', () => {
    const t = applyTo(
      new FakeTranslator(),
      ...holdTable.install('B'),
      holdTable.set('B', M1, true),
    );
    assert.deepEqual(
      withoutHandles(t.read(['nft', '-j', 'list', 'table', 'ip6', HOLD_TABLE]) ?? ''),
      withoutHandles(HOLD_JSON_HELD),
    );
    const noDates = (text: string) => text.replace(/ on .*$/gm, '');
    assert.equal(noDates(t.read(['ip6tables-save', '-t', 'raw']) ?? ''), noDates(HOLD_RAW_SAVE));
    assert.equal(
      noDates(t.read(['ip6tables-save', '-t', 'mangle']) ?? ''),
      noDates(HOLD_MANGLE_SAVE),
    );
  });
});

/** fe00::1 moves its TCP connections (hold table installed by up); fe00::2 does not. */
const LIVE_LAB: LabDescriptionInput = {
  ...TWO_FLOWS_LAB,
  name: 'live',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'migrate' },
    { address: 'fe00::2', initiator: 'A', responder: 'D' },
  ],
};

for (const engine of [nftablesEngine, iptablesEngine]) {
  describe(`${engine.name}: held packets in a fake translator`, () => {
    const lab = resolveLab({ ...LIVE_LAB, engine: engine.name });
    const [f1] = mappingsFor(lab, lab.flows);
    assert.ok(f1);
    const t0 = lab.translator.netns;
    const up = () => applyTo(new FakeTranslator(), ...planUp(lab, engine));
    const tcp = (id = 40000) => ({ src: 'fc00::1', dst: 'fe00::1', proto: 'tcp' as const, id });
    /** The server's segment of connection `id` (it answers the abstract address it was sent from). */
    const reply = (id = 40000, from = 'fc01::1') => ({
      src: from,
      dst: 'fe00::1',
      proto: 'tcp' as const,
      id,
    });

    it('up installs the hold table with nothing held: TCP passes both ways', () => {
      const t = up();
      assert.equal(t.send(tcp()).to, 'fc01::1');
      assert.deepEqual(t.send(reply()), { to: 'fc00::1', from: 'fe00::1', newEntry: false });
    });

    it('holding the flow queues its TCP both ways: the client’s before conntrack, the server’s in forward', () => {
      const t = up();
      t.send(tcp());
      applyTo(t, holdTable.set(t0, f1, true));
      assert.deepEqual(t.send(tcp()), {
        to: undefined,
        from: 'fc00::1',
        newEntry: false,
        held: true,
      });
      assert.equal(t.send(reply()).held, true);
      // A new connection of the flow is held too, and makes no conntrack entry while held.
      const before = t.entriesTo('fe00::1');
      assert.equal(t.send(tcp(40001)).held, true);
      assert.equal(t.entriesTo('fe00::1'), before);
    });

    it('only the flow’s TCP is held: its UDP and ping, and the other flow, pass', () => {
      const t = up();
      applyTo(t, holdTable.set(t0, f1, true));
      assert.equal(t.send({ ...tcp(), proto: 'udp' }).to, 'fc01::1');
      assert.equal(t.send({ ...tcp(), proto: 'icmpv6', id: 7 }).to, 'fc01::1');
      assert.equal(t.send({ ...tcp(), dst: 'fe00::2' }).to, 'fc02::2');
    });

    it('moved while held, released after: the connection’s next segments reach the new server', () => {
      const t = up();
      t.send(tcp());
      applyTo(t, holdTable.set(t0, f1, true));
      assert.equal(t.send(tcp()).held, true);
      applyTo(t, ...planMigration(lab, engine, lab.flows, 'fe00::1', 'D').ops);
      assert.equal(t.send(tcp()).held, true, 'still held after the switch-over');
      applyTo(t, holdTable.set(t0, f1, false));
      assert.deepEqual(t.send(tcp()), { to: 'fc02::2', from: 'fe00::1', newEntry: true });
      assert.deepEqual(t.send(reply(40000, 'fc02::2')), {
        to: 'fc00::1',
        from: 'fe00::1',
        newEntry: false,
      });
    });

    it('without the queueing rules a marked packet is not queued (the marks alone hold nothing)', () => {
      const t = applyTo(
        new FakeTranslator(),
        ...planUp(lab, engine).filter((op) => !('stdin' in op && op.stdin === HOLD_RULES)),
      );
      applyTo(t, holdTable.set(t0, f1, true));
      assert.equal(t.send(tcp()).to, 'fc01::1');
      assert.equal(
        holdTable.parse(holdTable.inspect(t0).map((c) => t.read(c.argv) ?? '')).queueRules,
        false,
      );
    });
  });
}
