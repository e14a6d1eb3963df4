// The engines' operations for a set of labs and changes, as the commands that carry them out:
// golden text, kept in golden/ops.json from before the operations were typed, compared by golden.test.ts.
import { holdTable } from '../../src/engines/hold.js';
import { lateTable } from '../../src/engines/late.js';
import { engineFor } from '../../src/engines/registry.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { EngineName, LabDescriptionInput } from '../../src/lab/schema.js';
import { mappingsFor, planUp } from '../../src/plan/build.js';
import { commandsFor } from '../../src/plan/command.js';
import { planEvacuation, planMigration, planSwap } from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
import {
  referenceLab,
  THREE_SERVERS_LAB,
  TWO_CLIENTS_LAB,
  TWO_FLOWS_LAB,
} from '../support/labs.js';

/** One operation as it runs: its description and the commands (argv, stdin) that carry it out. */
export interface GoldenOp {
  readonly kind: string;
  readonly netns?: string;
  readonly summary?: string;
  readonly edits?: unknown;
  readonly commands: readonly { readonly argv: readonly string[]; readonly stdin?: string }[];
}

function golden(op: Op): GoldenOp {
  return {
    kind: op.kind,
    ...('netns' in op ? { netns: op.netns } : {}),
    ...(op.kind === 'netfilterApply' ? { summary: op.summary } : {}),
    ...(op.kind === 'netfilterApply' && op.edits ? { edits: op.edits } : {}),
    commands: commandsFor(op).map((c) => ({
      argv: c.argv,
      ...(c.stdin !== undefined ? { stdin: c.stdin } : {}),
    })),
  };
}

const MIGRATE_LAB: LabDescriptionInput = {
  ...TWO_FLOWS_LAB,
  name: 'live',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'migrate' },
    { address: 'fe00::2', initiator: 'A', responder: 'D', tcp: 'drain', drainSeconds: 10 },
  ],
};

const NO_GRACE_LAB: LabDescriptionInput = { ...TWO_FLOWS_LAB, name: 'nograce', graceSeconds: 0 };

function scenariosOf(name: string, lab: Lab, engine: EngineName): [string, Op[]][] {
  const e = engineFor(engine);
  const t = lab.translator.netns;
  const all = mappingsFor(lab, lab.flows);
  const out: [string, Op[]][] = [
    [`${name}/${engine}/up`, planUp(lab, e)],
    [`${name}/${engine}/swap`, [...planSwap(lab, e, lab.flows, lab.flows[0]?.address).ops]],
    [`${name}/${engine}/replace`, [e.replace(t, all), lateTable.replace(t, all)]],
    [
      `${name}/${engine}/repair`,
      [
        e.repair(t, all, { installed: false, mappings: [] }),
        e.repair(t, all, { installed: true, mappings: all, missingHooks: ['POSTROUTING'] }),
        lateTable.repair(t, all),
      ],
    ],
    [
      `${name}/${engine}/uninstall`,
      [e.uninstall(t), lateTable.uninstall(t)].flatMap((o): Op[] => (o ? [o] : [])),
    ],
  ];
  const swapped = planSwap(lab, e, lab.flows, lab.flows[0]?.address);
  out.push([
    `${name}/${engine}/swap-back`,
    [...planSwap(lab, e, swapped.flows, lab.flows[0]?.address).ops],
  ]);
  return out;
}

/** Every scenario's operations, by name. */
export function goldenScenarios(): Record<string, GoldenOp[]> {
  const scenarios: [string, Op[]][] = [];
  for (const engine of ['nftables', 'iptables'] as const) {
    const ref = referenceLab({ prefix: 'g-', engine });
    scenarios.push(...scenariosOf('reference', ref, engine));
    const two = resolveLab(TWO_FLOWS_LAB, { prefix: 'g-', engine });
    scenarios.push(...scenariosOf('two-flows', two, engine));
    scenarios.push([
      `two-flows/${engine}/migrate-both-to-C`,
      [...planMigration(two, engineFor(engine), two.flows, 'fe00::2', 'C').ops],
    ]);
    const three = resolveLab(THREE_SERVERS_LAB, { prefix: 'g-', engine });
    scenarios.push([
      `three/${engine}/evacuate-C-to-E`,
      [...planEvacuation(three, engineFor(engine), three.flows, 'C', 'E').ops],
    ]);
    const clients = resolveLab(TWO_CLIENTS_LAB, { prefix: 'g-', engine });
    scenarios.push([
      `clients/${engine}/migrate-initiator`,
      [...planMigration(clients, engineFor(engine), clients.flows, 'fe00::1', 'E').ops],
    ]);
    const live = resolveLab(MIGRATE_LAB, { prefix: 'g-', engine });
    scenarios.push(...scenariosOf('live', live, engine));
    const t = live.translator.netns;
    const [m1] = mappingsFor(live, live.flows);
    if (m1) {
      scenarios.push([
        `live/${engine}/hold`,
        [
          ...holdTable.install(t),
          holdTable.set(t, m1, true),
          holdTable.set(t, m1, false),
          ...holdTable.repair(t, { installed: false, queueRules: false, held: [] }),
          ...holdTable.repair(t, { installed: true, queueRules: true, held: [] }),
        ],
      ]);
    }
    const none = resolveLab(NO_GRACE_LAB, { prefix: 'g-', engine });
    scenarios.push(...scenariosOf('no-grace', none, engine));
  }
  return Object.fromEntries(scenarios.map(([name, ops]) => [name, ops.map(golden)]));
}
