// Faults of a three-host cluster, each with ping running from the client on host 1: an etcd member
// killed (quorum holds, migrations go on), two killed (migrations refused with "no quorum" within
// 2 s, traffic on its last mapping, nothing half-applied; back, everything converges), and a
// malformed flow written by hand (reported and skipped; the rest goes on).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sleep } from '../../src/experiment/process.js';
import type { HostdChange, HostdStatus } from '../../src/hostd-api/protocol.js';
import { ROOT, runner } from '../kernel-support/lab.js';
import { assertNoneLost, floodPing, hostByName, type Pinged, withCluster } from './cluster.js';

const THREE = join(ROOT, 'examples', 'three-hosts.yaml');

describe('faults of a three-host cluster', () => {
  it('etcd members killed: one (migrations go on), two (refused: no quorum), back (converged); ping loses nothing', async (t) => {
    await withCluster(THREE, async ({ cluster, ask, killEtcd, startEtcd, caughtUp }) => {
      const a = cluster.nodes.find((n) => n.name === 'A');
      assert.ok(a);
      const ping = await floodPing(a.netns);
      let pinged: Pinged | undefined;
      try {
        const killed3 = performance.now();
        killEtcd('etcd3');
        for (let i = 0; i < 10; i++) {
          const m = await ask<HostdChange>('h1', { verb: 'swap', flow: 'fe00::1' });
          assert.equal(m.changed, true, `swap ${i} with one member down`);
        }
        const before = await ask<HostdStatus>('h1', { verb: 'status' });
        killEtcd('etcd2');
        const started = performance.now();
        const oneDownMs = started - killed3;
        await assert.rejects(
          ask('h1', { verb: 'swap', flow: 'fe00::1' }),
          (e: Error & { code?: string }) => {
            assert.equal(e.code, 'no-quorum', e.message);
            assert.match(e.message, /^etcd has no quorum: 1 of 3 members answer/);
            return true;
          },
        );
        const refusedMs = performance.now() - started;
        assert.ok(refusedMs < 2_000, `refused after ${refusedMs.toFixed(0)} ms`);
        // Nothing half-applied: every host stays where it was.
        for (const h of ['h1', 'h2', 'h3']) {
          const s = await ask<HostdStatus>(h, { verb: 'status' });
          assert.deepEqual(s.byResponder, before.byResponder, h);
        }
        await sleep(500); // traffic on its last mapping for a while
        const restarting = performance.now();
        await Promise.all([startEtcd('etcd2'), startEtcd('etcd3')]);
        const backMs = performance.now() - restarting;
        const m = await ask<HostdChange>('h2', { verb: 'swap', flow: 'fe00::1', waitMs: 10_000 });
        assert.deepEqual(m.appliedBy, ['h1', 'h2', 'h3']);
        for (const h of ['h1', 'h2', 'h3']) await caughtUp(h);
        t.diagnostic(`no quorum reported after ${refusedMs.toFixed(0)} ms`);
        t.diagnostic(
          `etcd3 down ${(restarting - killed3).toFixed(0)} ms (10 swaps in the first ${oneDownMs.toFixed(0)} ms), etcd2 down ${(restarting - started).toFixed(0)} ms (no quorum), both serving again ${backMs.toFixed(0)} ms after their restart`,
        );
      } finally {
        pinged = await ping.stop();
      }
      assertNoneLost(pinged, (line) => t.diagnostic(line));
    });
  });

  it('a malformed flow written by hand is reported and skipped; the rest goes on', async () => {
    await withCluster(THREE, async ({ cluster, ask }) => {
      const h1 = hostByName(cluster, 'h1');
      await runner.run(
        [
          'etcdctl',
          '--endpoints',
          'http://127.0.0.1:2379',
          'put',
          '/flowmig/v1/flows/fe00::99',
          'not json',
        ],
        { netns: h1.translator.netns },
      );
      const m = await ask<HostdChange>('h3', { verb: 'swap', flow: 'fe00::1' });
      assert.deepEqual(m.appliedBy, ['h1', 'h2', 'h3']);
      for (const h of ['h1', 'h2', 'h3']) {
        const s = await ask<HostdStatus>(h, { verb: 'status' });
        assert.equal(s.problems.length, 1, `${h}: ${JSON.stringify(s.problems)}`);
        assert.match(s.problems[0]?.key ?? '', /fe00::99/);
        assert.deepEqual(s.byResponder, { S2: 1 });
      }
    });
  });
});
