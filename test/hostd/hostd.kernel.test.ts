// The host daemons of a three-host cluster on real etcd and namespaces: every host applies the
// table (the ingress host its NAT, the others a route to it), a migration asked of any host is
// answered once every live translator applied it, and ping from a client on host 1 through a
// flow moved among servers on hosts 1, 2 and 3 loses nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Background, sleep } from '../../src/experiment/process.js';
import { parseSnmp6 } from '../../src/experiment/snmp6.js';
import type { ClusterView, HostdChange, HostdStatus } from '../../src/hostd-api/protocol.js';
import { ROOT, runner } from '../kernel-support/lab.js';
import { hostByName, withCluster } from './cluster.js';

const THREE = join(ROOT, 'examples', 'three-hosts.yaml');
/** Cross-host migrations under the flood (the 200). */
const MIGRATIONS = 200;

/** The translator's dnat_to map: abstract address → responder address. */
async function dnatTo(netns: string): Promise<Map<string, string>> {
  const r = await runner.run(['nft', '-j', 'list', 'map', 'ip6', 'flowmig', 'dnat_to'], { netns });
  const out = new Map<string, string>();
  const parsed = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  for (const item of parsed.nftables) {
    for (const e of item.map?.elem ?? []) {
      const [key, value] = e as [{ concat: string[] }, string];
      const address = key.concat[1];
      if (address) out.set(address, value);
    }
  }
  return out;
}

async function routeOf(netns: string, address: string): Promise<string> {
  return (
    await runner.run(['ip', '-6', 'route', 'show', `${address}/128`], { netns })
  ).stdout.trim();
}

describe('host daemons of a three-host cluster', () => {
  it('apply the table, answer migrations once every host applied them, lose no ping', async (t) => {
    await withCluster(THREE, async ({ cluster, ask }) => {
      const [h1, h2, h3] = ['h1', 'h2', 'h3'].map((h) => hostByName(cluster, h));
      assert.ok(h1 && h2 && h3);
      // Loaded: h1 translates fe00::1 (A is there), h2 and h3 route it to h1.
      assert.equal((await dnatTo(h1.translator.netns)).get('fe00::1'), 'fc01::1');
      for (const h of [h2, h3]) {
        assert.equal((await dnatTo(h.translator.netns)).size, 0, `${h.name} translates nothing`);
        assert.match(await routeOf(h.translator.netns, 'fe00::1'), /via fd00:fab::1 /);
      }
      const view = await ask<ClusterView>('h2', { verb: 'cluster' });
      assert.deepEqual(
        view.hosts.map((h) => [h.host, h.live]),
        [
          ['h1', true],
          ['h2', true],
          ['h3', true],
        ],
      );
      // The reference's flood from A through every move: ping -i 0.00001 (iputils keeps whole
      // milliseconds, so as fast as replies come); -q: the summary only.
      const a = cluster.nodes.find((n) => n.name === 'A');
      assert.ok(a);
      const servers = ['S1', 'S2', 'S3'].map(
        (s) => cluster.nodes.find((n) => n.name === s)?.netns ?? '',
      );
      const echos = async () =>
        Promise.all(
          servers.map(async (netns) =>
            Number(
              parseSnmp6((await runner.run(['cat', '/proc/net/snmp6'], { netns })).stdout)
                .Icmp6InEchos ?? 0,
            ),
          ),
        );
      const echosBefore = await echos();
      const ping = Background.start(['ping', '-n', '-q', '-i', '0.00001', 'fe00::1'], {
        netns: a.netns,
      });
      const moves: HostdChange[] = [];
      try {
        await sleep(300);
        assert.ok(ping.running, ping.stderr);
        for (let i = 0; i < MIGRATIONS; i++) {
          const host = ['h1', 'h2', 'h3'][i % 3] ?? 'h1';
          moves.push(await ask<HostdChange>(host, { verb: 'swap', flow: 'fe00::1' }));
          await sleep(5);
        }
      } finally {
        await ping.stop('SIGINT');
      }
      const summary = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) errors)?/.exec(
        ping.stdout,
      );
      assert.ok(
        summary,
        `no summary: …${ping.stdout.slice(-300)} | stderr ${ping.stderr.slice(-300)}`,
      );
      const [, sent, received, errors] = summary;
      assert.equal(errors, undefined, 'ping reported no error');
      assert.equal(
        Number(received),
        Number(sent),
        `lost ${Number(sent) - Number(received)} of ${sent}`,
      );
      const p50 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
      t.diagnostic(
        `${sent} pings, 0 lost, across ${moves.length} moves; commit p50 ${p50(moves.map((m) => m.commitMs)).toFixed(2)} ms, commit → applied on 3 hosts p50 ${p50(moves.map((m) => m.appliedMs)).toFixed(2)} ms`,
      );
      // Each move was answered once all three hosts applied it, from the server it left.
      let at = 'S1';
      for (const [i, m] of moves.entries()) {
        assert.deepEqual(m.appliedBy, ['h1', 'h2', 'h3'], `move ${i}`);
        assert.equal(m.moves[0]?.from, at, `move ${i}`);
        at = m.moves[0]?.to ?? '';
      }
      assert.deepEqual(
        [...new Set(moves.map((m) => m.moves[0]?.to))].sort(),
        ['S1', 'S2', 'S3'],
        'every server served the flow',
      );
      const echosAfter = await echos();
      for (const [i, n] of echosAfter.entries())
        assert.ok(n > (echosBefore[i] ?? 0), `S${i + 1} received echo requests`);
      // Every host applied the last revision; h1 maps the flow to where etcd says.
      const last = moves.at(-1);
      assert.ok(last);
      for (const h of ['h1', 'h2', 'h3']) {
        const s = await ask<HostdStatus>(h, { verb: 'status' });
        assert.ok(s.applied >= last.revision, `${h} applied ${s.applied} < ${last.revision}`);
        assert.equal(s.leaseAlive, true);
        assert.deepEqual(s.byResponder, { [at]: 1 });
      }
      const responder = cluster.hosts.flatMap((h) => h.links).find((l) => l.node === at);
      assert.equal((await dnatTo(h1.translator.netns)).get('fe00::1'), responder?.address.address);
    });
  });
});
