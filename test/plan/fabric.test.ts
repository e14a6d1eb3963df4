import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execute } from '../../src/exec/execute.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import { clusterNamespaces } from '../../src/lab/cluster-model.js';
import { resolveCluster } from '../../src/lab/cluster-resolve.js';
import { MAX_IFNAME } from '../../src/lab/names.js';
import { planNetwork } from '../../src/plan/build.js';
import { planClusterDown, planClusterUp } from '../../src/plan/fabric.js';
import type { Op, OpKind } from '../../src/plan/ops.js';
import { rawCluster } from '../lab/cluster-fixtures.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

type OpOf<K extends OpKind> = Extract<Op, { kind: K }>;
const ofKind = <K extends OpKind>(ops: readonly Op[], kind: K): OpOf<K>[] =>
  ops.filter((op): op is OpOf<K> => op.kind === kind);
const touched = (op: Op): string[] =>
  op.kind === 'vethAdd' ? [op.netns, op.peerNetns] : [op.netns];
/** Interfaces an op names, with their namespace. */
const interfaces = (op: Op): string[] => {
  switch (op.kind) {
    case 'vethAdd':
      return [`${op.netns}/${op.name}`, `${op.peerNetns}/${op.peerName}`];
    case 'bridgeAdd':
      return [`${op.netns}/${op.name}`];
    case 'linkUp':
    case 'linkMaster':
    case 'addrAdd':
    case 'routeAdd':
      return [`${op.netns}/${op.dev}`];
    default:
      return [];
  }
};

describe('planClusterUp: examples/three-hosts.yaml', async () => {
  const c = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), { prefix: 'x-' });
  const ops = planClusterUp(c);

  it("starts with each host's network exactly as planNetwork builds a single-host lab's", () => {
    const hosts = c.hosts.flatMap((h) => planNetwork({ ...h, id: c.id, policies: c.policies }));
    assert.deepEqual(ops.slice(0, hosts.length), hosts);
    assert.ok(
      hosts.some((op) => op.kind === 'routeAdd' && op.netns === 'x-S3' && op.to === 'default'),
    );
  });

  it('installs no translator table: no netfilter op at all', () => {
    assert.deepEqual(
      ops.filter((op) => op.kind === 'netfilterApply' || op.kind === 'conntrackDelete'),
      [],
    );
  });

  it('turns forwarding on in the translators only, DAD off everywhere', () => {
    const neigh = (op: { settings: Readonly<Record<string, string>> }) =>
      Object.keys(op.settings).some((k) => k.startsWith('net.ipv6.neigh.'));
    const sysctls = ofKind(ops, 'sysctl').filter((op) => !neigh(op));
    assert.deepEqual(
      sysctls.map((op) => op.netns),
      [...c.nodes.map((n) => n.netns), 'x-fab'],
    );
    for (const op of sysctls) {
      assert.equal(op.settings['net.ipv6.conf.all.accept_dad'], '0', op.netns);
      const forwards = op.settings['net.ipv6.conf.all.forwarding'] === '1';
      assert.equal(forwards, /^x-T\d$/.test(op.netns), op.netns);
    }
  });

  it('creates each namespace, marked as the cluster’s, before any op touches it', () => {
    assert.deepEqual(
      ofKind(ops, 'netnsAdd').map((op) => op.netns),
      clusterNamespaces(c),
    );
    for (const netns of clusterNamespaces(c)) {
      const add = ops.findIndex((op) => op.kind === 'netnsAdd' && op.netns === netns);
      assert.equal(
        ops.findIndex((op) => touched(op).includes(netns)),
        add,
        netns,
      );
      assert.deepEqual(ops[add + 1], { kind: 'loopbackUp', netns, mark: 'flowmig:x-three' });
    }
  });

  it('bridges one veth per translator into br0 and gives it the host’s fabric address', () => {
    const fabric = ops.slice(ops.findIndex((op) => op.netns === 'x-fab'));
    assert.deepEqual(fabric.slice(3, 5), [
      { kind: 'bridgeAdd', netns: 'x-fab', name: 'br0' },
      { kind: 'linkUp', netns: 'x-fab', dev: 'br0' },
    ]);
    assert.deepEqual(fabric.slice(5, 11), [
      { kind: 'vethAdd', netns: 'x-T1', name: 'T1-fab', peerNetns: 'x-fab', peerName: 'fab-T1' },
      // Neighbour solicitations every 100 ms: a host back after a cut finds its peers again soon.
      {
        kind: 'sysctl',
        netns: 'x-T1',
        settings: { 'net.ipv6.neigh.T1-fab.retrans_time_ms': '100' },
      },
      { kind: 'linkMaster', netns: 'x-fab', dev: 'fab-T1', master: 'br0' },
      { kind: 'linkUp', netns: 'x-fab', dev: 'fab-T1' },
      { kind: 'addrAdd', netns: 'x-T1', dev: 'T1-fab', cidr: 'fd00:fab::1/64' },
      { kind: 'linkUp', netns: 'x-T1', dev: 'T1-fab' },
    ]);
    assert.deepEqual(
      ofKind(ops, 'addrAdd')
        .filter((op) => op.dev.endsWith('-fab'))
        .map((op) => `${op.netns} ${op.cidr}`),
      ['x-T1 fd00:fab::1/64', 'x-T2 fd00:fab::2/64', 'x-T3 fd00:fab::3/64'],
    );
  });

  it("routes every other host's prefixes via its fabric address, on every translator", () => {
    const routes = ofKind(ops, 'routeAdd').filter((op) => op.dev.endsWith('-fab'));
    assert.deepEqual(
      routes.map((op) => `${op.netns}: ${op.to} via ${op.via} dev ${op.dev}`),
      [
        'x-T1: fc02::/64 via fd00:fab::2 dev T1-fab',
        'x-T1: fc03::/64 via fd00:fab::3 dev T1-fab',
        // The client's prefixes too: every concrete address is reachable from every host.
        'x-T2: fc00::/64 via fd00:fab::1 dev T2-fab',
        'x-T2: fc01::/64 via fd00:fab::1 dev T2-fab',
        'x-T2: fc03::/64 via fd00:fab::3 dev T2-fab',
        'x-T3: fc00::/64 via fd00:fab::1 dev T3-fab',
        'x-T3: fc01::/64 via fd00:fab::1 dev T3-fab',
        'x-T3: fc02::/64 via fd00:fab::2 dev T3-fab',
      ],
    );
    // Last, after every fabric link is up (a gateway must be on a live link).
    const lastUp = ops.findLastIndex((op) => op.kind === 'linkUp');
    for (const r of routes) assert.ok(ops.indexOf(r) > lastUp);
    assert.deepEqual(ops.slice(-routes.length), routes);
  });

  it('configures an interface only after it exists: veth, or bridge before its ports', () => {
    const made = new Set<string>();
    for (const op of ops) {
      const names = interfaces(op);
      if (op.kind === 'vethAdd' || op.kind === 'bridgeAdd') {
        for (const n of names) made.add(n);
        continue;
      }
      for (const n of names) assert.ok(made.has(n), `${op.kind} ${n} before it exists`);
      if (op.kind === 'linkMaster') assert.ok(made.has(`${op.netns}/${op.master}`));
    }
  });

  it('names no interface longer than 15 characters', () => {
    for (const op of ops) {
      for (const n of interfaces(op)) {
        const name = n.slice(n.indexOf('/') + 1);
        assert.ok(name.length > 0 && name.length <= MAX_IFNAME, n);
      }
    }
  });

  it('runs through the executor as ip commands in the right namespaces', async () => {
    const runner = new RecordingRunner();
    await execute(runner, ops);
    const lines = runner.lines();
    for (const line of [
      'ip -n x-fab link add name br0 type bridge',
      'ip -n x-T2 link add T2-fab type veth peer name fab-T2 netns x-fab',
      'ip -n x-fab link set dev fab-T2 master br0',
      'ip -n x-T2 -6 addr add fd00:fab::2/64 dev T2-fab nodad',
      'ip -n x-T3 -6 route add fc00::/64 via fd00:fab::1 dev T3-fab',
    ]) {
      assert.ok(lines.includes(line), line);
    }
    assert.equal(lines.length, ops.length);
  });
});

