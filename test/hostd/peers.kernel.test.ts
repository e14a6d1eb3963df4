// Direct acknowledgements on a real three-host lab: a change asked at h1 learns that h2 and h3
// applied it from their messages over the fabric; with h3's messages dropped (an nft table of the
// test's own in h3's translator) a change still returns with h3 among those that applied it,
// learned through its etcd key; with the drop gone, h3's messages are what h1 hears again; and
// with h1 unable to reach h3's listener, a restarted h3 is asked, and answers, on its own
// connection to h1.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProcessRunner } from '../../src/exec/runner.js';
import { PEER_ACK_PORT } from '../../src/hostd/peers.js';
import type { HostdChange, HostdTrace } from '../../src/hostd-api/protocol.js';
import { ROOT } from '../kernel-support/lab.js';
import { hostByName, withCluster } from './cluster.js';

const THREE = join(ROOT, 'examples', 'three-hosts.yaml');
/** The test's own table in h3's translator: flowmig's tables there are left alone. */
const TABLE = 'fmtest_peers';

type Via = 'self' | 'peer' | 'etcd' | 'before';

describe('direct acknowledgements between host daemons', () => {
  it('h1 hears h2 and h3 directly; with h3’s messages dropped, through etcd; then directly again', async (t) => {
    await withCluster(THREE, async ({ cluster, ask, pidOf, startHost, caughtUp }) => {
      const runner = new ProcessRunner();
      const t3 = hostByName(cluster, 'h3').translator.netns;
      /** Swaps asked at h1: each answered by all three; how h1 learned of each host. */
      const swaps = async (n: number) => {
        const revisions: number[] = [];
        for (let i = 0; i < n; i++) {
          const c = await ask<HostdChange>('h1', { verb: 'swap', flow: 'fe00::1', waitMs: 5_000 });
          assert.deepEqual(c.appliedBy, ['h1', 'h2', 'h3']);
          revisions.push(c.revision);
        }
        const trace = await ask<HostdTrace>('h1', { verb: 'trace' });
        return revisions.map((r) => {
          const a = trace.answers.find((x) => x.revision === r);
          assert.ok(a?.acks, `h1's trace has the answer to revision ${r} with its acks`);
          return new Map(a.acks.map((x) => [x.host, x.via as Via]));
        });
      };
      const learned = (vias: Map<string, Via>[], host: string) => vias.map((v) => v.get(host));

      const direct = await swaps(10);
      assert.ok(
        learned(direct, 'h2').includes('peer') && learned(direct, 'h3').includes('peer'),
        `h2 and h3 told h1 directly: ${JSON.stringify(direct.map((v) => [...v]))}`,
      );
      assert.ok(learned(direct, 'h1').every((v) => v === 'self' || v === 'before'));

      // h3's messages dropped on their way out, on both connections of each pair (its own to a
      // peer's port, and a peer's to its port): its channel is down for h1.
      await runner.run(['nft', '-f', '-'], {
        netns: t3,
        stdin: [
          `table inet ${TABLE} {`,
          '  chain out {',
          '    type filter hook output priority 0; policy accept;',
          `    tcp dport ${PEER_ACK_PORT} drop`,
          `    tcp sport ${PEER_ACK_PORT} drop`,
          '  }',
          '}',
        ].join('\n'),
      });
      let blocked = true;
      try {
        const viaEtcd = await swaps(5);
        assert.deepEqual(
          learned(viaEtcd, 'h3'),
          ['etcd', 'etcd', 'etcd', 'etcd', 'etcd'],
          'h3 learned of through its applied key while its messages are dropped',
        );
        await runner.run(['nft', 'delete', 'table', 'inet', TABLE], { netns: t3 });
        blocked = false;
        // TCP delivers what it held back (its retransmission backs off: give it a few seconds).
        const unblocked = Date.now();
        const deadline = unblocked + 15_000;
        let again: Via | undefined;
        while (again !== 'peer') {
          assert.ok(Date.now() < deadline, 'h3 told h1 directly again within 15 s');
          again = learned(await swaps(1), 'h3')[0];
          if (again !== 'peer') await new Promise((r) => setTimeout(r, 200));
        }
        t.diagnostic(
          `h3 told h1 directly again ${Date.now() - unblocked} ms after the drop was removed`,
        );
      } finally {
        if (blocked)
          await runner
            .run(['nft', 'delete', 'table', 'inet', TABLE], { netns: t3 })
            .catch(() => {});
      }

      // h1 cannot reach h3's listener (its connection to h3 dropped at h1), and h3's daemon
      // starts again: h1 asks on h3's connection to it, and h3 answers on that one.
      const t1 = hostByName(cluster, 'h1').translator.netns;
      const h3 = hostByName(cluster, 'h3').fabricAddress;
      await runner.run(['nft', '-f', '-'], {
        netns: t1,
        stdin: [
          `table inet ${TABLE} {`,
          '  chain out {',
          '    type filter hook output priority 0; policy accept;',
          `    ip6 daddr ${h3} tcp dport ${PEER_ACK_PORT} drop`,
          '  }',
          '}',
        ].join('\n'),
      });
      try {
        const pid = pidOf('h3');
        assert.ok(pid);
        process.kill(pid, 'SIGKILL');
        await startHost('h3');
        await caughtUp('h3');
        const deadline = Date.now() + 15_000;
        let via: Via | undefined;
        while (via !== 'peer') {
          assert.ok(Date.now() < deadline, 'h3 told h1 directly on its own connection within 15 s');
          via = learned(await swaps(1), 'h3')[0];
          if (via !== 'peer') await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await runner.run(['nft', 'delete', 'table', 'inet', TABLE], { netns: t1 }).catch(() => {});
      }
    });
  });
});
