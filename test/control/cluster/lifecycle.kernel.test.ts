// A cluster lab's life on real namespaces, etcd and host daemons: `up` refuses taken names and
// touches nothing, rolls back when a member cannot start, builds examples/three-hosts.yaml whose
// hosts all apply a swap (and, with host 1's daemon dead, a change through host 2's), and `down`
// leaves nothing, also with the state file damaged or gone, and after `up` was SIGKILLed anywhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ClusterDownResult } from '../../../src/control/cluster/down.js';
import { clusterStatePath, readClusterState } from '../../../src/control/cluster/state.js';
import type { ClusterStatus } from '../../../src/control/cluster/status.js';
import { upCluster } from '../../../src/control/cluster/up.js';
import { namespaceLinks } from '../../../src/control/kernel.js';
import type { HostdChange } from '../../../src/hostd-api/protocol.js';
import { loadCluster } from '../../../src/lab/cluster-load.js';
import {
  CLI,
  cli,
  namespacesWith,
  ROOT,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../../kernel-support/lab.js';
import { leftovers, NOTHING, safetyNet } from './leftovers.js';

const EXAMPLE = join(ROOT, 'examples', 'three-hosts.yaml');

/** A unique prefix and state dir; whatever happens, the lab's processes and namespaces go after. */
async function scratch(fn: (prefix: string, stateDir: string, id: string) => Promise<void>) {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const id = `${prefix}three`;
  try {
    await fn(prefix, stateDir, id);
  } finally {
    await safetyNet(prefix, id);
    await rm(stateDir, { recursive: true, force: true });
  }
}

describe('cluster lab lifecycle (root, etcd)', { timeout: 240_000 }, () => {
  it('up refuses when one of its namespaces exists, and touches nothing', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const taken = `${prefix}S2`;
      await runner.run(['ip', 'netns', 'add', taken]);
      const r = await cli(['up', '-c', EXAMPLE, '--detach', '-p', prefix], { stateDir });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `flowmig: namespace ${taken} already exists; flowmig will not touch it: run the lab beside it with a prefix, e.g. --prefix fm1-\n`,
      );
      assert.deepEqual(await leftovers(prefix, id, stateDir), { ...NOTHING, namespaces: [taken] });
      const links = await namespaceLinks(runner, taken);
      assert.equal(links.mark, undefined, 'the namespace that was there is left as it was');
      assert.deepEqual(links.others, []);
    });
  });

  it('up that fails midway (an etcd member cannot start) leaves nothing', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const cluster = await loadCluster(EXAMPLE, { prefix });
      const steps: string[] = [];
      await assert.rejects(
        upCluster({ stateDir, runner }, cluster, {
          onStep: (text, _i, total) => {
            if (total === 0) steps.push(text);
            // A file where etcd2's data directory goes: etcd refuses to start on it.
            if (text.startsWith('starting etcd')) {
              const dir = join(stateDir, `${id}.etcd`, 'etcd2');
              mkdirSync(dir, { recursive: true, mode: 0o700 });
              writeFileSync(join(dir, 'etcd2.etcd'), 'not a directory');
            }
          },
        }),
        (error: Error) => {
          assert.match(
            error.message,
            /^up failed at "starting etcd": etcd member etcd2 did not start: .*; rolled back \(removed .*\)$/s,
          );
          return true;
        },
      );
      assert.deepEqual(steps.slice(0, 3), [
        'waiting for the links',
        'installing the translators’ tables',
        'starting etcd (etcd1 on h1, etcd2 on h2, etcd3 on h3)',
      ]);
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
    });
  });

  it('up of three-hosts.yaml: every host live and in sync, a swap applied by all, down leaves nothing', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const up = await cli(['up', '-c', EXAMPLE, '--detach', '-p', prefix, '--json'], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const check = async (responder: string) => {
        const r = await cli(['status', '--json'], { stateDir });
        assert.equal(r.code, 0, r.stderr);
        const s = JSON.parse(r.stdout) as ClusterStatus;
        assert.equal(s.id, id);
        for (const h of s.hosts) {
          assert.equal(h.answering, true, `${h.host}: ${h.error}`);
          assert.equal(h.status?.leaseAlive, true, h.host);
          assert.deepEqual(h.status?.byResponder, { [responder]: 1 }, h.host);
          assert.deepEqual(h.status?.problems, [], h.host);
        }
        assert.deepEqual(
          s.cluster?.hosts.map((h) => [h.host, h.live, h.lag]),
          [
            ['h1', true, 0],
            ['h2', true, 0],
            ['h3', true, 0],
          ],
        );
        assert.deepEqual(
          s.flows.map((f) => [f.address, f.initiator, f.responder]),
          [['fe00::1', 'A', responder]],
        );
        assert.deepEqual(
          s.members.map((m) => [m.name, m.running]),
          [
            ['etcd1', true],
            ['etcd2', true],
            ['etcd3', true],
          ],
        );
      };
      await check('S1');
      const swap = await cli(['swap', '--lab', id, '--json'], { stateDir });
      assert.equal(swap.code, 0, swap.stderr);
      const change = JSON.parse(swap.stdout) as HostdChange;
      assert.equal(change.changed, true);
      const to = change.moves[0]?.to ?? '';
      assert.deepEqual(change.moves, [{ flow: 'fe00::1', from: 'S1', to }]);
      assert.notEqual(to, 'S1');
      assert.deepEqual([...change.appliedBy].sort(), ['h1', 'h2', 'h3']);
      await check(to);
      const bad = await cli(['migrate', 'fe00::1', 'S9'], { stateDir });
      assert.equal(bad.code, 2, bad.stderr);
      // h1's daemon killed: status shows it silent, and a change goes through h2's daemon.
      const state = await readClusterState(stateDir, id);
      const h1 = state?.hostds.find((h) => h.host === 'h1')?.pid ?? 0;
      process.kill(h1, 'SIGKILL');
      const deadline = Date.now() + 15_000;
      let s: ClusterStatus | undefined;
      for (;;) {
        s = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as ClusterStatus;
        // Its lease outlives it by up to its TTL: changes wait for it until then.
        if (s.cluster?.hosts.find((h) => h.host === 'h1')?.live === false) break;
        assert.ok(Date.now() < deadline, 'h1 still counted live 15 s after its daemon died');
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.deepEqual(
        s.hosts.map((h) => [h.host, h.answering]),
        [
          ['h1', false],
          ['h2', true],
          ['h3', true],
        ],
      );
      const text = await cli(['status'], { stateDir });
      assert.match(text.stdout, /\nh1 +NOT ANSWERING \(/);
      const back = await cli(['migrate', 'fe00::1', 'S1', '--json'], { stateDir });
      assert.equal(back.code, 0, back.stderr);
      const moved = JSON.parse(back.stdout) as HostdChange;
      assert.deepEqual(moved.moves, [{ flow: 'fe00::1', from: to, to: 'S1' }]);
      assert.deepEqual([...moved.appliedBy].sort(), ['h2', 'h3']);
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.match(
        down.stdout,
        new RegExp(`^cluster lab ${id} torn down \\(removed .*${prefix}fab`),
      );
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
      const again = await cli(['down', '--lab', id], { stateDir });
      assert.equal(again.code, 0, again.stderr);
    });
  });

  it('two ups of one lab at once: one builds it, the other refuses and leaves it whole', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const both = await Promise.all(
        [0, 1].map(() => cli(['up', '-c', EXAMPLE, '--detach', '-p', prefix], { stateDir })),
      );
      assert.deepEqual(
        both.map((r) => r.code).sort(),
        [0, 1],
        both.map((r) => r.stderr).join('\n'),
      );
      const loser = both.find((r) => r.code === 1);
      assert.match(
        loser?.stderr ?? '',
        // Refused once the lock is free, or busy when the build outlasts the ~10 s wait for it.
        new RegExp(`^flowmig: lab ${id} is (already up \\(namespaces |busy \\(another flowmig)`),
      );
      const s = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as ClusterStatus;
      assert.deepEqual(
        s.hosts.map((h) => [h.host, h.answering, h.status?.leaseAlive]),
        [
          ['h1', true, true],
          ['h2', true, true],
          ['h3', true, true],
        ],
      );
      assert.equal((await cli(['down'], { stateDir })).code, 0);
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
    });
  });

  it('down with the state file damaged, then gone, leaves nothing', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const up = await cli(['up', '-c', EXAMPLE, '--detach', '-p', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      await writeFile(clusterStatePath(stateDir, id), '{"kind": "clus');
      const list = await cli(['status'], { stateDir });
      assert.equal(list.code, 0, list.stderr);
      assert.match(
        list.stdout,
        new RegExp(`^1 lab:\n  ${id}: cluster lab, STATE DAMAGED .*hostd pid`),
      );
      const down = await cli(['down', '--json'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      const r = JSON.parse(down.stdout) as ClusterDownResult;
      assert.equal(r.damagedState, clusterStatePath(stateDir, id));
      assert.equal(r.stopped.hostds.length, 3);
      assert.equal(r.stopped.members.length, 3);
      assert.equal(r.removed.length, 8);
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
    });
    await scratch(async (prefix, stateDir, id) => {
      const up = await cli(['up', '-c', EXAMPLE, '--detach', '-p', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      await rm(clusterStatePath(stateDir, id));
      const down = await cli(['down', '--json'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      const r = JSON.parse(down.stdout) as ClusterDownResult;
      assert.equal(r.hadState, false);
      assert.equal(r.removed.length, 8);
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
    });
  });

  it('down removes the lock of an up killed before its first write (no state file yet)', async () => {
    await scratch(async (prefix, stateDir, id) => {
      const lock = `${clusterStatePath(stateDir, id)}.lock`;
      await mkdir(lock, { mode: 0o700 });
      const down = await cli(['down', '--lab', id], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, new RegExp(`^cluster lab ${id}: no namespace to remove`));
      assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING);
    });
  });

  it('down after up was SIGKILLed at a random point leaves nothing', async (t) => {
    // One kill early, one in the middle, one late in a ~3.2 s build (each at a random time there).
    for (const [from, to] of [
      [0, 1_000],
      [1_000, 2_200],
      [2_200, 3_500],
    ] as const) {
      await scratch(async (prefix, stateDir, id) => {
        const delay = from + Math.floor(Math.random() * (to - from));
        const child = spawn(
          process.execPath,
          [CLI, 'up', '-c', EXAMPLE, '--detach', '-p', prefix],
          {
            env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
        });
        const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
        const timer = setTimeout(() => child.kill('SIGKILL'), delay);
        const code = await exited;
        clearTimeout(timer);
        const last = stderr.trim().split('\n').at(-1) ?? '';
        t.diagnostic(`killed at ${delay} ms (exit ${code}); last step: ${last || 'none'}`);
        const down = await cli(['down', '--lab', id], { stateDir });
        assert.equal(down.code, 0, down.stderr);
        assert.deepEqual(await leftovers(prefix, id, stateDir), NOTHING, `killed at ${delay} ms`);
        assert.deepEqual(await namespacesWith(prefix), []);
      });
    }
  });
});
