import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCluster } from '../../src/lab/cluster-load.js';
import {
  type ClusterLab,
  clusterAddress,
  clusterNamespaces,
  etcdInitialCluster,
  hostOf,
  ingressHost,
} from '../../src/lab/cluster-model.js';
import { resolveCluster } from '../../src/lab/cluster-resolve.js';
import { isClusterDescription } from '../../src/lab/cluster-schema.js';
import { readDescription } from '../../src/lab/load.js';
import { MAX_IFNAME, MAX_NETNS_NAME } from '../../src/lab/names.js';
import { at } from '../support/labs.js';
import { hostsDescription } from './cluster-fixtures.js';

/** Repository root: this file runs as dist/test/lab/cluster-resolve.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const example = (file: string) => join(ROOT, 'examples', file);

/** Every interface and namespace name the cluster will create. */
function kernelNames(c: ClusterLab): { ifs: string[]; netns: string[] } {
  const ifs = c.hosts.flatMap((h) => [
    ...h.links.flatMap((l) => [l.nodeIf, l.translatorIf]),
    h.fabricIf,
    h.bridgePort,
  ]);
  return { ifs: [...ifs, c.fabric.bridge], netns: clusterNamespaces(c) };
}

describe('resolveCluster: examples/three-hosts.yaml', async () => {
  const c = await loadCluster(example('three-hosts.yaml'), { prefix: 'x-' });

  it('has hosts h1..h3, numbered from 1 in file order, with their translators', () => {
    assert.deepEqual(
      c.hosts.map((h) => [h.name, h.index, h.translator.name, h.translator.netns]),
      [
        ['h1', 1, 'T1', 'x-T1'],
        ['h2', 2, 'T2', 'x-T2'],
        ['h3', 3, 'T3', 'x-T3'],
      ],
    );
    assert.equal(c.id, 'x-three');
    assert.equal(c.engine, 'nftables');
  });

  it('keeps each host a single-host lab: nodes, links to its translator, default routes', () => {
    const h1 = at(c.hosts, 0);
    assert.deepEqual(h1.nodes, [
      { name: 'A', role: 'client', netns: 'x-A' },
      { name: 'T1', role: 'translator', netns: 'x-T1' },
      { name: 'S1', role: 'server', netns: 'x-S1' },
    ]);
    assert.deepEqual(
      h1.links.map((l) => [l.node, l.nodeIf, l.translatorIf, l.address.address]),
      [
        ['A', 'A-T1', 'T1-A', 'fc00::1'],
        ['S1', 'S1-T1', 'T1-S1', 'fc01::1'],
      ],
    );
    assert.deepEqual(at(c.hosts, 2).routes, [
      { node: 'S3', to: 'default', via: 'fc03::ff', dev: 'S3-T3' },
    ]);
  });

  it('puts host i at fd00:fab::i on the fabric, bridged in <prefix>fab', () => {
    assert.deepEqual(c.fabric, {
      prefix: { address: 'fd00:fab::', length: 64 },
      netns: 'x-fab',
      bridge: 'br0',
    });
    assert.deepEqual(
      c.hosts.map((h) => [h.fabricAddress, h.fabricIf, h.bridgePort]),
      [
        ['fd00:fab::1', 'T1-fab', 'fab-T1'],
        ['fd00:fab::2', 'T2-fab', 'fab-T2'],
        ['fd00:fab::3', 'T3-fab', 'fab-T3'],
      ],
    );
  });

  it("gives each host its links' networks to be routed to it", () => {
    assert.deepEqual(
      c.hosts.map((h) => h.prefixes.map((p) => `${p.address}/${p.length}`)),
      [['fc00::/64', 'fc01::/64'], ['fc02::/64'], ['fc03::/64']],
    );
  });

  it('resolves the flow across the whole lab; its ingress host is its initiator’s', () => {
    assert.deepEqual(c.flows, [
      { name: undefined, address: 'fe00::1', initiator: 'A', responder: 'S1' },
    ]);
    assert.equal(ingressHost(c, at(c.flows, 0))?.name, 'h1');
    assert.equal(hostOf(c, 'S3')?.name, 'h3');
    assert.equal(hostOf(c, 'nobody'), undefined);
    assert.equal(clusterAddress(c, 'S2'), 'fc02::1');
    assert.equal(clusterAddress(c, 'T2'), undefined);
  });

  it('places etcd members on hosts 1..3, each in its translator namespace, on 2379/2380', () => {
    assert.deepEqual(
      c.etcd.members,
      [1, 2, 3].map((i) => ({
        name: `etcd${i}`,
        host: `h${i}`,
        netns: `x-T${i}`,
        address: `fd00:fab::${i}`,
        clientPort: 2379,
        peerPort: 2380,
        clientUrl: `http://[fd00:fab::${i}]:2379`,
        peerUrl: `http://[fd00:fab::${i}]:2380`,
      })),
    );
    assert.equal(c.etcd.hostFailuresTolerated, 1);
    assert.equal(
      etcdInitialCluster(c.etcd),
      'etcd1=http://[fd00:fab::1]:2380,etcd2=http://[fd00:fab::2]:2380,etcd3=http://[fd00:fab::3]:2380',
    );
  });

  it('lists every namespace, the fabric last', () => {
    assert.deepEqual(clusterNamespaces(c), [
      'x-A',
      'x-T1',
      'x-S1',
      'x-T2',
      'x-S2',
      'x-T3',
      'x-S3',
      'x-fab',
    ]);
  });
});

