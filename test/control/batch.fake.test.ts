// The controller's batches with each engine, without root, on the fake kernel: rounds in arrival
// order, each one rule transaction and its flows' conntrack deletes; failures that stay with their
// move; late packets of every moved flow's former responder still translated.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Flowmig, type MigrationResult, type MoveOutcome } from '../../src/control/flowmig.js';
import { DNAT_MAP, FLOWMIG_TABLE } from '../../src/engines/nftables.js';
import { InputError } from '../../src/errors.js';
import type { RecordedCall } from '../../src/exec/recording.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { EngineName, LabDescriptionInput } from '../../src/lab/schema.js';
import { setRef } from '../../src/nft/objects.js';
import { deleteElements } from '../../src/nft/transaction.js';
import { type Delivery, FakeKernel } from '../support/fake-kernel.js';
import { THREE_SERVERS_LAB } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const ENGINES: readonly EngineName[] = ['nftables', 'iptables'];

/** Three servers (C, D, E); C serves fe00::1 and fe00::2, D fe00::3. */
const BATCH_LAB: LabDescriptionInput = {
  ...THREE_SERVERS_LAB,
  name: 'default',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'C' },
    { address: 'fe00::3', initiator: 'A', responder: 'D' },
  ],
};

const where = (d: Delivery) => (d.node ? `${d.node} from ${d.from}` : d.held ? 'held' : 'nowhere');

/** A call as its program's kind: the rule or release transaction, or a conntrack delete. */
const kindOf = (c: RecordedCall): string =>
  c.argv[0] === 'conntrack'
    ? `conntrack ${c.argv[c.argv.indexOf('--orig-dst') + 1]}`
    : (c.argv[0] ?? '');

const ok = (o: MoveOutcome | undefined): MigrationResult => {
  assert.ok(o?.ok, `expected a result, got ${o && !o.ok ? o.error.message : 'nothing'}`);
  return o.result;
};

