import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinNftOps } from '../../src/engines/edits.js';
import type { Engine, FlowMapping, MapEdit } from '../../src/engines/engine.js';
import { iptablesEngine, parseNatTable } from '../../src/engines/iptables.js';
import { lateTable } from '../../src/engines/late.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { Lab, LabFlow } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { mappingsFor } from '../../src/plan/build.js';
import {
  findFlow,
  type MigrationPlan,
  planEvacuation,
  planMigration,
  planSwap,
  unknownFlow,
} from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
import { argvOf, mappingsAfter, stdinOf } from '../engines/ops.js';
import {
  assertInputError,
  at,
  NAMED_FLOW_LAB,
  ONE_SERVER_LAB,
  referenceLab,
  THREE_SERVERS_LAB,
  TWO_CLIENTS_LAB,
  TWO_FLOWS_LAB,
} from '../support/labs.js';
import { M1 } from '../support/mappings.js';

type Apply = Extract<Op, { kind: 'netfilterApply' }>;
type Delete = Extract<Op, { kind: 'conntrackDelete' }>;

/** An op as its program, or its kind when it runs none of netfilter's. */
const programOf = (op: Op) => (op.kind === 'netfilterApply' ? argvOf(op)[0] : op.kind);

/**
 * The plan's ops, checked to be the rule change, then the conntrack delete, then the late table's
 * release when there is one: with ip6tables the chains, then the late table (nft); with nftables
 * both in one nft transaction (`late` undefined). The release is one more `nft -f -`: the new
 * responder leaves the late set only once the flow's old conntrack entries are gone.
 */
function ruleThenConntrack(plan: MigrationPlan): {
  apply: Apply;
  late: Apply | undefined;
  del: Delete;
  release: Apply | undefined;
} {
  const ops = [...plan.ops];
  const apply = ops.shift();
  assert.ok(apply?.kind === 'netfilterApply', 'the rule change comes first');
  const iptables = argvOf(apply)[0] === 'ip6tables-restore';
  let late: Apply | undefined;
  const next = ops[0];
  if (iptables && next?.kind === 'netfilterApply') {
    late = next;
    ops.shift();
  }
  const del = ops.shift();
  assert.ok(del?.kind === 'conntrackDelete', `then conntrack: ${plan.ops.map(programOf)}`);
  const release = ops.shift();
  if (release !== undefined) {
    assert.ok(release.kind === 'netfilterApply');
    assert.deepEqual(argvOf(release), ['nft', '-f', '-']);
    assert.equal(release.netns, apply.netns);
  }
  assert.deepEqual(ops, [], 'nothing after the release');
  return { apply, late, del, release };
}

const M1_ON_D: FlowMapping = { ...M1, responderAddress: 'fc02::2' };

function responders(flows: readonly LabFlow[]): string[] {
  return flows.map((f) => `${f.address}:${f.responder}`);
}