describe('resolveCluster: examples/eight-hosts.yaml', async () => {
  // The longest prefix allowed: names must still fit.
  const prefix = 'p'.repeat(16);
  const c = await loadCluster(example('eight-hosts.yaml'), { prefix });

  it('has 8 hosts at fd00:fab::1..8, clients on h1, h4, h6 and five flows', () => {
    assert.deepEqual(
      c.hosts.map((h) => h.fabricAddress),
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `fd00:fab::${i}`),
    );
    assert.deepEqual(
      c.nodes.filter((n) => n.role === 'client').map((n) => hostOf(c, n.name)?.name),
      ['h1', 'h4', 'h6', 'h6'],
    );
    assert.equal(c.flows.length, 5);
    assert.equal(c.nodes.length, 8 * 2 + 4 + 1);
    assert.equal(c.graceMs, 2000);
  });

  it('keeps every interface name within 15 characters and namespace within 24', () => {
    const { ifs, netns } = kernelNames(c);
    for (const name of ifs) assert.ok(name.length <= MAX_IFNAME, name);
    for (const name of netns) assert.ok(name.length <= MAX_NETNS_NAME, name);
    // Unique where they live: per namespace for interfaces, globally for namespaces.
    assert.equal(new Set(netns).size, netns.length);
    for (const h of c.hosts) {
      const own = [...h.links.map((l) => l.translatorIf), h.fabricIf];
      assert.equal(new Set(own).size, own.length);
    }
  });

  it('still places etcd on h1..h3 only', () => {
    assert.deepEqual(
      c.etcd.members.map((m) => m.host),
      ['h1', 'h2', 'h3'],
    );
  });
});

describe('resolveCluster: defaults and options', () => {
  it('fills in name, engine, grace and the fabric fd00:fab::/64', () => {
    const c = resolveCluster(hostsDescription(3));
    assert.equal(c.name, 'cluster');
    assert.equal(c.id, 'cluster');
    assert.equal(c.prefix, '');
    assert.equal(c.engine, 'nftables');
    assert.equal(c.graceMs, 5000);
    assert.equal(c.description.fabric, 'fd00:fab::/64');
    assert.equal(c.fabric.netns, 'fab');
  });

  it('numbers hosts inside another fabric /64', () => {
    const c = resolveCluster({ ...hostsDescription(2), fabric: 'fd12:3456:789a:1::/64' });
    assert.deepEqual(
      c.hosts.map((h) => h.fabricAddress),
      ['fd12:3456:789a:1::1', 'fd12:3456:789a:1::2'],
    );
  });

  it('takes name, engine and prefix from the options', () => {
    const c = resolveCluster(hostsDescription(3), {
      name: 'other',
      engine: 'iptables',
      prefix: 't9-',
    });
    assert.equal(c.id, 't9-other');
    assert.equal(c.engine, 'iptables');
    assert.equal(c.description.engine, 'iptables');
    assert.equal(at(c.hosts, 0).translator.netns, 't9-T1');
  });

  it('keeps TCP policies other than reset, by flow address', () => {
    const d = hostsDescription(2);
    const c = resolveCluster({
      ...d,
      hosts: d.hosts.map((h, i) =>
        i === 0
          ? {
              ...h,
              nodes: [...h.nodes, { name: 'A', role: 'client' as const }],
              links: [
                ...h.links,
                { node: 'A', address: 'fc10::1/64', translatorAddress: 'fc10::2/64' },
              ],
            }
          : h,
      ),
      flows: [
        { address: 'fe00::1', initiator: 'A', responder: 'S2', tcp: 'migrate' },
        { address: 'fe00::2', initiator: 'A', responder: 'S1' },
      ],
    });
    assert.deepEqual([...c.policies], [['fe00::1', { tcp: 'migrate', drainMs: 30_000 }]]);
  });
});

describe('resolveCluster: etcd with fewer than 3 hosts', () => {
  it('puts all 3 members on the one host, on ports 2379/2380, 2381/2382, 2383/2384', () => {
    const c = resolveCluster(hostsDescription(1));
    assert.deepEqual(
      c.etcd.members.map((m) => [m.name, m.host, m.clientPort, m.peerPort]),
      [
        ['etcd1', 'h1', 2379, 2380],
        ['etcd2', 'h1', 2381, 2382],
        ['etcd3', 'h1', 2383, 2384],
      ],
    );
    assert.equal(c.etcd.hostFailuresTolerated, 0);
  });

  it('with 2 hosts: h1, h2, then h1 again on the next ports; losing h1 loses quorum', () => {
    const c = resolveCluster(hostsDescription(2));
    assert.deepEqual(
      c.etcd.members.map((m) => [m.host, m.clientUrl, m.peerUrl]),
      [
        ['h1', 'http://[fd00:fab::1]:2379', 'http://[fd00:fab::1]:2380'],
        ['h2', 'http://[fd00:fab::2]:2379', 'http://[fd00:fab::2]:2380'],
        ['h1', 'http://[fd00:fab::1]:2381', 'http://[fd00:fab::1]:2382'],
      ],
    );
    assert.equal(c.etcd.hostFailuresTolerated, 0);
  });
});

describe('isClusterDescription', () => {
  it('tells a cluster file (hosts:) from a single-host one', async () => {
    assert.equal(isClusterDescription(await readDescription(example('three-hosts.yaml'))), true);
    assert.equal(isClusterDescription(await readDescription(example('two-flows.yaml'))), false);
    assert.equal(isClusterDescription([{ hosts: [] }]), false);
    assert.equal(isClusterDescription(null), false);
  });
});
