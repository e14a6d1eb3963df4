import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Flowmig } from '../../src/control/flowmig.js';
import { FlowmigError, InputError } from '../../src/errors.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { referenceLab, TWO_CLIENTS_LAB } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const ID = 't1-default';
const NAMESPACES = ['t1-A', 't1-B', 't1-C', 't1-D'];

describe('Flowmig against a fake kernel (RecordingRunner)', () => {
  let root = '';
  let n = 0;
  let kernel: FakeKernel;
  let fm: Flowmig;
  let lab: Lab;

  before(async () => {
    root = await tempDir('flowmig');
  });
  after(async () => {
    await removeDir(root);
  });
  beforeEach(() => {
    kernel = new FakeKernel();
    fm = new Flowmig({ stateDir: `${root}/state-${n++}`, runner: kernel.runner, preflight: false });
    lab = referenceLab({ prefix: 't1-', engine: 'iptables' });
  });

  /** The state files present (the lock directory is not one). */
  const stateFiles = async () =>
    (await readdir(fm.store.dir).catch(() => [])).filter((f) => f.endsWith('.json'));
  const since = (mark: number) => kernel.lines().slice(mark);

  describe('up', () => {
    it('refuses when one of its namespaces exists, before changing anything', async () => {
      kernel.addForeign('t1-C');
      await assert.rejects(fm.up(lab), (error: unknown) => {
        assert.ok(error instanceof FlowmigError);
        assert.match(error.message, /namespace t1-C already exists/);
        assert.match(error.message, /--prefix/);
        return true;
      });
      assert.deepEqual(kernel.lines(), ['ip netns list']);
      assert.deepEqual(await stateFiles(), []);
      assert.deepEqual(kernel.names(), ['t1-C']);
    });

    it('names every namespace that is taken', async () => {
      kernel.addForeign('t1-A');
      kernel.addForeign('t1-D', 'flowmig:someone-else');
      await assert.rejects(
        fm.up(lab),
        /namespaces t1-A, t1-D already exist; flowmig will not touch them/,
      );
      assert.deepEqual(kernel.lines(), ['ip netns list']);
    });

    it('builds the lab: marked namespaces, links up, the table installed, state recorded', async () => {
      const steps: string[] = [];
      const status = await fm.up(lab, {
        onStep: (text, i, total) => steps.push(`${i}/${total} ${text}`),
      });
      assert.deepEqual(kernel.names(), NAMESPACES);
      for (const ns of NAMESPACES)
        assert.equal(kernel.namespaces.get(ns)?.alias, 'flowmig:t1-default');
      assert.equal(status.id, ID);
      assert.equal(status.phase, 'up');
      assert.ok(status.nodes.every((node) => node.present && node.owned));
      assert.equal(status.translatorInstalled, true);
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder, f.kernelResponder, f.inSync]),
        [['fe00::1', 'C', 'fc01::1', true]],
      );
      assert.deepEqual(status.late, {
        installed: true,
        graceMs: 5000,
        translated: 0,
        afterConntrack: 0,
        former: [],
      });
      assert.equal(kernel.lateInitiator('t1-B', 'fe00::1'), 'fc00::1');
      const state = await fm.store.read(ID);
      assert.equal(state?.phase, 'up');
      assert.deepEqual(state?.created, NAMESPACES);
      assert.equal(steps[0], '1/32 create namespace t1-A');
      assert.ok(
        steps.includes('32/32 t1-B: nft: table ip6 flowmig_late (late packets)'),
        steps.join('\n'),
      );
      assert.match(steps.at(-1) ?? '', /waiting for the links/);
      // Nothing outside the lab's namespaces was touched.
      for (const call of kernel.runner.calls) {
        const ns =
          call.netns ??
          (call.argv[2] === 'add' || call.argv[2] === 'delete' ? call.argv[3] : undefined);
        if (ns !== undefined) assert.ok(NAMESPACES.includes(ns), call.full.join(' '));
      }
    });

    it('records each namespace in the state file before creating it (write-ahead)', async () => {
      const seen: string[] = [];
      kernel.observe((call) => {
        if (call.argv.join(' ').startsWith('ip netns add ')) {
          const ns = call.argv[3] ?? '';
          const state = JSON.parse(readFileSync(fm.store.path(ID), 'utf8')) as {
            created: string[];
          };
          seen.push(`${ns} recorded: ${state.created.includes(ns)}`);
        }
      });
      await fm.up(lab);
      assert.deepEqual(
        seen,
        NAMESPACES.map((ns) => `${ns} recorded: true`),
      );
    });

    it('rolls back when ip6tables-restore fails: deletes every namespace it made, keeps no state', async () => {
      kernel.failWhen((call) => call.argv[0] === 'ip6tables-restore', {
        exitCode: 2,
        stderr:
          'ip6tables-restore v1.8.9 (nf_tables): unknown option "--ctorigdst"\nError occurred at line: 6\n',
      });
      await assert.rejects(fm.up(lab), (error: unknown) => {
        assert.ok(error instanceof FlowmigError);
        assert.match(error.message, /^up failed at "t1-B: ip6tables: install 1 flow\(s\)": /);
        assert.match(error.message, /unknown option "--ctorigdst"/);
        assert.match(error.message, /rolled back \(removed t1-D, t1-C, t1-B, t1-A\)$/);
        return true;
      });
      const lines = kernel.lines();
      for (const ns of NAMESPACES) assert.ok(lines.includes(`ip netns delete ${ns}`), ns);
      // Ownership was checked before each delete.
      const firstDelete = lines.findIndex((l) => l.startsWith('ip netns delete '));
      for (const ns of NAMESPACES) {
        const check = lines.lastIndexOf(`ip -n ${ns} -o link show`, firstDelete);
        assert.ok(check >= 0 && check < firstDelete, ns);
      }
      assert.deepEqual(kernel.names(), []);
      assert.deepEqual(await stateFiles(), []);
      assert.deepEqual(await fm.store.list(), []);
    });

    it('rolls back a namespace created but not yet marked (a bare one it recorded)', async () => {
      kernel.failWhen((call) => call.netns === 't1-A' && call.argv.includes('alias'), {
        exitCode: 1,
        stderr: 'RTNETLINK answers: Operation not permitted\n',
      });
      await assert.rejects(
        fm.up(lab),
        /up failed at "t1-A: lo up, mark flowmig:t1-default": .*rolled back \(removed t1-A\)$/,
      );
      assert.deepEqual(kernel.names(), []);
      assert.deepEqual(await stateFiles(), []);
    });

    it('does not delete a namespace someone else created under its feet (create failed)', async () => {
      kernel.failWhen(
        (call) => call.argv.join(' ') === 'ip netns add t1-C',
        { exitCode: 1, stderr: 'Cannot create namespace file "/run/netns/t1-C": File exists\n' },
        () => kernel.addForeign('t1-C'),
      );
      await assert.rejects(fm.up(lab), (error: unknown) => {
        assert.ok(error instanceof FlowmigError);
        assert.match(error.message, /^up failed at "create namespace t1-C": /);
        assert.match(error.message, /rolled back \(removed t1-B, t1-A\)$/);
        return true;
      });
      assert.deepEqual(kernel.names(), ['t1-C']);
      assert.ok(!kernel.lines().includes('ip netns delete t1-C'));
      assert.deepEqual(await stateFiles(), []);
    });

    it('refuses a lab that is already up, touching nothing', async () => {
      await fm.up(lab);
      const mark = kernel.lines().length;
      await assert.rejects(
        fm.up(lab),
        /lab t1-default is already up .*flowmig down --lab t1-default/,
      );
      assert.deepEqual(since(mark), ['ip netns list']);
      assert.equal((await fm.store.read(ID))?.phase, 'up');
      assert.deepEqual(kernel.names(), NAMESPACES);
    });

    it('replaces a stale state whose namespaces are gone', async () => {
      await fm.up(lab);
      for (const ns of NAMESPACES) kernel.namespaces.delete(ns);
      const status = await fm.up(lab);
      assert.equal(status.phase, 'up');
      assert.deepEqual(kernel.names(), NAMESPACES);
    });
  });

  describe('swap and migrate', () => {
    it('swap runs ip6tables-restore, the late table, conntrack -D for the flow, then the release, in the translator', async () => {
      await fm.up(lab);
      const mark = kernel.runner.calls.length;
      const result = await fm.swap(ID);
      const calls = kernel.runner.calls.slice(mark);
      assert.deepEqual(
        calls.map((c) => [c.netns, ...c.argv]),
        [
          ['t1-B', 'ip6tables-restore', '-w', '--noflush'],
          ['t1-B', 'nft', '-f', '-'],
          ['t1-B', 'conntrack', '-D', '-f', 'ipv6', '--orig-dst', 'fe00::1'],
          ['t1-B', 'nft', '-f', '-'],
        ],
      );
      assert.match(
        calls[0]?.stdin ?? '',
        /-s fc00::1\/128 -d fe00::1\/128 -j DNAT --to-destination fc02::2$/m,
      );
      assert.equal(
        calls[1]?.stdin,
        'add element ip6 flowmig_late late_from { fc01::1 . fe00::1 timeout 5000ms }\n',
      );
      // The release: D leaves the late set only after the conntrack delete.
      assert.equal(
        calls[3]?.stdin,
        [
          'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
          'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
          '',
        ].join('\n'),
      );
      assert.equal(result.lab, ID);
      assert.equal(result.flow, 'fe00::1');
      assert.equal(result.role, 'responder');
      assert.equal(result.from, 'C');
      assert.equal(result.to, 'D');
      assert.equal(result.changed, true);
      assert.equal(result.conntrackDeleted, 1);
      assert.deepEqual(
        result.steps.map((s) => s.op.kind),
        ['netfilterApply', 'netfilterApply', 'conntrackDelete', 'netfilterApply'],
      );
      assert.equal(result.path, 'programs');
      assert.ok(result.totalMs >= result.ruleMs);
    });

    it('records the new responder and the migration in the state file', async () => {
      await fm.up(lab);
      await fm.swap(ID);
      const state = await fm.store.read(ID);
      assert.deepEqual(state?.flows, [{ address: 'fe00::1', initiator: 'A', responder: 'D' }]);
      assert.equal(state?.migrations, 1);
      assert.equal(state?.lastMigration?.from, 'C');
      assert.equal(state?.lastMigration?.to, 'D');
      const status = await fm.status(ID);
      assert.deepEqual(
        status.flows.map((f) => [f.responder, f.kernelResponder, f.inSync]),
        [['D', 'fc02::2', true]],
      );
      // Two entries of the flow (one of them already on D) and one of another address.
      kernel.conntrackList = [
        'icmpv6   58 29 src=fc00::1 dst=fe00::1 type=128 code=0 id=7 src=fc02::2 dst=fe00::1 type=129 code=0 id=7 mark=0 use=1',
        'udp      17 29 src=fc00::1 dst=fe00::1 sport=40000 dport=5555 [UNREPLIED] src=fc01::1 dst=fe00::1 sport=5555 dport=40000 mark=0 use=1',
        'udp      17 29 src=fc00::1 dst=fe00::9 sport=40001 dport=5555 [UNREPLIED] src=fe00::9 dst=fc00::1 sport=5555 dport=40001 mark=0 use=1',
      ];
      assert.deepEqual(
        (await fm.status(ID)).flows.map((f) => [f.address, f.conntrackEntries]),
        [['fe00::1', 2]],
      );
      // The fake kernel's clock stands still: all of C's grace is left.
      assert.deepEqual(status.late.former, [
        { address: 'fe00::1', responderAddress: 'fc01::1', expiresMs: 5000 },
      ]);
      assert.deepEqual(
        (await fm.flows(ID)).map((f) => f.responder),
        ['D'],
      );
    });

    it('a second swap brings the flow back to C', async () => {
      await fm.up(lab);
      await fm.swap(ID);
      const back = await fm.swap(ID, 'fe00::1');
      assert.equal(back.from, 'D');
      assert.equal(back.to, 'C');
      assert.equal((await fm.store.read(ID))?.migrations, 2);
      const status = await fm.status(ID);
      assert.equal(status.flows[0]?.kernelResponder, 'fc01::1');
      // Back on C within D's grace: D is the former responder, C no longer.
      assert.deepEqual(status.late.former, [
        { address: 'fe00::1', responderAddress: 'fc02::2', expiresMs: 5000 },
      ]);
    });

    it('a swap back within the grace: C is released from the late set only after conntrack -D', async () => {
      await fm.up(lab);
      await fm.swap(ID);
      const former = () => kernel.lateFormer('t1-B');
      const seen: string[] = [];
      kernel.observe((call) => {
        if (call.argv[0] === 'conntrack') seen.push(`at conntrack -D: ${former().join(', ')}`);
      });
      const mark = kernel.lines().length;
      await fm.swap(ID);
      assert.deepEqual(since(mark), [
        'ip netns exec t1-B ip6tables-restore -w --noflush',
        'ip netns exec t1-B nft -f -',
        'ip netns exec t1-B conntrack -D -f ipv6 --orig-dst fe00::1',
        'ip netns exec t1-B nft -f -',
      ]);
      // While conntrack deletes the old entries, C (the new responder, a former one within its
      // grace) is still in the late set: its late packets are rewritten statelessly instead of
      // starting a tracked connection that would clash with A's entry to D.
      assert.deepEqual(seen, ['at conntrack -D: fc01::1 . fe00::1, fc02::2 . fe00::1']);
      assert.deepEqual(former(), ['fc02::2 . fe00::1']);
    });

    it('a failed conntrack delete leaves the release undone and the recorded responder as it was', async () => {
      await fm.up(lab);
      kernel.failWhen((call) => call.argv[0] === 'conntrack', {
        exitCode: 1,
        stderr: 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters\n',
      });
      const mark = kernel.lines().length;
      await assert.rejects(fm.swap(ID), FlowmigError);
      assert.equal(
        since(mark).at(-1),
        'ip netns exec t1-B conntrack -D -f ipv6 --orig-dst fe00::1',
      );
      assert.equal(since(mark).length, 3);
      assert.equal((await fm.store.read(ID))?.flows[0]?.responder, 'C');
    });

    it('migrating the initiator changes the late packets’ initiator too', async () => {
      const clients = resolveLab(
        { ...TWO_CLIENTS_LAB, name: 'default' },
        { prefix: 't1-', engine: 'iptables' },
      );
      assert.equal(clients.id, ID);
      await fm.up(clients);
      const mark = kernel.lines().length;
      const result = await fm.migrate(ID, 'fe00::1', 'E');
      assert.equal(result.role, 'initiator');
      // The responder stays: no release after the conntrack delete.
      assert.deepEqual(since(mark), [
        'ip netns exec t1-B ip6tables-restore -w --noflush',
        'ip netns exec t1-B nft -f -',
        'ip netns exec t1-B conntrack -D -f ipv6 --orig-dst fe00::1',
      ]);
      assert.equal(kernel.lateInitiator('t1-B', 'fe00::1'), 'fc03::1');
      const status = await fm.status(ID);
      assert.deepEqual(
        status.flows.map((f) => [f.initiator, f.kernelResponder, f.inSync]),
        [['E', 'fc01::1', true]],
      );
      assert.deepEqual(status.late.former, []);
    });

    it('status shows a flow out of sync when the late table names another initiator', async () => {
      await fm.up(lab);
      kernel.setLateInitiator('t1-B', 'fe00::1', 'fc09::9');
      const status = await fm.status(ID);
      assert.equal(status.translatorInstalled, true);
      assert.deepEqual(
        status.flows.map((f) => [f.kernelResponder, f.inSync]),
        [['', false]],
      );
    });

    it('status says the translator is not installed when the late table is missing', async () => {
      await fm.up(lab);
      kernel.deleteTable('t1-B', 'flowmig_late');
      const status = await fm.status(ID);
      assert.equal(status.translatorInstalled, false);
      assert.equal(status.late.installed, false);
      assert.equal(status.flows[0]?.inSync, false);
    });

    it('counts 0 deleted entries when conntrack found none (exit 1)', async () => {
      await fm.up(lab);
      kernel.conntrackDeleted = 0;
      const result = await fm.migrate(ID, 'fe00::1', 'D');
      assert.equal(result.conntrackDeleted, 0);
      assert.equal(result.to, 'D');
    });

    it('migrating to the current responder changes nothing and runs nothing', async () => {
      await fm.up(lab);
      const mark = kernel.lines().length;
      const result = await fm.migrate(ID, 'FE00:0::1', 'C');
      assert.equal(result.changed, false);
      assert.equal(result.from, 'C');
      assert.equal(result.to, 'C');
      assert.deepEqual(since(mark), []);
      assert.equal((await fm.store.read(ID))?.migrations, 0);
    });

    it('refuses an unknown node or flow with an InputError, running nothing', async () => {
      await fm.up(lab);
      const mark = kernel.lines().length;
      await assert.rejects(
        fm.migrate(ID, 'fe00::1', 'Z'),
        (e: unknown) => e instanceof InputError && /unknown node 'Z'/.test(e.message),
      );
      await assert.rejects(
        fm.migrate(ID, 'fe00::7', 'D'),
        (e: unknown) => e instanceof InputError && /unknown flow 'fe00::7'/.test(e.message),
      );
      await assert.rejects(fm.migrate(ID, 'fe00::1', 'B'), InputError);
      assert.deepEqual(since(mark), []);
      assert.equal((await fm.store.read(ID))?.flows[0]?.responder, 'C');
    });

    it('a failed rule change leaves the recorded responder as it was', async () => {
      await fm.up(lab);
      kernel.failWhen((call) => call.argv[0] === 'ip6tables-restore', {
        exitCode: 4,
        stderr: 'ip6tables-restore: lock busy\n',
      });
      const mark = kernel.lines().length;
      await assert.rejects(fm.swap(ID), FlowmigError);
      // Neither the late table nor conntrack is touched when the rule did not change.
      assert.deepEqual(since(mark), ['ip netns exec t1-B ip6tables-restore -w --noflush']);
      assert.equal((await fm.store.read(ID))?.flows[0]?.responder, 'C');
      assert.equal((await fm.store.read(ID))?.migrations, 0);
      assert.deepEqual((await fm.status(ID)).late.former, []);
    });

    it('with ip6tables the late table is a second transaction: if it fails, status shows it', async () => {
      await fm.up(lab);
      kernel.failWhen((call) => call.argv.join(' ') === 'nft -f -', {
        exitCode: 1,
        stderr: 'Error: Could not process rule: No buffer space available\n',
      });
      const mark = kernel.lines().length;
      await assert.rejects(fm.swap(ID), FlowmigError);
      assert.deepEqual(since(mark), [
        'ip netns exec t1-B ip6tables-restore -w --noflush',
        'ip netns exec t1-B nft -f -',
      ]);
      assert.equal((await fm.store.read(ID))?.flows[0]?.responder, 'C');
      // The chains already map fe00::1 to D: the recorded C is out of sync, and says so.
      assert.deepEqual(
        (await fm.status(ID)).flows.map((f) => [f.responder, f.kernelResponder, f.inSync]),
        [['C', 'fc02::2', false]],
      );
    });

    it('refuses to act on a lab that is not up', async () => {
      await assert.rejects(fm.swap(ID), /no lab 't1-default' is up/);
      await assert.rejects(fm.status(ID), /no lab 't1-default' is up/);
      assert.deepEqual(kernel.lines(), []);
    });
  });

  describe('down', () => {
    it('removes every namespace of the lab; a second down is fine and says there was no state', async () => {
      await fm.up(lab);
      const first = await fm.down(ID);
      assert.equal(first.id, ID);
      assert.equal(first.hadState, true);
      assert.deepEqual([...first.removed].sort(), NAMESPACES);
      assert.deepEqual(first.skipped, []);
      assert.deepEqual(kernel.names(), []);
      assert.deepEqual(await stateFiles(), []);

      const mark = kernel.lines().length;
      const second = await fm.down(ID);
      assert.deepEqual(second, { id: ID, removed: [], skipped: [], hadState: false });
      assert.ok(!since(mark).some((l) => l.startsWith('ip netns delete')));
    });

    it('without state, finds the lab by the mark on its namespaces and leaves the others', async () => {
      await fm.up(lab);
      await fm.store.remove(ID);
      kernel.addForeign('t1-X', 'flowmig:other-lab');
      kernel.addForeign('prod');
      const result = await fm.down(ID);
      assert.equal(result.hadState, false);
      assert.deepEqual([...result.removed].sort(), NAMESPACES);
      assert.deepEqual(kernel.names(), ['prod', 't1-X']);
    });

    it('never deletes an unmarked namespace that merely has one of the lab’s names', async () => {
      kernel.addForeign('t1-C');
      kernel.addForeign('t1-B', 'flowmig:someone-else');
      const result = await fm.down(ID, lab);
      assert.deepEqual(result.removed, []);
      assert.deepEqual([...result.skipped].sort(), ['t1-B', 't1-C']);
      assert.deepEqual(kernel.names(), ['t1-B', 't1-C']);
      assert.ok(!kernel.lines().some((l) => l.startsWith('ip netns delete')));
    });

    it('copes with a namespace deleted behind its back', async () => {
      await fm.up(lab);
      kernel.namespaces.delete('t1-C');
      const result = await fm.down(ID);
      assert.deepEqual([...result.removed].sort(), ['t1-A', 't1-B', 't1-D']);
      assert.deepEqual(kernel.names(), []);
    });
  });

  describe('pick', () => {
    it('picks the only lab, or says none or several are up', async () => {
      await assert.rejects(fm.pick(undefined), /no lab is up/);
      await fm.up(lab);
      assert.equal(await fm.pick(undefined), ID);
      await fm.up(referenceLab({ prefix: 't2-', engine: 'iptables' }));
      await assert.rejects(
        fm.pick(undefined),
        /several labs are up \(t1-default, t2-default\); name one with --lab/,
      );
      assert.equal(await fm.pick('t2-default'), 't2-default');
    });
  });
});