describe('planMigration (iptables engine)', () => {
  const lab = referenceLab();

  it('moves fe00::1 from C to D: rule change first, then that flow’s conntrack entries', () => {
    const plan = planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'D');
    assert.deepEqual(plan.ops.map(programOf), [
      'ip6tables-restore',
      'nft',
      'conntrackDelete',
      'nft',
    ]);
    const { apply, late, del, release } = ruleThenConntrack(plan);
    assert.equal(apply.netns, 'B');
    assert.deepEqual(argvOf(apply), ['ip6tables-restore', '-w', '--noflush']);
    // The late table after the chains: C becomes a former responder for the lab's grace (5 s).
    const changes = [{ before: M1, after: M1_ON_D }];
    assert.deepEqual(late, lateTable.update('B', changes, 5000));
    // After the conntrack delete, D leaves the late set (released).
    assert.deepEqual(release, lateTable.release('B', changes, 5000));
    // Entries already on D (created after the rule change) may stay.
    assert.deepEqual(del, {
      kind: 'conntrackDelete',
      netns: 'B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc02::2',
    });
    assert.deepEqual(plan.from, at(lab.flows, 0));
    assert.deepEqual(plan.flow, {
      name: undefined,
      address: 'fe00::1',
      initiator: 'A',
      responder: 'D',
    });
    assert.deepEqual(plan.flows, [plan.flow]);
    assert.equal(plan.role, 'responder');
  });

  it('the new rules map fe00::1 to fc02::2 and back, and keep the flow’s one SNAT rule', () => {
    const { apply } = ruleThenConntrack(
      planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'D'),
    );
    assert.deepEqual(parseNatTable(stdinOf(apply)).mappings, [M1_ON_D]);
    assert.match(
      stdinOf(apply),
      /^-A FLOWMIG-DNAT -s fc00::1\/128 -d fe00::1\/128 -j DNAT --to-destination fc02::2$/m,
    );
    assert.match(
      stdinOf(apply),
      /^-A FLOWMIG-DNAT -s fc02::2\/128 -d fe00::1\/128 .*-j DNAT --to-destination fc00::1$/m,
    );
    // Either direction leaves from fe00::1: the SNAT rule names no node, so a move keeps it.
    assert.deepEqual(
      stdinOf(apply)
        .split('\n')
        .filter((l) => l.startsWith('-A FLOWMIG-SNAT')),
      [
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
      ],
    );
    assert.doesNotMatch(stdinOf(apply), /fc01::1/, 'C is neither the responder nor translated');
  });

  it('replaces the chains without adding the PREROUTING/POSTROUTING jumps again', () => {
    const { apply } = ruleThenConntrack(
      planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'D'),
    );
    assert.doesNotMatch(stdinOf(apply), /PREROUTING|POSTROUTING/);
    // Declaring the chains is what flushes them inside the one transaction.
    assert.match(stdinOf(apply), /^:FLOWMIG-DNAT - \[0:0\]$/m);
    assert.match(stdinOf(apply), /^:FLOWMIG-SNAT - \[0:0\]$/m);
    assert.match(stdinOf(apply), /^COMMIT$/m);
  });

  it('does not change the current assignments it was given', () => {
    const current = lab.flows.map((f) => ({ ...f }));
    planMigration(lab, iptablesEngine, current, 'fe00::1', 'D');
    assert.deepEqual(responders(current), ['fe00::1:C']);
  });

  it('to the current responder plans nothing', () => {
    const plan = planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'C');
    assert.deepEqual(plan.ops, []);
    assert.deepEqual(plan.flows, lab.flows);
    assert.deepEqual(plan.flow, plan.from);
    assert.equal(plan.role, 'responder');
  });

  it('to the current initiator plans nothing', () => {
    const plan = planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'A');
    assert.deepEqual(plan.ops, []);
    assert.equal(plan.role, 'initiator');
  });

  it('to a client makes it the initiator and keeps the responder', () => {
    const two = resolveLab(TWO_CLIENTS_LAB);
    const plan = planMigration(two, iptablesEngine, two.flows, 'fe00::1', 'E');
    const { apply, late, del, release } = ruleThenConntrack(plan);
    // The responder stays: nobody to release.
    assert.equal(release, undefined);
    assert.deepEqual(plan.ops.map(programOf), ['ip6tables-restore', 'nft', 'conntrackDelete']);
    assert.equal(plan.role, 'initiator');
    assert.equal(plan.flow.initiator, 'E');
    assert.equal(plan.flow.responder, 'C');
    assert.deepEqual(parseNatTable(stdinOf(apply)).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc03::1', responderAddress: 'fc01::1' },
    ]);
    // Late packets now go to E; no responder became a former one.
    assert.equal(
      stdinOf(late),
      [
        'delete element ip6 flowmig_late initiator_of { fe00::1 }',
        'add element ip6 flowmig_late initiator_of { fe00::1 : fc03::1 }',
        '',
      ].join('\n'),
    );
    // Every entry of the flow has C as reply source, A's too: none can be kept.
    assert.deepEqual(del, { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::1' });
  });

  it('finds the flow by name and by any spelling of its address', () => {
    const named = resolveLab(NAMED_FLOW_LAB);
    for (const ref of ['web', 'fe00::1', 'FE00:0::1', 'fe00:0:0:0:0:0:0:1']) {
      const plan = planMigration(named, iptablesEngine, named.flows, ref, 'D');
      assert.equal(plan.flow.responder, 'D', ref);
      assert.equal(ruleThenConntrack(plan).del.origDst, 'fe00::1', ref);
    }
  });

  it('with two flows rewrites the whole table but deletes only the moved flow’s entries', () => {
    const two = resolveLab(TWO_FLOWS_LAB);
    const plan = planMigration(two, iptablesEngine, two.flows, 'fe00::1', 'D');
    const { apply, late, del, release } = ruleThenConntrack(plan);
    assert.deepEqual(parseNatTable(stdinOf(apply)).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
      { address: 'fe00::2', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
    ]);
    assert.equal(del.origDst, 'fe00::1');
    assert.deepEqual(responders(plan.flows), ['fe00::1:D', 'fe00::2:D']);
    assert.doesNotMatch(stdinOf(late) ?? '', /fe00::2/, 'the late table changes for fe00::1 only');
    assert.equal(
      stdinOf(release),
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
  });

  const errors: [string, (lab: Lab) => unknown, RegExp][] = [
    [
      'an unknown flow',
      (l) => planMigration(l, iptablesEngine, l.flows, 'fe00::9', 'D'),
      /^unknown flow 'fe00::9' \(flows: fe00::1\)$/,
    ],
    [
      'a flow reference that is neither name nor address',
      (l) => planMigration(l, iptablesEngine, l.flows, 'web', 'D'),
      /unknown flow 'web'/,
    ],
    [
      'an unknown node',
      (l) => planMigration(l, iptablesEngine, l.flows, 'fe00::1', 'Z'),
      /^unknown node 'Z' \(nodes: A, B, C, D\)$/,
    ],
    [
      'the translator',
      (l) => planMigration(l, iptablesEngine, l.flows, 'fe00::1', 'B'),
      /'B' is the translator; a flow migrates to a client or a server/,
    ],
    [
      'a node name in another case',
      (l) => planMigration(l, iptablesEngine, l.flows, 'fe00::1', 'd'),
      /unknown node 'd'/,
    ],
  ];
  for (const [what, run, pattern] of errors) {
    it(`refuses ${what} with an InputError`, () => {
      assertInputError(() => run(lab), pattern);
    });
  }
});

