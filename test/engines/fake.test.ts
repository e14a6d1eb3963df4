import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Engine } from '../../src/engines/engine.js';
import { type FakePacket, FakeTranslator, type Trace } from '../../src/engines/fake.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { planUp } from '../../src/plan/build.js';
import { planMigration, planSwap } from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
import {
  referenceLab,
  THREE_SERVERS_LAB,
  TWO_CLIENTS_LAB,
  TWO_FLOWS_LAB,
} from '../support/labs.js';
import { argvOf } from './ops.js';

/** A translator after `up`: every op of planUp applied (only the netfilter one concerns it). */
function builtTranslator(lab: Lab, engine: Engine): FakeTranslator {
  const t = new FakeTranslator();
  for (const op of planUp(lab, engine)) t.apply(op);
  return t;
}

function ping(src: string, dst: string, id = 1): FakePacket {
  return { src, dst, proto: 'icmpv6', id };
}

function opOf<K extends Op['kind']>(ops: readonly Op[], kind: K): Extract<Op, { kind: K }> {
  const op = ops.find((o): o is Extract<Op, { kind: K }> => o.kind === kind);
  assert.ok(op, `no ${kind} op`);
  return op;
}

/**
 * The rule change of a plan: every netfilter transaction before the conntrack delete (one with
 * nftables, two with ip6tables).
 */
function rulesOf(ops: readonly Op[]): Op[] {
  const firstDelete = ops.findIndex((o) => o.kind === 'conntrackDelete');
  const rules = ops.slice(0, firstDelete).filter((o) => o.kind === 'netfilterApply');
  assert.ok(rules.length > 0, 'no netfilterApply op');
  return rules;
}

/** The late table's release: the netfilter transaction after the conntrack delete. */
function releaseOf(ops: readonly Op[]): Op {
  const lastDelete = ops.findLastIndex((o) => o.kind === 'conntrackDelete');
  const after = ops.slice(lastDelete + 1);
  assert.equal(after.length, 1, 'one release op');
  const [op] = after;
  assert.ok(op?.kind === 'netfilterApply');
  return op;
}

/** Applies every op of a plan, in order. */
function applyAll(t: FakeTranslator, ops: readonly Op[]): void {
  for (const op of ops) t.apply(op);
}

/** A late packet: rewritten statelessly to the initiator, from the abstract address. */
const late = (to: string, from: string): Trace => ({ to, from, newEntry: false, late: true });

