import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { CommandError } from '../../src/errors.js';
import { execute, executeOp } from '../../src/exec/execute.js';
import { RecordingRunner, type Responder } from '../../src/exec/recording.js';
import { planUp } from '../../src/plan/build.js';
import { commandFor } from '../../src/plan/command.js';
import { planSwap } from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
import { at, referenceLab } from '../support/labs.js';

const DELETE: Op = { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::1' };

const conntrackSays =
  (answer: ReturnType<Responder>): Responder =>
  (call) =>
    call.argv[0] === 'conntrack' ? answer : undefined;

describe('execute with a RecordingRunner', () => {
  it('runs every op of planUp in order, as commandFor renders it', async () => {
    const runner = new RecordingRunner();
    const ops = planUp(referenceLab(), iptablesEngine);
    const steps = await execute(runner, ops);
    assert.equal(steps.length, ops.length);
    assert.deepEqual(
      steps.map((s) => s.op),
      ops,
    );
    assert.deepEqual(
      runner.calls.map((c) => ({ argv: c.argv, netns: c.netns, stdin: c.stdin })),
      ops.map((op) => {
        const cmd = commandFor(op);
        return { argv: cmd.argv, netns: cmd.netns, stdin: cmd.stdin };
      }),
    );
  });

  it('wraps ip with `ip -n` and everything else with `ip netns exec`', async () => {
    const runner = new RecordingRunner();
    await execute(runner, planUp(referenceLab(), iptablesEngine));
    const lines = runner.lines();
    assert.equal(lines[0], 'ip netns add A');
    assert.equal(lines[1], 'ip -n A link set dev lo up alias flowmig:default');
    assert.equal(
      lines[2],
      'ip netns exec A sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0',
    );
    assert.ok(lines.includes('ip -n A link add A-B type veth peer name B-A netns B'));
    assert.ok(lines.includes('ip -n B -6 addr add fc00::2/64 dev B-A nodad'));
    assert.ok(lines.includes('ip -n C -6 route add default via fc01::2 dev C-B'));
    assert.deepEqual(lines.slice(-2), [
      'ip netns exec B ip6tables-restore -w --noflush',
      'ip netns exec B nft -f -',
    ]);
    const install = at(runner.calls, runner.calls.length - 2);
    assert.deepEqual(install.full, [
      'ip',
      'netns',
      'exec',
      'B',
      'ip6tables-restore',
      '-w',
      '--noflush',
    ]);
    assert.match(install.stdin ?? '', /^\*nat\n/);
    const late = at(runner.calls, runner.calls.length - 1);
    assert.deepEqual(late.full, ['ip', 'netns', 'exec', 'B', 'nft', '-f', '-']);
    assert.match(late.stdin ?? '', /^table ip6 flowmig_late \{\n/);
  });

  it('runs a swap as ip6tables-restore, nft (late table), conntrack -D, then nft (the release)', async () => {
    const lab = referenceLab();
    const runner = new RecordingRunner(
      conntrackSays({
        stderr: 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n',
      }),
    );
    const steps = await execute(runner, planSwap(lab, iptablesEngine, lab.flows, undefined).ops);
    assert.deepEqual(runner.lines(), [
      'ip netns exec B ip6tables-restore -w --noflush',
      'ip netns exec B nft -f -',
      'ip netns exec B conntrack -D -f ipv6 --orig-dst fe00::1',
      'ip netns exec B nft -f -',
    ]);
    // The late table's rule part makes C a former responder; the release, after the conntrack
    // delete, takes D out of the late set.
    assert.match(runner.calls[1]?.stdin ?? '', /late_from \{ fc01::1 \. fe00::1 timeout 5000ms \}/);
    assert.equal(
      runner.calls[3]?.stdin,
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
    assert.equal(steps.length, 4);
    assert.equal(steps[2]?.deleted, 1);
    for (const i of [0, 1, 3]) assert.equal(steps[i]?.deleted, undefined, `step ${i}`);
  });

  it('stops at a failed conntrack delete: the release does not run', async () => {
    const lab = referenceLab();
    const runner = new RecordingRunner(
      conntrackSays({ fail: { exitCode: 1, stderr: 'conntrack: Operation failed\n' } }),
    );
    await assert.rejects(
      execute(runner, planSwap(lab, iptablesEngine, lab.flows, undefined).ops),
      CommandError,
    );
    assert.equal(runner.lines().at(-1), 'ip netns exec B conntrack -D -f ipv6 --orig-dst fe00::1');
    assert.equal(runner.calls.length, 3);
  });
});

describe('executeOp: conntrackDelete', () => {
  it('exit 1 with "0 flow entries have been deleted" is success with deleted 0', async () => {
    const runner = new RecordingRunner(
      conntrackSays({
        fail: {
          exitCode: 1,
          stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n',
        },
      }),
    );
    const step = await executeOp(runner, DELETE);
    assert.equal(step.deleted, 0);
    assert.equal(step.op, DELETE);
  });

  it('reads the count from stderr: 3 entries', async () => {
    const runner = new RecordingRunner(
      conntrackSays({
        stderr: 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n',
      }),
    );
    assert.equal((await executeOp(runner, DELETE)).deleted, 3);
  });

  it('exit 1 with another message is a CommandError keeping argv, namespace, code, stderr', async () => {
    const stderr = 'conntrack v1.4.7 (conntrack-tools): Operation failed: invalid parameters\n';
    const runner = new RecordingRunner(conntrackSays({ fail: { exitCode: 1, stderr } }));
    await assert.rejects(executeOp(runner, DELETE), (error: unknown) => {
      assert.ok(error instanceof CommandError);
      assert.deepEqual(error.argv, ['conntrack', '-D', '-f', 'ipv6', '--orig-dst', 'fe00::1']);
      assert.equal(error.netns, 'B');
      assert.equal(error.commandExitCode, 1);
      assert.equal(error.stderr, stderr);
      assert.match(
        error.message,
        /conntrack -D .* \(in namespace B\) failed: .*invalid parameters/,
      );
      return true;
    });
  });

  it('an exit code other than 0 and 1 fails even with a count', async () => {
    const runner = new RecordingRunner(
      conntrackSays({
        fail: {
          exitCode: 2,
          stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n',
        },
      }),
    );
    await assert.rejects(
      executeOp(runner, DELETE),
      (e: unknown) => e instanceof CommandError && e.commandExitCode === 2,
    );
  });

  it('exit 0 without a count is a CommandError too (the outcome is unknown)', async () => {
    const runner = new RecordingRunner(conntrackSays({ stderr: '' }));
    await assert.rejects(executeOp(runner, DELETE), (error: unknown) => {
      assert.ok(error instanceof CommandError);
      assert.match(
        error.message,
        /unexpected output while trying to B: delete conntrack entries to fe00::1/,
      );
      return true;
    });
  });
});

describe('execute: hooks and failures', () => {
  const ops = planUp(referenceLab({ prefix: 't1-' }), iptablesEngine);

  it('runs `before` before each op and `after` after it, in order', async () => {
    const log: string[] = [];
    const runner = new RecordingRunner((call) => {
      log.push(`run ${call.full.join(' ')}`);
      return undefined;
    });
    const few = ops.slice(0, 3);
    await execute(runner, few, {
      before: async (op) => {
        await new Promise((r) => setImmediate(r));
        log.push(`before ${op.kind}`);
      },
      after: (step, i, total) => log.push(`after ${step.op.kind} ${i + 1}/${total}`),
    });
    assert.deepEqual(log, [
      'before netnsAdd',
      'run ip netns add t1-A',
      'after netnsAdd 1/3',
      'before loopbackUp',
      'run ip -n t1-A link set dev lo up alias flowmig:t1-default',
      'after loopbackUp 2/3',
      'before sysctl',
      'run ip netns exec t1-A sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0',
      'after sysctl 3/3',
    ]);
  });

  it('stops at the first failure and rejects with its CommandError', async () => {
    const runner = new RecordingRunner((call) =>
      call.argv[0] === 'ip' && call.argv[2] === 'add' && call.argv[3] === 't1-B'
        ? {
            fail: {
              exitCode: 1,
              stderr: 'Cannot create namespace file "/run/netns/t1-B": File exists\n',
            },
          }
        : undefined,
    );
    const before: Op[] = [];
    await assert.rejects(
      execute(runner, ops, { before: (op) => void before.push(op) }),
      (error: unknown) => {
        assert.ok(error instanceof CommandError);
        assert.ok(error.isExists);
        assert.deepEqual(error.argv, ['ip', 'netns', 'add', 't1-B']);
        return true;
      },
    );
    assert.deepEqual(runner.lines().slice(-1), ['ip netns add t1-B']);
    assert.equal(runner.calls.length, 4);
    assert.equal(before.length, 4);
  });

  it('a failing `before` hook stops execution before its op runs', async () => {
    const runner = new RecordingRunner();
    await assert.rejects(
      execute(runner, ops, {
        before: (op) => {
          if (op.kind === 'sysctl') throw new Error('disk full');
        },
      }),
      /disk full/,
    );
    assert.deepEqual(
      runner.calls.map((c) => c.argv[0]),
      ['ip', 'ip'],
    );
  });

  it('records when and how long each step ran', async () => {
    const steps = await execute(new RecordingRunner(), ops.slice(0, 2));
    for (const s of steps) {
      assert.ok(Number.isFinite(s.startedAt) && s.startedAt > 0);
      assert.ok(Number.isFinite(s.durationMs) && s.durationMs >= 0);
    }
    assert.ok(at(steps, 1).startedAt >= at(steps, 0).startedAt);
  });

  it('does nothing for no ops', async () => {
    const runner = new RecordingRunner();
    assert.deepEqual(await execute(runner, []), []);
    assert.deepEqual(runner.calls, []);
  });
});