describe('planMigration (nftables engine): the mapping and the late table in one transaction', () => {
  const lab = referenceLab();
  const noAll = () => {
    throw new Error('the nftables engine must not need the whole table');
  };

  it('one nft script: the engine’s element changes and the former responder; the release after conntrack', () => {
    const plan = planMigration(lab, nftablesEngine, lab.flows, 'fe00::1', 'D');
    assert.deepEqual(plan.ops.map(programOf), ['nft', 'conntrackDelete', 'nft']);
    const { apply, late, del, release } = ruleThenConntrack(plan);
    assert.equal(late, undefined);
    const changes = [{ before: M1, after: M1_ON_D }];
    const lateOp = lateTable.update('B', changes, 5000);
    assert.ok(lateOp);
    assert.deepEqual(apply, joinNftOps(nftablesEngine.update('B', changes, noAll), lateOp));
    assert.equal(
      stdinOf(apply),
      [
        'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
        'delete element ip6 flowmig dnat_back { fc01::1 . fe00::1 }',
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc02::2 }',
        'add element ip6 flowmig dnat_back { fc02::2 . fe00::1 : fc00::1 }',
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 timeout 5000ms }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(del, {
      kind: 'conntrackDelete',
      netns: 'B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc02::2',
    });
    // D is made absent from the late set only now, after its flow's old entries are gone.
    assert.deepEqual(release, lateTable.release('B', changes, 5000));
    assert.equal(
      stdinOf(release),
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
  });

  it('the same change as edits for the agent: the engine’s table by default, the late table named', () => {
    const { apply, release } = ruleThenConntrack(
      planMigration(lab, nftablesEngine, lab.flows, 'fe00::1', 'D'),
    );
    const shape = (edits: Apply['edits']) =>
      edits?.map((e) => [
        (e as { table?: string }).table ?? '(default)',
        e.map,
        e.remove.length,
        e.add.length,
        (e as MapEdit).absent?.length ?? 0,
      ]);
    assert.deepEqual(shape(apply.edits), [
      ['(default)', 'dnat_to', 1, 1, 0],
      ['(default)', 'dnat_back', 1, 1, 0],
      ['flowmig_late', 'late_from', 0, 1, 0],
    ]);
    // The release's edits (the agent's `after` transaction): only the absent new responder.
    assert.deepEqual(release?.edits, [
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

  it('the grace time comes from the lab (graceSeconds)', () => {
    const quick = resolveLab({ ...REFERENCE_LAB, graceSeconds: 2.5 });
    assert.equal(quick.graceMs, 2500);
    const { apply, release } = ruleThenConntrack(
      planMigration(quick, nftablesEngine, quick.flows, 'fe00::1', 'D'),
    );
    assert.match(
      stdinOf(apply),
      /^add element ip6 flowmig_late late_from \{ fc01::1 \. fe00::1 timeout 2500ms \}$/m,
    );
    assert.ok(release);
  });

  it('graceSeconds 0: no former responder and no release (the late set is never written)', () => {
    const none = resolveLab({ ...REFERENCE_LAB, graceSeconds: 0 });
    const plan = planMigration(none, nftablesEngine, none.flows, 'fe00::1', 'D');
    assert.deepEqual(plan.ops.map(programOf), ['nft', 'conntrackDelete']);
    const { apply, release } = ruleThenConntrack(plan);
    assert.equal(release, undefined);
    assert.doesNotMatch(stdinOf(apply), /flowmig_late/);
    assert.deepEqual(apply, nftablesEngine.update('B', [{ before: M1, after: M1_ON_D }], noAll));
  });

  it('graceSeconds 0 with ip6tables: the chains, then conntrack; no late op at all', () => {
    const none = resolveLab({ ...REFERENCE_LAB, graceSeconds: 0, engine: 'iptables' });
    const plan = planMigration(none, iptablesEngine, none.flows, 'fe00::1', 'D');
    assert.deepEqual(plan.ops.map(programOf), ['ip6tables-restore', 'conntrackDelete']);
  });

  it('to a client: the late packets’ initiator changes too; no entry is kept', () => {
    const two = resolveLab(TWO_CLIENTS_LAB);
    const { apply, del, release } = ruleThenConntrack(
      planMigration(two, nftablesEngine, two.flows, 'fe00::1', 'E'),
    );
    assert.equal(release, undefined);
    assert.match(
      stdinOf(apply),
      /^add element ip6 flowmig_late initiator_of \{ fe00::1 : fc03::1 \}$/m,
    );
    assert.doesNotMatch(stdinOf(apply), /late_from/);
    assert.equal('keepReplySrc' in del, false);
  });
});

describe('planSwap', () => {
  it('moves the only flow to the other server and back: C → D → C', () => {
    const lab = referenceLab();
    const first = planSwap(lab, iptablesEngine, lab.flows, undefined);
    assert.equal(first.from.responder, 'C');
    assert.equal(first.flow.responder, 'D');
    assert.deepEqual(parseNatTable(stdinOf(ruleThenConntrack(first).apply)).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
    ]);
    const second = planSwap(lab, iptablesEngine, first.flows, undefined);
    assert.equal(second.flow.responder, 'C');
    assert.deepEqual(parseNatTable(stdinOf(ruleThenConntrack(second).apply)).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' },
    ]);
    assert.deepEqual(ruleThenConntrack(second).del, {
      kind: 'conntrackDelete',
      netns: 'B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc01::1',
    });
    // Back to C within C's grace: D becomes the former responder in the rule change; C leaves
    // the late set only in the release, after the conntrack delete.
    const { late, release } = ruleThenConntrack(second);
    assert.deepEqual(late?.edits, [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [['fc02::2', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
    assert.deepEqual(release?.edits, [
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
    assert.deepEqual(second.ops.map(programOf), [
      'ip6tables-restore',
      'nft',
      'conntrackDelete',
      'nft',
    ]);
  });

  it('cycles through three servers in order: C → D → E → C', () => {
    const lab = resolveLab(THREE_SERVERS_LAB);
    let flows: readonly LabFlow[] = lab.flows;
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const plan = planSwap(lab, iptablesEngine, flows, 'fe00::1');
      ruleThenConntrack(plan);
      flows = plan.flows;
      seen.push(plan.flow.responder);
    }
    assert.deepEqual(seen, ['D', 'E', 'C']);
  });

  it('names the flow when the lab has several', () => {
    const lab = resolveLab(TWO_FLOWS_LAB);
    const plan = planSwap(lab, iptablesEngine, lab.flows, 'FE00::2');
    assert.equal(plan.flow.address, 'fe00::2');
    assert.equal(plan.flow.responder, 'C');
    assert.equal(ruleThenConntrack(plan).del.origDst, 'fe00::2');
    assert.deepEqual(responders(plan.flows), ['fe00::1:C', 'fe00::2:C']);
  });

  it('refuses to guess the flow when there are two', () => {
    const lab = resolveLab(TWO_FLOWS_LAB);
    assertInputError(
      () => planSwap(lab, iptablesEngine, lab.flows, undefined),
      /^swap: the lab has 2 flows \(fe00::1, fe00::2\); name one with --flow FLOW/,
    );
  });

  it('refuses when there is no flow', () => {
    const lab = referenceLab();
    assertInputError(() => planSwap(lab, iptablesEngine, [], undefined), /the lab has 0 flows/);
  });

  it('refuses with a single server', () => {
    const lab = resolveLab(ONE_SERVER_LAB);
    assertInputError(
      () => planSwap(lab, iptablesEngine, lab.flows, undefined),
      /^swap: the lab needs at least two servers to swap$/,
    );
  });

  it('refuses an unknown flow', () => {
    const lab = referenceLab();
    assertInputError(
      () => planSwap(lab, iptablesEngine, lab.flows, 'fe00::2'),
      /unknown flow 'fe00::2'/,
    );
  });
});

describe('findFlow', () => {
  const flows: LabFlow[] = [
    { name: 'web', address: 'fe00::1', initiator: 'A', responder: 'C' },
    { name: undefined, address: 'fe00::2', initiator: 'A', responder: 'D' },
  ];

  const found: [string, string][] = [
    ['web', 'fe00::1'],
    ['fe00::1', 'fe00::1'],
    ['FE00:0::1', 'fe00::1'],
    ['fe00:0000:0000:0000:0000:0000:0000:0001', 'fe00::1'],
    ['FE00::2', 'fe00::2'],
  ];
  for (const [ref, address] of found) {
    it(`finds ${ref}`, () => {
      assert.equal(findFlow(flows, ref).address, address);
    });
  }

  it('lists the known flows when the reference matches none', () => {
    assertInputError(
      () => findFlow(flows, 'fe00::3'),
      /^unknown flow 'fe00::3' \(flows: fe00::1 \(web\), fe00::2\)$/,
    );
    assertInputError(() => findFlow(flows, 'WEB'), /unknown flow 'WEB'/);
    assertInputError(() => findFlow([], 'fe00::1'), /\(flows: none\)/);
  });

  it('an unknown flow of a large lab names the first ten and says how to list them all', () => {
    const flows: LabFlow[] = Array.from({ length: 1000 }, (_, i) => ({
      name: undefined,
      address: `fe00::${(i + 1).toString(16)}`,
      initiator: 'A',
      responder: 'C',
    }));
    const e = unknownFlow(flows, 'nope');
    assert.equal(
      e.message,
      "unknown flow 'nope' (flows: fe00::1, fe00::2, fe00::3, fe00::4, fe00::5, fe00::6, fe00::7, fe00::8, fe00::9, fe00::a, … and 990 more; 'flowmig flows' lists them)",
    );
  });
});

/** Three servers C, D, E; flows fe00::1 and fe00::3 on C, fe00::2 on D, fe00::4 on E. */
const EVACUATION_LAB: LabDescriptionInput = {
  ...THREE_SERVERS_LAB,
  name: 'evac',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'D' },
    { address: 'fe00::3', initiator: 'A', responder: 'C' },
    { address: 'fe00::4', initiator: 'A', responder: 'E' },
  ],
};

/** The flow table an engine's transaction leaves behind in a fake translator, from `current`. */
function tableAfter(engine: Engine, current: readonly FlowMapping[], apply: Apply): FlowMapping[] {
  // The late table too: with nftables the migration's transaction writes both.
  const installed = [engine.install('B', current), lateTable.install('B', current)];
  const after = mappingsAfter(engine, [...installed, apply]);
  return after.sort((a, b) => a.address.localeCompare(b.address));
}

for (const engine of [nftablesEngine, iptablesEngine]) {
  describe(`planEvacuation (${engine.name} engine)`, () => {
    const lab = resolveLab(EVACUATION_LAB);
    /** The rule change: one nft transaction, or the chains and then the late table. */
    const rules = engine === nftablesEngine ? ['nft'] : ['ip6tables-restore', 'nft'];

    it('moves only the flows on `from`: one rule transaction, then one conntrack delete each', () => {
      const plan = planEvacuation(lab, engine, lab.flows, 'C', 'D');
      assert.deepEqual(
        plan.moved.map((f) => `${f.address}:${f.responder}`),
        ['fe00::1:D', 'fe00::3:D'],
      );
      assert.deepEqual(responders(plan.flows), [
        'fe00::1:D',
        'fe00::2:D',
        'fe00::3:D',
        'fe00::4:E',
      ]);
      // The release comes after every flow's conntrack delete.
      assert.deepEqual(plan.ops.map(programOf), [
        ...rules,
        'conntrackDelete',
        'conntrackDelete',
        'nft',
      ]);
      const [apply] = plan.ops;
      assert.ok(apply?.kind === 'netfilterApply');
      assert.equal(apply.netns, 'B');
      assert.deepEqual(
        plan.ops.filter((op) => op.kind === 'conntrackDelete'),
        [
          { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::1', keepReplySrc: 'fc02::2' },
          { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::3', keepReplySrc: 'fc02::2' },
        ],
      );
    });

    it('C becomes a former responder of both moved flows; D is released from both afterwards', () => {
      const plan = planEvacuation(lab, engine, lab.flows, 'C', 'D');
      const firstDelete = plan.ops.findIndex((op) => op.kind === 'conntrackDelete');
      const rulePart = plan.ops.slice(0, firstDelete);
      const script = rulePart
        .map((op) => (op.kind === 'netfilterApply' ? stdinOf(op) : ''))
        .join('');
      assert.match(
        script,
        /^add element ip6 flowmig_late late_from \{ fc01::1 \. fe00::1 timeout 5000ms, fc01::1 \. fe00::3 timeout 5000ms \}$/m,
      );
      // The rule transaction makes nobody absent: D may still be in the late set here.
      assert.doesNotMatch(script, /late_from \{[^}]*fc02::2/);
      const lateEdit = rulePart
        .flatMap((op) => (op.kind === 'netfilterApply' ? (op.edits ?? []) : []))
        .find((e): e is MapEdit => e.map === 'late_from');
      assert.ok(lateEdit, "the late table's edits are in the rule part with either engine");
      assert.equal(lateEdit?.absent, undefined);
      const release = plan.ops.at(-1);
      assert.ok(release?.kind === 'netfilterApply');
      const changes = mappingsFor(
        lab,
        lab.flows.filter((f) => f.responder === 'C'),
      ).map((before) => ({ before, after: { ...before, responderAddress: 'fc02::2' } }));
      assert.deepEqual(release, lateTable.release('B', changes, 5000));
      assert.deepEqual((release.edits?.[0] as MapEdit | undefined)?.absent, [
        ['fc02::2', 'fe00::1'],
        ['fc02::2', 'fe00::3'],
      ]);
    });

    it('the transaction gives the table after the move (the others untouched)', () => {
      const plan = planEvacuation(lab, engine, lab.flows, 'C', 'D');
      const [apply] = plan.ops;
      assert.ok(apply?.kind === 'netfilterApply');
      assert.deepEqual(
        tableAfter(engine, mappingsFor(lab, lab.flows), apply),
        mappingsFor(lab, plan.flows),
      );
      assert.deepEqual(
        mappingsFor(lab, plan.flows).map((m) => `${m.address}>${m.responderAddress}`),
        ['fe00::1>fc02::2', 'fe00::2>fc02::2', 'fe00::3>fc02::2', 'fe00::4>fc03::1'],
      );
    });

    it('keeps the other fields of the moved flows', () => {
      const plan = planEvacuation(lab, engine, lab.flows, 'E', 'C');
      assert.deepEqual(plan.moved, [
        { name: undefined, address: 'fe00::4', initiator: 'A', responder: 'C' },
      ]);
      assert.deepEqual(plan.ops.map(programOf), [...rules, 'conntrackDelete', 'nft']);
      // E (fc03::1) was fe00::4's responder; C (fc01::1) is released after the delete.
      const onE = { address: 'fe00::4', initiatorAddress: 'fc00::1', responderAddress: 'fc03::1' };
      const onC = { ...onE, responderAddress: 'fc01::1' };
      assert.deepEqual(
        plan.ops.at(-1),
        lateTable.release('B', [{ before: onE, after: onC }], 5000),
      );
    });

    it('does not change the assignments it was given', () => {
      const current = lab.flows.map((f) => ({ ...f }));
      planEvacuation(lab, engine, current, 'C', 'D');
      assert.deepEqual(responders(current), ['fe00::1:C', 'fe00::2:D', 'fe00::3:C', 'fe00::4:E']);
    });

    it('nothing on `from`: no ops, nothing moved, flows unchanged', () => {
      const reference = referenceLab();
      const plan = planEvacuation(reference, engine, reference.flows, 'D', 'C');
      assert.deepEqual(plan.ops, []);
      assert.deepEqual(plan.moved, []);
      assert.deepEqual(plan.flows, reference.flows);
    });

    it('no flows at all: no ops', () => {
      const plan = planEvacuation(lab, engine, [], 'C', 'D');
      assert.deepEqual(plan, { moved: [], flows: [], ops: [] });
    });

    const errors: [string, string, string, RegExp][] = [
      ['an unknown source', 'Z', 'D', /^unknown node 'Z' \(nodes: A, B, C, D, E\)$/],
      ['an unknown target', 'C', 'Z', /^unknown node 'Z'/],
      ['a client as source', 'A', 'D', /^'A' is a client; evacuation moves flows between servers$/],
      ['the translator as target', 'C', 'B', /^'B' is a translator; evacuation moves flows/],
      ['the same server twice', 'C', 'C', /^evacuation needs two different servers$/],
      ['a node name in another case', 'c', 'D', /unknown node 'c'/],
    ];
    for (const [what, from, to, pattern] of errors) {
      it(`refuses ${what} with an InputError`, () => {
        assertInputError(() => planEvacuation(lab, engine, lab.flows, from, to), pattern);
      });
    }
  });
}

// The late table's release follows the conntrack delete: until the flow's old entries are gone,
// a late packet of the new responder (a former one within its grace) that conntrack tracked would
// start a connection whose reply tuple is taken by the initiator's entry to the old responder;
// NAT would remap its port and the initiator's socket would drop the reply.
for (const engine of [nftablesEngine, iptablesEngine]) {
  describe(`a migration's order (${engine.name} engine): rule op(s), conntrack delete, release`, () => {
    const lab = referenceLab({ engine: engine.name });
    const rules = engine === nftablesEngine ? ['nft'] : ['ip6tables-restore', 'nft'];
    const changes = [{ before: M1, after: M1_ON_D }];

    const plans: [string, () => { ops: readonly Op[] }][] = [
      ['planMigration', () => planMigration(lab, engine, lab.flows, 'fe00::1', 'D')],
      ['planSwap', () => planSwap(lab, engine, lab.flows, undefined)],
      ['planEvacuation', () => planEvacuation(lab, engine, lab.flows, 'C', 'D')],
    ];
    for (const [name, plan] of plans) {
      it(`${name}: ${[...rules, 'conntrackDelete', 'nft (release)'].join(' → ')}`, () => {
        const { ops } = plan();
        assert.deepEqual(ops.map(programOf), [...rules, 'conntrackDelete', 'nft']);
        assert.deepEqual(ops.at(-1), lateTable.release('B', changes, 5000));
        // The rule op(s) hold the engine's change and C as a former responder, not the release.
        const ruleOps = ops.slice(0, rules.length) as Apply[];
        assert.equal(stdinOf(ruleOps.at(-1)).includes('fc01::1 . fe00::1 timeout 5000ms'), true);
        for (const op of ruleOps) assert.doesNotMatch(stdinOf(op), /late_from \{ fc02::2/);
      });
    }
  });
}