for (const engine of [nftablesEngine, iptablesEngine]) {
  describe(`${engine.name}: FakeTranslator after up (reference lab)`, () => {
    const cases: { what: string; packet: FakePacket; trace: Trace }[] = [
      {
        what: 'A pings fe00::1: reaches C, source rewritten to fe00::1',
        packet: ping('fc00::1', 'fe00::1'),
        trace: { to: 'fc01::1', from: 'fe00::1', newEntry: true },
      },
      {
        what: 'UDP from A to fe00::1 goes the same way',
        packet: { src: 'fc00::1', dst: 'fe00::1', proto: 'udp', id: 40000 },
        trace: { to: 'fc01::1', from: 'fe00::1', newEntry: true },
      },
      {
        what: 'TCP from A to fe00::1 goes the same way',
        packet: { src: 'fc00::1', dst: 'fe00::1', proto: 'tcp', id: 41234 },
        trace: { to: 'fc01::1', from: 'fe00::1', newEntry: true },
      },
      {
        what: 'a packet to an unmapped abstract address goes nowhere',
        packet: ping('fc00::1', 'fe00::9'),
        trace: { to: undefined, from: 'fc00::1', newEntry: true },
      },
      {
        what: 'the responder speaks first: C’s packet to fe00::1 reaches A, from fe00::1',
        packet: { src: 'fc01::1', dst: 'fe00::1', proto: 'udp', id: 53 },
        trace: { to: 'fc00::1', from: 'fe00::1', newEntry: true },
      },
      {
        what: 'another server’s packet to fe00::1 is not translated into the flow',
        packet: ping('fc02::2', 'fe00::1'),
        trace: { to: undefined, from: 'fc02::2', newEntry: true },
      },
      {
        what: 'the responder’s packet to another abstract address goes nowhere',
        packet: ping('fc01::1', 'fe00::9'),
        trace: { to: undefined, from: 'fc01::1', newEntry: true },
      },
    ];
    for (const c of cases) {
      it(c.what, () => {
        const t = builtTranslator(referenceLab(), engine);
        assert.deepEqual(t.send(c.packet), c.trace);
        // The next packet of the same connection follows the entry the first one made.
        assert.deepEqual(t.send(c.packet), { ...c.trace, newEntry: false });
      });
    }

    it('before up nothing is mapped', () => {
      const t = new FakeTranslator();
      assert.equal(t.send(ping('fc00::1', 'fe00::1')).to, undefined);
    });

    it('counts conntrack entries per abstract address', () => {
      const t = builtTranslator(referenceLab(), engine);
      t.send(ping('fc00::1', 'fe00::1', 1));
      t.send(ping('fc00::1', 'fe00::1', 1));
      t.send(ping('fc00::1', 'fe00::1', 2));
      t.send(ping('fc00::1', 'fe00::9', 3));
      assert.equal(t.entriesTo('fe00::1'), 2);
      assert.equal(t.entriesTo('fe00::9'), 1);
      assert.equal(t.entriesTo('fe00::2'), 0);
    });
  });

  describe(`${engine.name}: FakeTranslator across a swap (SPEC invariant 1: rule first, then conntrack)`, () => {
    const lab = referenceLab();
    const ongoing = ping('fc00::1', 'fe00::1', 7);

    interface Scenario {
      readonly what: string;
      /** Steps after up and one packet of the ongoing flow: ops of the swap plan, or a packet. */
      readonly steps: (swap: readonly Op[]) => readonly (Op | FakePacket)[];
      /** Where the ongoing flow's next packet goes. */
      readonly ongoingTo: string;
      /** Where a new connection goes. */
      readonly fresh: string;
    }

    const scenarios: readonly Scenario[] = [
      {
        what: 'the plan in order: the same ongoing flow moves to D',
        steps: (swap) => [...swap],
        ongoingTo: 'fc02::2',
        fresh: 'fc02::2',
      },
      {
        what: 'the plan in order with a packet in between: the flow still moves to D',
        steps: (swap) => [
          ...rulesOf(swap),
          ongoing,
          opOf(swap, 'conntrackDelete'),
          releaseOf(swap),
        ],
        ongoingTo: 'fc02::2',
        fresh: 'fc02::2',
      },
      {
        what: 'conntrack first, a packet, then the rule: the flow stays stuck on C',
        steps: (swap) => [
          opOf(swap, 'conntrackDelete'),
          ongoing,
          ...rulesOf(swap),
          releaseOf(swap),
        ],
        ongoingTo: 'fc01::1',
        fresh: 'fc02::2',
      },
      {
        what: 'the rule alone: the ongoing flow stays on C, new connections go to D',
        steps: (swap) => rulesOf(swap),
        ongoingTo: 'fc01::1',
        fresh: 'fc02::2',
      },
      {
        what: 'conntrack alone: everything stays on C',
        steps: (swap) => [opOf(swap, 'conntrackDelete')],
        ongoingTo: 'fc01::1',
        fresh: 'fc01::1',
      },
    ];

    for (const s of scenarios) {
      it(s.what, () => {
        const t = builtTranslator(lab, engine);
        assert.equal(t.send(ongoing).to, 'fc01::1');
        const swap = planSwap(lab, engine, lab.flows, undefined).ops;
        for (const step of s.steps(swap)) {
          if ('kind' in step) t.apply(step);
          else t.send(step);
        }
        const next = t.send(ongoing);
        assert.equal(next.to, s.ongoingTo);
        assert.equal(next.from, 'fe00::1');
        assert.equal(t.send(ping('fc00::1', 'fe00::1', 99)).to, s.fresh);
      });
    }

    it('the plan’s own order is the one that works: the rule change, then conntrack, then the release', () => {
      const swap = planSwap(lab, engine, lab.flows, undefined).ops;
      // nftables: the mapping and the late table in one nft transaction; ip6tables: the mapping,
      // then the late table. Either way the late table's release (an nft transaction) comes last.
      assert.deepEqual(
        swap.map((op) => (op.kind === 'netfilterApply' ? argvOf(op)[0] : op.kind)),
        engine === nftablesEngine
          ? ['nft', 'conntrackDelete', 'nft']
          : ['ip6tables-restore', 'nft', 'conntrackDelete', 'nft'],
      );
    });

    it('swapping back and forth keeps moving the same flow: C → D → C', () => {
      const t = builtTranslator(lab, engine);
      let flows = lab.flows;
      const seen: (string | undefined)[] = [t.send(ongoing).to];
      for (let i = 0; i < 2; i++) {
        const plan = planSwap(lab, engine, flows, undefined);
        for (const op of plan.ops) t.apply(op);
        flows = [...plan.flows];
        seen.push(t.send(ongoing).to);
      }
      assert.deepEqual(seen, ['fc01::1', 'fc02::2', 'fc01::1']);
    });
  });

  describe(`${engine.name}: FakeTranslator with two flows (SPEC invariant 2: only the migrated flow’s entries go)`, () => {
    const lab = resolveLab(TWO_FLOWS_LAB);

    it('migrating fe00::1 leaves fe00::2 and its conntrack entries alone', () => {
      const t = builtTranslator(lab, engine);
      assert.equal(t.send(ping('fc00::1', 'fe00::1', 1)).to, 'fc01::1');
      assert.equal(t.send(ping('fc00::1', 'fe00::1', 2)).to, 'fc01::1');
      assert.equal(t.send(ping('fc00::1', 'fe00::2', 3)).to, 'fc02::2');
      assert.equal(
        t.send({ src: 'fc00::1', dst: 'fe00::2', proto: 'udp', id: 5555 }).to,
        'fc02::2',
      );
      assert.equal(t.entriesTo('fe00::1'), 2);
      assert.equal(t.entriesTo('fe00::2'), 2);

      for (const op of planMigration(lab, engine, lab.flows, 'fe00::1', 'D').ops) t.apply(op);

      assert.equal(t.entriesTo('fe00::1'), 0);
      assert.equal(t.entriesTo('fe00::2'), 2);
      const other = t.send(ping('fc00::1', 'fe00::2', 3));
      assert.deepEqual(other, { to: 'fc02::2', from: 'fe00::2', newEntry: false });
      const moved = t.send(ping('fc00::1', 'fe00::1', 1));
      assert.deepEqual(moved, { to: 'fc02::2', from: 'fe00::1', newEntry: true });
    });

    it('each flow’s initiator is rewritten to that flow’s own abstract address', () => {
      const t = builtTranslator(lab, engine);
      assert.equal(t.send(ping('fc00::1', 'fe00::1')).from, 'fe00::1');
      assert.equal(t.send(ping('fc00::1', 'fe00::2')).from, 'fe00::2');
    });
  });

  describe(`${engine.name}: FakeTranslator when the initiator migrates`, () => {
    it('the new client is rewritten to the abstract address, the old one no longer is', () => {
      const lab = resolveLab(TWO_CLIENTS_LAB);
      const t = builtTranslator(lab, engine);
      assert.equal(t.send(ping('fc00::1', 'fe00::1', 1)).from, 'fe00::1');
      for (const op of planMigration(lab, engine, lab.flows, 'fe00::1', 'E').ops) t.apply(op);
      assert.deepEqual(t.send(ping('fc03::1', 'fe00::1', 2)), {
        to: 'fc01::1',
        from: 'fe00::1',
        newEntry: true,
      });
      assert.deepEqual(t.send(ping('fc00::1', 'fe00::1', 1)), {
        to: undefined,
        from: 'fc00::1',
        newEntry: true,
      });
    });

    it('the responder’s packets find the new initiator', () => {
      const lab = resolveLab(TWO_CLIENTS_LAB);
      const t = builtTranslator(lab, engine);
      applyAll(t, planMigration(lab, engine, lab.flows, 'fe00::1', 'E').ops);
      assert.deepEqual(t.send(ping('fc01::1', 'fe00::1', 3)), {
        to: 'fc03::1',
        from: 'fe00::1',
        newEntry: true,
      });
    });
  });

  describe(`${engine.name}: FakeTranslator and late packets (the grace time)`, () => {
    const lab = referenceLab();
    /** A packet C (the former responder) sends to the flow after the swap, e.g. an echo reply. */
    const fromC = (id = 7) => ping('fc01::1', 'fe00::1', id);

    function swapped(l: Lab = lab): FakeTranslator {
      const t = builtTranslator(l, engine);
      assert.equal(t.send(ping('fc00::1', 'fe00::1', 7)).to, 'fc01::1');
      applyAll(t, planSwap(l, engine, l.flows, undefined).ops);
      return t;
    }

    it('the reference lab’s grace is 5 s', () => {
      assert.equal(lab.graceMs, 5000);
    });

    it('after a swap, C’s late packet is rewritten to A, from fe00::1, without conntrack', () => {
      const t = swapped();
      assert.equal(t.entriesTo('fe00::1'), 0);
      assert.deepEqual(t.send(fromC()), late('fc00::1', 'fe00::1'));
      assert.deepEqual(t.send({ ...fromC(), proto: 'udp', id: 5353 }), late('fc00::1', 'fe00::1'));
      assert.equal(t.entriesTo('fe00::1'), 0, 'a late packet makes no conntrack entry');
    });

    it('C’s late packets are translated until the grace runs out, then not at all', () => {
      const t = swapped();
      t.advance(lab.graceMs - 1);
      assert.deepEqual(t.send(fromC()), late('fc00::1', 'fe00::1'));
      t.advance(1);
      assert.deepEqual(t.send(fromC()), { to: undefined, from: 'fc01::1', newEntry: true });
    });

    it('the new responder’s packets take the way back, tracked (not late)', () => {
      const t = swapped();
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), {
        to: 'fc00::1',
        from: 'fe00::1',
        newEntry: true,
      });
    });

    it('the ongoing flow and new connections go to D while C’s late packets go to A', () => {
      const t = swapped();
      assert.deepEqual(t.send(ping('fc00::1', 'fe00::1', 7)), {
        to: 'fc02::2',
        from: 'fe00::1',
        newEntry: true,
      });
      assert.deepEqual(t.send(fromC()), late('fc00::1', 'fe00::1'));
    });

    it('swapping back within the grace: C is tracked again, D’s packets are the late ones', () => {
      const t = builtTranslator(lab, engine);
      const there = planSwap(lab, engine, lab.flows, undefined);
      applyAll(t, there.ops);
      t.advance(1000);
      applyAll(t, planSwap(lab, engine, there.flows, undefined).ops);
      assert.deepEqual(t.send(fromC(8)), { to: 'fc00::1', from: 'fe00::1', newEntry: true });
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), late('fc00::1', 'fe00::1'));
      assert.deepEqual(t.send(ping('fc00::1', 'fe00::1', 10)).to, 'fc01::1');
    });

    // The returning responder leaves the late set only in the release, after the conntrack
    // delete. Tracked before that, its late packet would start a connection whose reply tuple is
    // taken by A's entry to the old responder: NAT would remap the port and A's socket would drop
    // the reply. Rewritten statelessly, it arrives. (The fake does not model the port clash; it
    // shows which way the packet takes at each step.)
    it('swapping back within the grace: C’s packets stay late until the release, then are tracked', () => {
      const t = builtTranslator(lab, engine);
      const there = planSwap(lab, engine, lab.flows, undefined);
      applyAll(t, there.ops);
      t.advance(1000);
      const back = planSwap(lab, engine, there.flows, undefined).ops;
      applyAll(t, rulesOf(back));
      assert.deepEqual(t.send(fromC(8)), late('fc00::1', 'fe00::1'), 'after the rule change');
      t.apply(opOf(back, 'conntrackDelete'));
      // Between the conntrack delete and the release: still rewritten statelessly, no entry made.
      assert.deepEqual(t.send(fromC(8)), late('fc00::1', 'fe00::1'), 'before the release');
      assert.deepEqual(t.send({ ...fromC(), proto: 'udp', id: 5353 }), late('fc00::1', 'fe00::1'));
      assert.equal(t.entriesTo('fe00::1'), 0);
      t.apply(releaseOf(back));
      // Released: C's packets take the way back, tracked.
      assert.deepEqual(t.send(fromC(8)), { to: 'fc00::1', from: 'fe00::1', newEntry: true });
      assert.deepEqual(t.send(fromC(8)), { to: 'fc00::1', from: 'fe00::1', newEntry: false });
      assert.equal(t.entriesTo('fe00::1'), 1);
      // D, the former responder now, is the late one.
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), late('fc00::1', 'fe00::1'));
    });

    it('a first swap: D was never a former responder, so its packets are tracked before the release too', () => {
      const t = builtTranslator(lab, engine);
      const swap = planSwap(lab, engine, lab.flows, undefined).ops;
      applyAll(t, rulesOf(swap));
      t.apply(opOf(swap, 'conntrackDelete'));
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), {
        to: 'fc00::1',
        from: 'fe00::1',
        newEntry: true,
      });
      t.apply(releaseOf(swap));
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), {
        to: 'fc00::1',
        from: 'fe00::1',
        newEntry: false,
      });
      assert.deepEqual(t.send(fromC()), late('fc00::1', 'fe00::1'));
    });

    it('with graceSeconds 0 a former responder is never translated', () => {
      const t = swapped(resolveLab({ ...REFERENCE_LAB, graceSeconds: 0 }));
      assert.deepEqual(t.send(fromC()), { to: undefined, from: 'fc01::1', newEntry: true });
    });

    it('with graceSeconds 0 there is no release: a swap back is tracked once conntrack is cleared', () => {
      const none = resolveLab({ ...REFERENCE_LAB, graceSeconds: 0 });
      const t = builtTranslator(none, engine);
      const there = planSwap(none, engine, none.flows, undefined);
      applyAll(t, there.ops);
      const back = planSwap(none, engine, there.flows, undefined).ops;
      assert.equal(back.at(-1)?.kind, 'conntrackDelete');
      applyAll(t, back);
      assert.deepEqual(t.send(fromC(8)), { to: 'fc00::1', from: 'fe00::1', newEntry: true });
      assert.deepEqual(t.send(ping('fc02::2', 'fe00::1', 9)), {
        to: undefined,
        from: 'fc02::2',
        newEntry: true,
      });
    });

    it('a third server’s packet to fe00::1 is never translated into the flow', () => {
      const three = resolveLab(THREE_SERVERS_LAB);
      const e = (id: number) => ping('fc03::1', 'fe00::1', id);
      const t = builtTranslator(three, engine);
      assert.deepEqual(t.send(e(1)), { to: undefined, from: 'fc03::1', newEntry: true });
      applyAll(t, planSwap(three, engine, three.flows, undefined).ops);
      assert.deepEqual(t.send(e(2)), { to: undefined, from: 'fc03::1', newEntry: true });
      t.advance(three.graceMs);
      assert.deepEqual(t.send(e(3)), { to: undefined, from: 'fc03::1', newEntry: true });
    });

    it('late packets follow an initiator that moved during the grace', () => {
      const two = resolveLab(TWO_CLIENTS_LAB);
      const t = builtTranslator(two, engine);
      const swap = planSwap(two, engine, two.flows, undefined);
      applyAll(t, swap.ops);
      applyAll(t, planMigration(two, engine, swap.flows, 'fe00::1', 'E').ops);
      assert.deepEqual(t.send(fromC()), late('fc03::1', 'fe00::1'));
    });
  });
}

describe('nftables: FakeTranslator applies a joined script as one transaction', () => {
  it('a script nft would refuse changes neither the mappings nor the late table', () => {
    const lab = referenceLab();
    const t = builtTranslator(lab, nftablesEngine);
    const [rule] = planSwap(lab, nftablesEngine, lab.flows, undefined).ops;
    assert.ok(rule?.kind === 'netfilterApply');
    t.apply(rule);
    t.advance(lab.graceMs);
    // Applied again, the script deletes the way back of C, which is gone: nft fails as a whole,
    // so its late part (C as a former responder, again for 5 s) must not take effect either.
    assert.throws(
      () => t.apply(rule),
      /No such file or directory\ndelete element ip6 flowmig dnat_back \{ fc01::1 \. fe00::1 \}/,
    );
    assert.deepEqual(t.send(ping('fc01::1', 'fe00::1')), {
      to: undefined,
      from: 'fc01::1',
      newEntry: true,
    });
    assert.equal(t.send(ping('fc00::1', 'fe00::1')).to, 'fc02::2');
  });
});