for (const engine of ENGINES) {
  describe(`batches with the ${engine} engine, on the fake kernel`, () => {
    let root = '';
    let n = 0;
    let kernel: FakeKernel;
    let fm: Flowmig;
    const P = engine === 'nftables' ? 'n2-' : 'i2-';
    const B = `${P}B`;
    /** The rule transaction's programs: nft, or ip6tables then nft (the late table). */
    const rules = engine === 'nftables' ? ['nft'] : ['ip6tables-restore', 'nft'];

    before(async () => {
      root = await tempDir(`batch-${engine}`);
    });
    after(async () => {
      await removeDir(root);
    });
    beforeEach(() => {
      kernel = new FakeKernel();
      kernel.conntrackDeleted = undefined;
      kernel.conntrackList = undefined;
      fm = new Flowmig({
        runner: kernel.runner,
        preflight: false,
        agent: false,
        inProcess: false,
        stateDir: `${root}/state-${n++}`,
      });
    });

    const lab = (): Lab => resolveLab(BATCH_LAB, { prefix: P, engine });
    const send = (from: string, dst: string, id: number) =>
      kernel.trace({ from: `${P}${from}`, dst, proto: 'udp', id });
    let ids = 70000;
    /**
     * The recorded state, its flows checked against where the translator sends a new packet from
     * each flow's initiator now (except the `drifted` ones).
     */
    const recorded = async (l: Lab, drifted: readonly string[] = []) => {
      const state = await fm.store.read(l.id);
      assert.ok(state);
      for (const f of state.flows) {
        if (drifted.includes(f.address)) continue;
        const to = where(send(f.initiator, f.address, ids++));
        assert.equal(to, `${P}${f.responder} from ${f.address}`, `the kernel has ${f.address}`);
      }
      return state;
    };
    /** The calls made by `fn`, as kinds. */
    const callsOf = async <T>(fn: () => Promise<T>): Promise<{ value: T; calls: string[] }> => {
      const mark = kernel.runner.calls.length;
      const value = await fn();
      return { value, calls: kernel.runner.calls.slice(mark).map(kindOf) };
    };

    it('distinct flows: one rule transaction, their conntrack deletes, one release; each its result', async () => {
      const l = lab();
      await fm.up(l);
      for (const [dst, id] of [
        ['fe00::1', 1],
        ['fe00::2', 2],
        ['fe00::3', 3],
      ] as const)
        send('A', dst, 40000 + id);
      const { value: outcomes, calls } = await callsOf(() =>
        fm.changeMany(l.id, [
          { kind: 'swap', flow: 'fe00::1' },
          { kind: 'migrate', flow: 'fe00::2', node: 'E' },
          { kind: 'swap', flow: 'fe00::3' },
        ]),
      );
      assert.deepEqual(calls, [
        ...rules,
        'conntrack fe00::1',
        'conntrack fe00::2',
        'conntrack fe00::3',
        'nft',
      ]);
      const results = outcomes.map(ok);
      assert.deepEqual(
        results.map((r) => [r.flow, r.from, r.to, r.changed, r.batched]),
        [
          ['fe00::1', 'C', 'D', true, 3],
          ['fe00::2', 'C', 'E', true, 3],
          ['fe00::3', 'D', 'E', true, 3],
        ],
      );
      // The programs delete each flow's entries on their own: each result counts its own.
      assert.deepEqual(
        results.map((r) => r.conntrackDeleted),
        [1, 1, 1],
      );
      for (const [dst, to] of [
        ['fe00::1', 'D'],
        ['fe00::2', 'E'],
        ['fe00::3', 'E'],
      ] as const)
        assert.equal(where(send('A', dst, 50000)), `${P}${to} from ${dst}`);
      const status = await recorded(l);
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder]),
        [
          ['fe00::1', 'D'],
          ['fe00::2', 'E'],
          ['fe00::3', 'E'],
        ],
      );
      assert.equal(status.migrations, 3);
      assert.deepEqual([status.lastMigration?.flow, status.lastMigration?.to], ['fe00::3', 'E']);
    });

    it('late packets of every moved flow’s former responder still reach the initiator', async () => {
      const l = lab();
      await fm.up(l);
      for (const [dst, id] of [
        ['fe00::1', 1],
        ['fe00::2', 2],
        ['fe00::3', 3],
      ] as const)
        send('A', dst, 40000 + id);
      await fm.changeMany(l.id, [
        { kind: 'swap', flow: 'fe00::1' },
        { kind: 'swap', flow: 'fe00::2' },
        { kind: 'swap', flow: 'fe00::3' },
      ]);
      for (const [from, dst, id] of [
        ['C', 'fe00::1', 1],
        ['C', 'fe00::2', 2],
        ['D', 'fe00::3', 3],
      ] as const) {
        const late = send(from, dst, 40000 + id);
        assert.deepEqual(
          [where(late), late.late],
          [`${P}A from ${dst}`, true],
          `${from}'s late reply on ${dst}`,
        );
      }
      assert.deepEqual(kernel.lateFormer(B).sort(), [
        'fc01::1 . fe00::1',
        'fc01::1 . fe00::2',
        'fc02::2 . fe00::3',
      ]);
    });

    it('a flow asked for twice: two rounds in arrival order, each move from → to as it happened', async () => {
      const l = lab();
      await fm.up(l);
      const { value: outcomes, calls } = await callsOf(() =>
        fm.changeMany(l.id, [
          { kind: 'swap', flow: 'fe00::1' },
          { kind: 'swap', flow: 'fe00::2' },
          { kind: 'swap', flow: 'fe00::1' },
          { kind: 'migrate', flow: 'fe00::3', node: 'D' },
          { kind: 'migrate', flow: 'fe00::1', node: 'C' },
        ]),
      );
      assert.deepEqual(
        outcomes
          .map(ok)
          .map((r) => `${r.flow}:${r.from}>${r.to}${r.changed ? '' : ' (no change)'}`),
        ['fe00::1:C>D', 'fe00::2:C>D', 'fe00::1:D>E', 'fe00::3:D>D (no change)', 'fe00::1:E>C'],
      );
      const programs = calls.filter((c) => !c.startsWith('conntrack'));
      // Three rounds: each a rule transaction and a release.
      assert.deepEqual(programs, [...rules, 'nft', ...rules, 'nft', ...rules, 'nft']);
      assert.deepEqual(
        calls.filter((c) => c.startsWith('conntrack')),
        ['conntrack fe00::1', 'conntrack fe00::2', 'conntrack fe00::1', 'conntrack fe00::1'],
      );
      const status = await recorded(l);
      assert.deepEqual(
        status.flows.map((f) => f.responder),
        ['C', 'D', 'D'],
      );
      assert.equal(status.migrations, 4, 'the move that changed nothing is not counted');
    });

    it('a refused move fails alone, with its own error; the others are applied', async () => {
      const l = lab();
      await fm.up(l);
      const events: string[] = [];
      fm.onChange((e) => events.push(e.kind === 'migrated' ? e.result.flow : e.kind));
      const outcomes = await fm.changeMany(l.id, [
        { kind: 'migrate', flow: 'fe00::9', node: 'D' },
        { kind: 'swap', flow: 'fe00::1' },
        { kind: 'migrate', flow: 'fe00::2', node: 'Z' },
        { kind: 'swap' },
        { kind: 'swap', flow: 'fe00::2' },
      ]);
      assert.deepEqual(
        outcomes.map((o) =>
          o.ok ? `${o.result.from}>${o.result.to}` : `${o.error.constructor.name}`,
        ),
        ['InputError', 'C>D', 'InputError', 'InputError', 'C>D'],
      );
      const bad = outcomes[2];
      assert.ok(bad && !bad.ok && bad.error instanceof InputError);
      assert.match(bad.error.message, /unknown node 'Z'/);
      assert.deepEqual(events, ['fe00::1', 'fe00::2']);
      await recorded(l);
    });

    it('a round the kernel refuses as a whole is tried move by move: only the bad one fails', async () => {
      const l = lab();
      await fm.up(l);
      if (engine === 'nftables') {
        // fe00::2's mapping was deleted behind flowmig's back: a transaction that replaces it
        // fails whole (nft cannot delete a missing element).
        kernel.nftBy(B, [
          deleteElements(setRef(FLOWMIG_TABLE, DNAT_MAP), [{ key: ['fc00::1', 'fe00::2'] }]),
        ]);
      } else {
        // ip6tables-restore refuses any table that moves fe00::2 to D.
        kernel.failWhen(
          (c) =>
            c.argv[0] === 'ip6tables-restore' &&
            (c.stdin ?? '').includes('-d fe00::2/128 -j DNAT --to-destination fc02::2'),
          { exitCode: 2, stderr: 'ip6tables-restore: line 3 failed\n' },
        );
      }
      const mark = kernel.runner.calls.length;
      const outcomes = await fm.changeMany(l.id, [
        { kind: 'swap', flow: 'fe00::1' },
        { kind: 'swap', flow: 'fe00::2' },
        { kind: 'swap', flow: 'fe00::3' },
        { kind: 'swap', flow: 'fe00::1' },
      ]);
      // The rule transactions (not the late table's, not its release).
      const ruleCalls = kernel.runner.calls
        .slice(mark)
        .filter(
          (c) =>
            c.argv[0] === 'ip6tables-restore' ||
            (c.argv[0] === 'nft' && (c.stdin ?? '').includes('dnat_to')),
        );
      assert.deepEqual(
        outcomes.map((o) => (o.ok ? `${o.result.flow}:${o.result.from}>${o.result.to}` : 'failed')),
        ['fe00::1:C>D', 'failed', 'fe00::3:D>E', 'fe00::1:D>E'],
      );
      // The whole round once (refused), then its moves one by one, then the last round.
      assert.equal(ruleCalls.length, 1 + 3 + 1);
      const status = await recorded(l, engine === 'nftables' ? ['fe00::2'] : []);
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder]),
        [
          ['fe00::1', 'E'],
          ['fe00::2', 'C'],
          ['fe00::3', 'E'],
        ],
      );
      if (engine === 'nftables')
        assert.equal(where(send('A', 'fe00::2', 60000)), 'nowhere', 'the drift is still there');
    });

    it('migrate and swap are one-move batches: their results and errors as before', async () => {
      const l = lab();
      await fm.up(l);
      const r = await fm.swap(l.id, 'fe00::2');
      assert.deepEqual([r.from, r.to, r.changed, r.batched], ['C', 'D', true, undefined]);
      await assert.rejects(fm.migrate(l.id, 'fe00::1', 'Z'), InputError);
      await assert.rejects(fm.swap(l.id), /the lab has 3 flows/);
      const same = await fm.migrate(l.id, 'fe00::1', 'C');
      assert.deepEqual([same.changed, same.steps.length], [false, 0]);
      assert.deepEqual(await fm.changeMany(l.id, []), []);
    });

    /** A second controller on the same state, as `--direct` in another process would be. */
    const otherController = () =>
      new Flowmig({
        runner: kernel.runner,
        preflight: false,
        agent: false,
        inProcess: false,
        stateDir: fm.store.dir,
      });

    it('a change made by another controller (--direct) is seen by the next batch', async () => {
      const l = lab();
      await fm.up(l);
      await fm.swap(l.id, 'fe00::1');
      const other = otherController();
      assert.equal((await other.swap(l.id, 'fe00::1')).to, 'E');
      const [o] = await fm.changeMany(l.id, [{ kind: 'swap', flow: 'fe00::1' }]);
      assert.deepEqual([ok(o).from, ok(o).to], ['E', 'C']);
      await recorded(l);
    });

    it('… also when a read of the controller (a drain check, status) took the change in first', async () => {
      const l = lab();
      await fm.up(l);
      await fm.swap(l.id, 'fe00::1');
      const other = otherController();
      assert.equal((await other.swap(l.id, 'fe00::1')).to, 'E');
      // The store catches up with the other controller's commit; the held copy is still behind.
      assert.equal((await fm.store.read(l.id))?.flows[0]?.responder, 'E');
      await fm.endDrains(l.id);
      const [o] = await fm.changeMany(l.id, [{ kind: 'swap', flow: 'fe00::1' }]);
      assert.deepEqual([ok(o).from, ok(o).to], ['E', 'C']);
      await recorded(l);
    });
  });
}
