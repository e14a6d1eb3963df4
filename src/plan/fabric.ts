// Plans building and removing a cluster lab: every host's network, the fabric bridge, routes across it.
import type { ClusterHost, ClusterLab } from '../lab/cluster-model.js';
import { clusterNamespaces } from '../lab/cluster-model.js';
import { ownershipMark } from '../lab/names.js';
import { formatPrefix } from '../net/ipv6.js';
import { planDown, planNetwork } from './build.js';
import type { Op } from './ops.js';

/**
 * Every operation that builds `cluster`, in order: each host's network as planUp builds a
 * single-host lab's, without the translator's tables (installed later, per host, by whoever runs
 * the host's daemon); then the fabric namespace with its bridge; each translator's veth into it
 * with its fabric address; last, on every translator, a route to each other host's link
 * prefixes via that host's fabric address, client prefixes included: every concrete address is
 * reachable from every host untranslated. Flows' abstract addresses are routed (per flow, to the
 * ingress host) by the host daemons, not here: docs/cluster-lab.md, "The reply path".
 */
export function planClusterUp(cluster: ClusterLab): Op[] {
  const ops: Op[] = [];
  for (const host of cluster.hosts) {
    ops.push(...planNetwork({ ...host, id: cluster.id, policies: cluster.policies }));
  }
  const { netns, bridge } = cluster.fabric;
  ops.push(
    { kind: 'netnsAdd', netns },
    { kind: 'loopbackUp', netns, mark: ownershipMark(cluster.id) },
    // The fabric only bridges frames; no DAD for the link-local addresses its ports get anyway.
    {
      kind: 'sysctl',
      netns,
      settings: { 'net.ipv6.conf.all.accept_dad': '0', 'net.ipv6.conf.default.accept_dad': '0' },
    },
    { kind: 'bridgeAdd', netns, name: bridge },
    { kind: 'linkUp', netns, dev: bridge },
  );
  const length = cluster.fabric.prefix.length;
  for (const host of cluster.hosts) {
    const t = host.translator.netns;
    ops.push(
      {
        kind: 'vethAdd',
        netns: t,
        name: host.fabricIf,
        peerNetns: netns,
        peerName: host.bridgePort,
      },
      // A host back on the fabric after a cut learns its peers' link addresses again by neighbour
      // solicitation: every 100 ms instead of every second (its return took 0.6-1.2 s, 0.2-0.5 s so).
      {
        kind: 'sysctl',
        netns: t,
        settings: { [`net.ipv6.neigh.${host.fabricIf}.retrans_time_ms`]: '100' },
      },
      { kind: 'linkMaster', netns, dev: host.bridgePort, master: bridge },
      { kind: 'linkUp', netns, dev: host.bridgePort },
      { kind: 'addrAdd', netns: t, dev: host.fabricIf, cidr: `${host.fabricAddress}/${length}` },
      { kind: 'linkUp', netns: t, dev: host.fabricIf },
    );
  }
  // After every fabric link is up: a gateway is accepted only once its prefix is on a live link.
  for (const host of cluster.hosts) ops.push(...fabricRoutes(cluster, host));
  return ops;
}

/** The routes `host`'s translator needs to reach every other host's nodes. */
export function fabricRoutes(cluster: ClusterLab, host: ClusterHost): Op[] {
  return cluster.hosts
    .filter((other) => other !== host)
    .flatMap((other) =>
      other.prefixes.map(
        (p): Op => ({
          kind: 'routeAdd',
          netns: host.translator.netns,
          to: formatPrefix(p),
          via: other.fabricAddress,
          dev: host.fabricIf,
        }),
      ),
    );
}

/**
 * Removes the cluster: every namespace, the fabric first (built last), then the hosts' in reverse;
 * deleting a namespace removes its ends of the veths, and so the peers.
 */
export function planClusterDown(cluster: ClusterLab): Op[] {
  return planDown(clusterNamespaces(cluster));
}
