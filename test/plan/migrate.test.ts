import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Engine, FlowMapping } from '../../src/engines/engine.js';
import { iptablesEngine, parseNatTable } from '../../src/engines/iptables.js';
import { lateTable } from '../../src/engines/late.js';
import { joinNftOps } from '../../src/engines/nft-script.js';
import { nftablesEngine, simulateScript } from '../../src/engines/nftables.js';
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
} from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
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
const programOf = (op: Op) => (op.kind === 'netfilterApply' ? op.argv[0] : op.kind);

/**
 * The plan's ops, checked to be the rule change, then the conntrack delete: with ip6tables the
 * chains, then the late table (nft); with nftables both in one nft transaction (`late` undefined).
 */
function ruleThenConntrack(plan: MigrationPlan): {
  apply: Apply;
  late: Apply | undefined;
  del: Delete;
} {
  const first = plan.ops[0];
  if (first && programOf(first) === 'ip6tables-restore') {
    assert.deepEqual(plan.ops.map(programOf), ['ip6tables-restore', 'nft', 'conntrackDelete']);
    const [apply, late, del] = plan.ops;
    assert.ok(apply?.kind === 'netfilterApply' && late?.kind === 'netfilterApply');
    assert.ok(del?.kind === 'conntrackDelete');
    return { apply, late, del };
  }
  assert.deepEqual(plan.ops.map(programOf), ['nft', 'conntrackDelete']);
  const [apply, del] = plan.ops;
  assert.ok(apply?.kind === 'netfilterApply' && del?.kind === 'conntrackDelete');
  return { apply, late: undefined, del };
}

const M1_ON_D: FlowMapping = { ...M1, responderAddress: 'fc02::2' };

function responders(flows: readonly LabFlow[]): string[] {
  return flows.map((f) => `${f.address}:${f.responder}`);
}

