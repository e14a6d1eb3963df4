// Concurrent migrations on a cluster: 10 clients (connected to the three hosts' daemons in turn)
// ask 1,000 migrations across 100 flows. Each is answered (applied everywhere) or refused as a
// conflict with a concurrent one (exactly one of two wins a flow's compare-and-swap); no flow is
// unmapped on the ingress translator at any sampled moment, and at the end every translator holds
// exactly what etcd holds: h1 maps every flow to its responder, h2 and h3 route every flow to h1.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { abstractAddress } from '../../src/bench/flows.js';
import { HostdClient } from '../../src/hostd-api/client.js';
import { type HostdChange, hostdPaths } from '../../src/hostd-api/protocol.js';
import { ROOT, runner } from '../kernel-support/lab.js';
import { hostByName, withCluster } from './cluster.js';

const FLOWS = 100;
const CLIENTS = 10;
const PER_CLIENT = 100;
const SERVERS = ['S1', 'S2', 'S3'] as const;

/** h1's dnat_to map: abstract address → responder address. */
async function dnatTo(netns: string): Promise<Map<string, string>> {
  const r = await runner.run(['nft', '-j', 'list', 'map', 'ip6', 'flowmig', 'dnat_to'], { netns });
  const out = new Map<string, string>();
  const parsed = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  for (const item of parsed.nftables)
    for (const e of item.map?.elem ?? []) {
      const [key, value] = e as [{ concat: string[] }, string];
      if (key.concat[1]) out.set(key.concat[1], value);
    }
  return out;
}

/** flowmig's routes on a translator: abstract address → gateway. */
async function routes(netns: string): Promise<Map<string, string>> {
  const r = await runner.run(['ip', '-6', '-j', 'route', 'show', 'proto', '199'], { netns });
  const list = JSON.parse(r.stdout || '[]') as { dst: string; gateway: string }[];
  return new Map(list.map((x) => [x.dst.replace(/\/128$/, ''), x.gateway]));
}

describe('concurrent migrations on a cluster', () => {
  it(`${CLIENTS} clients × ${PER_CLIENT} migrations over ${FLOWS} flows: answered or a conflict; never unmapped; every translator ends as etcd says`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'flowmig-concurrency-'));
    try {
      const description = parse(await readFile(join(ROOT, 'examples', 'three-hosts.yaml'), 'utf8'));
      description.flows = Array.from({ length: FLOWS }, (_, i) => ({
        address: abstractAddress(i),
        initiator: 'A',
        responder: SERVERS[i % SERVERS.length],
      }));
      const file = join(dir, 'lab.json');
      await writeFile(file, JSON.stringify(description));
      await withCluster(file, async ({ cluster, stateDir }) => {
        const h1 = hostByName(cluster, 'h1');
        const flows = description.flows.map((f: { address: string }) => f.address) as string[];
        let running = true;
        let samples = 0;
        const sampler = (async () => {
          while (running) {
            const map = await dnatTo(h1.translator.netns);
            for (const f of flows)
              assert.ok(map.has(f), `flow ${f} unmapped on h1 at sample ${samples}`);
            samples++;
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        let answered = 0;
        let conflicts = 0;
        try {
          await Promise.all(
            Array.from({ length: CLIENTS }, async (_, c) => {
              const host = cluster.hosts[c % cluster.hosts.length]?.name ?? 'h1';
              const client = await HostdClient.connect(
                hostdPaths(stateDir, cluster.id, host).socket,
              );
              try {
                for (let i = 0; i < PER_CLIENT; i++) {
                  const flow = flows[Math.floor(Math.random() * flows.length)] ?? '';
                  const node = SERVERS[Math.floor(Math.random() * SERVERS.length)] ?? 'S1';
                  try {
                    await client.request<HostdChange>({ verb: 'migrate', flow, node });
                    answered++;
                  } catch (error) {
                    assert.equal(
                      (error as { code?: string }).code,
                      'conflict',
                      (error as Error).message,
                    );
                    conflicts++;
                  }
                }
              } finally {
                client.close();
              }
            }),
          );
        } finally {
          running = false;
          await sampler;
        }
        assert.equal(answered + conflicts, CLIENTS * PER_CLIENT);
        // The end state: etcd's table, read with etcdctl inside h1, on every translator.
        const got = await runner.run(
          [
            'etcdctl',
            '--endpoints',
            'http://127.0.0.1:2379',
            'get',
            '--prefix',
            '/flowmig/v1/flows/',
            '-w',
            'json',
          ],
          { netns: h1.translator.netns },
        );
        const kvs = (JSON.parse(got.stdout) as { kvs: { key: string; value: string }[] }).kvs;
        const b64 = (x: string) => Buffer.from(x, 'base64').toString();
        const table = new Map(
          kvs.map((kv) => [
            b64(kv.key).replace('/flowmig/v1/flows/', ''),
            (JSON.parse(b64(kv.value)) as { responder: string }).responder,
          ]),
        );
        assert.equal(table.size, FLOWS);
        const map = await dnatTo(h1.translator.netns);
        assert.deepEqual(
          new Map([...map].sort()),
          new Map([...table].sort()),
          'h1 maps exactly what etcd holds',
        );
        for (const h of ['h2', 'h3']) {
          const r = await routes(hostByName(cluster, h).translator.netns);
          assert.equal(r.size, FLOWS, h);
          for (const f of flows) assert.equal(r.get(f), 'fd00:fab::1', `${h} routes ${f}`);
        }
        t.diagnostic(
          `${answered} answered, ${conflicts} conflicts, ${samples} samples of h1's map, none with a flow missing`,
        );
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
