// Builds examples/three-hosts.yaml on the real kernel through the executor (root), pings across the
// fabric, tears it down with planClusterDown; cleanup by this test's unique prefix in any case.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { execute } from '../../src/exec/execute.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import type { ClusterLab } from '../../src/lab/cluster-model.js';
import { clusterAddress, clusterNamespaces } from '../../src/lab/cluster-model.js';
import { parsePing } from '../../src/metrics/ping.js';
import { planClusterDown, planClusterUp } from '../../src/plan/fabric.js';
import {
  namespacesWith,
  ROOT,
  removeNamespacesWith,
  runner,
  uniquePrefix,
} from '../kernel-support/lab.js';

/** `ping -c 3` from `netns` to `to`: the replies as ping printed them, and its exit code. */
async function ping(netns: string, to: string) {
  const r = await runner.run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', to], {
    netns,
    okExitCodes: [0, 1],
    timeoutMs: 15_000,
  });
  const replies = parsePing(r.stdout).lines.filter((l) => l.kind === 'reply');
  return { code: r.exitCode, replies, text: r.stdout };
}

/** Packets received so far on an interface (ip's JSON statistics). */
async function rxPackets(netns: string, dev: string): Promise<number> {
  const out = await runner.run(['ip', '-j', '-s', 'link', 'show', 'dev', dev], { netns });
  const [link] = JSON.parse(out.stdout) as { stats64: { rx: { packets: number } } }[];
  assert.ok(link, `${netns}/${dev}`);
  return link.stats64.rx.packets;
}

const host = (c: ClusterLab, name: string) => {
  const h = c.hosts.find((x) => x.name === name);
  assert.ok(h, name);
  return h;
};

describe('a three-host cluster lab on the kernel (examples/three-hosts.yaml)', () => {
  it('routes A (h1) to servers on h2 and h3 and back through h1, untranslated; down leaves nothing', async () => {
    const prefix = uniquePrefix();
    const c = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), { prefix });
    const [h1, h2, h3] = [host(c, 'h1'), host(c, 'h2'), host(c, 'h3')];
    const A = `${prefix}A`;
    try {
      await execute(runner, planClusterUp(c));
      assert.deepEqual(await namespacesWith(prefix), [...clusterNamespaces(c)].sort());

      // Translators reach each other directly on the bridge: one hop, hop limit untouched.
      for (const [from, to] of [
        [h1, h2],
        [h1, h3],
        [h2, h3],
        [h3, h1],
      ] as const) {
        const r = await ping(from.translator.netns, to.fabricAddress);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(
          r.replies.map((l) => [l.from, l.ttl]),
          [1, 2, 3].map(() => [to.fabricAddress, 64]),
          r.text,
        );
      }

      // A's replies come from the servers' own addresses (no NAT anywhere) and went through two
      // routers, the server's translator and A's; they entered h1 by T1's fabric link.
      for (const [server, on] of [
        ['S3', h3],
        ['S2', h2],
      ] as const) {
        const address = clusterAddress(c, server);
        assert.ok(address);
        const before = await rxPackets(h1.translator.netns, h1.fabricIf);
        const r = await ping(A, address);
        assert.equal(r.code, 0, r.text);
        assert.deepEqual(
          r.replies.map((l) => [l.from, l.ttl]),
          [1, 2, 3].map(() => [address, 62]),
          r.text,
        );
        assert.ok((await rxPackets(h1.translator.netns, h1.fabricIf)) - before >= 3);
        // The way back is the fabric route to the client's prefix on h1.
        const back = await runner.run(['ip', '-6', 'route', 'get', 'fc00::1'], {
          netns: on.translator.netns,
        });
        assert.match(back.stdout, new RegExp(`via ${h1.fabricAddress} dev ${on.fabricIf}`));
      }

      await execute(runner, planClusterDown(c));
      assert.deepEqual(await namespacesWith(prefix), []);
    } finally {
      await removeNamespacesWith(prefix);
    }
  });
});