describe('planMigration (iptables engine)', () => {
  const lab = referenceLab();

  it('moves fe00::1 from C to D: rule change first, then that flow’s conntrack entries', () => {
    const plan = planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'D');
    const { apply, late, del } = ruleThenConntrack(plan);
    assert.equal(apply.netns, 'B');
    assert.deepEqual(apply.argv, ['ip6tables-restore', '-w', '--noflush']);
    // The late table after the chains: C becomes a former responder for the lab's grace (5 s).
    assert.deepEqual(late, lateTable.update('B', [{ before: M1, after: M1_ON_D }], 5000));
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
    assert.deepEqual(parseNatTable(apply.stdin).mappings, [M1_ON_D]);
    assert.match(
      apply.stdin,
      /^-A FLOWMIG-DNAT -s fc00::1\/128 -d fe00::1\/128 -j DNAT --to-destination fc02::2$/m,
    );
    assert.match(
      apply.stdin,
      /^-A FLOWMIG-DNAT -s fc02::2\/128 -d fe00::1\/128 .*-j DNAT --to-destination fc00::1$/m,
    );
    // Either direction leaves from fe00::1: the SNAT rule names no node, so a move keeps it.
    assert.deepEqual(
      apply.stdin.split('\n').filter((l) => l.startsWith('-A FLOWMIG-SNAT')),
      [
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
      ],
    );
    assert.doesNotMatch(apply.stdin, /fc01::1/, 'C is neither the responder nor translated');
  });

  it('replaces the chains without adding the PREROUTING/POSTROUTING jumps again', () => {
    const { apply } = ruleThenConntrack(
      planMigration(lab, iptablesEngine, lab.flows, 'fe00::1', 'D'),
    );
    assert.doesNotMatch(apply.stdin, /PREROUTING|POSTROUTING/);
    // Declaring the chains is what flushes them inside the one transaction.
    assert.match(apply.stdin, /^:FLOWMIG-DNAT - \[0:0\]$/m);
    assert.match(apply.stdin, /^:FLOWMIG-SNAT - \[0:0\]$/m);
    assert.match(apply.stdin, /^COMMIT$/m);
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
    const { apply, late, del } = ruleThenConntrack(plan);
    assert.equal(plan.role, 'initiator');
    assert.equal(plan.flow.initiator, 'E');
    assert.equal(plan.flow.responder, 'C');
    assert.deepEqual(parseNatTable(apply.stdin).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc03::1', responderAddress: 'fc01::1' },
    ]);
    // Late packets now go to E; no responder became a former one.
    assert.equal(
      late?.stdin,
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
    const { apply, late, del } = ruleThenConntrack(plan);
    assert.deepEqual(parseNatTable(apply.stdin).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
      { address: 'fe00::2', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
    ]);
    assert.equal(del.origDst, 'fe00::1');
    assert.deepEqual(responders(plan.flows), ['fe00::1:D', 'fe00::2:D']);
    assert.doesNotMatch(late?.stdin ?? '', /fe00::2/, 'the late table changes for fe00::1 only');
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

  it('one nft script: the engine’s element changes, then the former responder and the absent pair', () => {
    const plan = planMigration(lab, nftablesEngine, lab.flows, 'fe00::1', 'D');
    const { apply, late, del } = ruleThenConntrack(plan);
    assert.equal(late, undefined);
    const changes = [{ before: M1, after: M1_ON_D }];
    const lateOp = lateTable.update('B', changes, 5000);
    assert.ok(lateOp);
    assert.deepEqual(apply, joinNftOps(nftablesEngine.update('B', changes, noAll), lateOp));
    // The script nft 1.0.6 accepted when the samples were captured.
    assert.equal(
      apply.stdin,
      [
        'delete element ip6 flowmig dnat_to { fc00::1 . fe00::1 }',
        'delete element ip6 flowmig dnat_back { fc01::1 . fe00::1 }',
        'add element ip6 flowmig dnat_to { fc00::1 . fe00::1 : fc02::2 }',
        'add element ip6 flowmig dnat_back { fc02::2 . fe00::1 : fc00::1 }',
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 timeout 5000ms }',
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
    assert.deepEqual(del, {
      kind: 'conntrackDelete',
      netns: 'B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc02::2',
    });
  });

  it('the same change as edits for the agent: the engine’s table by default, the late table named', () => {
    const { apply } = ruleThenConntrack(
      planMigration(lab, nftablesEngine, lab.flows, 'fe00::1', 'D'),
    );
    assert.deepEqual(
      apply.edits?.map((e) => [
        (e as { table?: string }).table ?? '(default)',
        e.map,
        e.remove.length,
        e.add.length,
      ]),
      [
        ['(default)', 'dnat_to', 1, 1],
        ['(default)', 'dnat_back', 1, 1],
        ['flowmig_late', 'late_from', 0, 1],
      ],
    );
  });

  it('the grace time comes from the lab (graceSeconds)', () => {
    const quick = resolveLab({ ...REFERENCE_LAB, graceSeconds: 2.5 });
    assert.equal(quick.graceMs, 2500);
    const { apply } = ruleThenConntrack(
      planMigration(quick, nftablesEngine, quick.flows, 'fe00::1', 'D'),
    );
    assert.match(
      apply.stdin,
      /^add element ip6 flowmig_late late_from \{ fc01::1 \. fe00::1 timeout 2500ms \}$/m,
    );
  });

  it('graceSeconds 0: no former responder, the new one is still made absent', () => {
    const none = resolveLab({ ...REFERENCE_LAB, graceSeconds: 0 });
    const { apply } = ruleThenConntrack(
      planMigration(none, nftablesEngine, none.flows, 'fe00::1', 'D'),
    );
    const lateLines = apply.stdin.split('\n').filter((l) => l.includes('flowmig_late'));
    assert.deepEqual(lateLines, [
      'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
      'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
    ]);
  });

  it('to a client: the late packets’ initiator changes too; no entry is kept', () => {
    const two = resolveLab(TWO_CLIENTS_LAB);
    const { apply, del } = ruleThenConntrack(
      planMigration(two, nftablesEngine, two.flows, 'fe00::1', 'E'),
    );
    assert.match(
      apply.stdin,
      /^add element ip6 flowmig_late initiator_of \{ fe00::1 : fc03::1 \}$/m,
    );
    assert.doesNotMatch(apply.stdin, /late_from/);
    assert.equal('keepReplySrc' in del, false);
  });
});

describe('planSwap', () => {
  it('moves the only flow to the other server and back: C → D → C', () => {
    const lab = referenceLab();
    const first = planSwap(lab, iptablesEngine, lab.flows, undefined);
    assert.equal(first.from.responder, 'C');
    assert.equal(first.flow.responder, 'D');
    assert.deepEqual(parseNatTable(ruleThenConntrack(first).apply.stdin).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
    ]);
    const second = planSwap(lab, iptablesEngine, first.flows, undefined);
    assert.equal(second.flow.responder, 'C');
    assert.deepEqual(parseNatTable(ruleThenConntrack(second).apply.stdin).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' },
    ]);
    assert.deepEqual(ruleThenConntrack(second).del, {
      kind: 'conntrackDelete',
      netns: 'B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc01::1',
    });
    // Back to C within D's grace: D is the former responder, C must not be one any more.
    assert.deepEqual(ruleThenConntrack(second).late?.edits, [
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [['fc02::2', 'fe00::1']],
        timeoutMs: 5000,
        absent: [['fc01::1', 'fe00::1']],
      },
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
      /^swap: the lab has 2 flows; name one \(fe00::1, fe00::2\)$/,
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

/** The flow table an engine's transaction leaves behind, starting from `current`. */
function tableAfter(engine: Engine, current: readonly FlowMapping[], apply: Apply): FlowMapping[] {
  const after =
    engine === nftablesEngine
      ? simulateScript(current, apply.stdin)
      : [...parseNatTable(apply.stdin).mappings];
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
      assert.deepEqual(plan.ops.map(programOf), [...rules, 'conntrackDelete', 'conntrackDelete']);
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

    it('C becomes a former responder of both moved flows, D must be one of neither', () => {
      const plan = planEvacuation(lab, engine, lab.flows, 'C', 'D');
      const lateEdit = plan.ops
        .flatMap((op) => (op.kind === 'netfilterApply' ? (op.edits ?? []) : []))
        .find((e) => e.map === 'late_from') as
        | { add: string[][]; absent?: string[][]; timeoutMs?: number }
        | undefined;
      const script = plan.ops.map((op) => (op.kind === 'netfilterApply' ? op.stdin : '')).join('');
      assert.match(
        script,
        /^add element ip6 flowmig_late late_from \{ fc01::1 \. fe00::1 timeout 5000ms, fc01::1 \. fe00::3 timeout 5000ms \}$/m,
      );
      assert.deepEqual(lateEdit?.absent, [
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
      assert.deepEqual(plan.ops.map(programOf), [...rules, 'conntrackDelete']);
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