describe('planClusterUp: routes and policies', () => {
  it('routes every link prefix of another host: n hosts, p prefixes → (n-1)·p routes in all', async () => {
    const c = await loadCluster(join(ROOT, 'examples', 'eight-hosts.yaml'));
    const prefixes = c.hosts.reduce((n, h) => n + h.prefixes.length, 0);
    const routes = ofKind(planClusterUp(c), 'routeAdd').filter((op) => op.dev.endsWith('-fab'));
    assert.equal(routes.length, (c.hosts.length - 1) * prefixes);
    // A route is to a network: `ip route` refuses an address with host bits under the length.
    for (const r of routes) assert.match(r.to, /::\/64$/);
    assert.ok(
      routes.some((r) => r.netns === 'T5' && r.to === 'fc16:0:0:2::/64' && r.via === 'fd00:fab::6'),
    );
  });

  it('sets conntrack loose and liberal on every translator when a flow moves TCP', () => {
    const raw = rawCluster();
    raw.flows = [{ address: 'fe00::1', initiator: 'A', responder: 'S2', tcp: 'migrate' }];
    const ops = planClusterUp(resolveCluster(raw));
    const loose = ofKind(ops, 'sysctl').filter(
      (op) => op.settings['net.netfilter.nf_conntrack_tcp_loose'] === '1',
    );
    assert.deepEqual(
      loose.map((op) => op.netns),
      ['T1', 'T2', 'T3'],
    );
  });
});

describe('planClusterDown', () => {
  it('deletes every namespace of the cluster once, the fabric first', async () => {
    const c = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), { prefix: 'x-' });
    assert.deepEqual(
      planClusterDown(c),
      ['x-fab', 'x-S3', 'x-T3', 'x-S2', 'x-T2', 'x-S1', 'x-T1', 'x-A'].map((netns) => ({
        kind: 'netnsDelete',
        netns,
      })),
    );
  });
});
