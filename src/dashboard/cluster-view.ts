// A cluster lab as the dashboard shows it: every host's nodes with their host and link address,
// each linked to its host's translator; the status from the host daemons' answers: each host's
// lease and lag, and as drift what keeps a host from being in line with the table.
import { hostname } from 'node:os';
import type { ClusterStatus } from '../control/cluster/status.js';
import type { LiveLab, LiveReading } from '../daemon/live-lab.js';
import type { LiveHost, LiveStatus } from '../daemon-api/live.js';
import type { ClusterLab } from '../lab/cluster-model.js';

export function clusterLiveLab(cluster: ClusterLab): LiveLab {
  const nodes = cluster.hosts.flatMap((h) =>
    h.nodes.map((n) => {
      const address = h.links.find((l) => l.node === n.name)?.address.address;
      return { ...n, host: h.name, ...(address !== undefined ? { address } : {}) };
    }),
  );
  return {
    id: cluster.id,
    engine: cluster.engine,
    nodes,
    links: cluster.hosts.flatMap((h) =>
      h.links.map((l) => ({ node: l.node, translator: h.translator.name })),
    ),
    tcpPolicy: (address) => cluster.policies.get(address)?.tcp ?? 'reset',
  };
}

/** Each host's lease and lag: its own daemon's word, else etcd's view of it (no answer: lost). */
export function clusterHosts(s: ClusterStatus): LiveHost[] {
  return s.hosts.map((h) => {
    const seen = s.cluster?.hosts.find((c) => c.host === h.host);
    const lease = h.status ? (h.status.leaseAlive ? 'held' : 'lost') : seen?.live ? 'held' : 'lost';
    return { name: h.host, lease, lag: h.status?.lag ?? seen?.lag };
  });
}

/** Why a host is not in line with the table, one line each (empty: all in sync). */
export function clusterDrift(s: ClusterStatus): string[] {
  const out: string[] = [];
  for (const h of s.hosts) {
    if (!h.answering) out.push(`${h.host}: its daemon does not answer (${h.error ?? 'no reply'})`);
    else if (h.status?.error) out.push(`${h.host}: ${h.status.error}`);
    else if (h.status && !h.status.leaseAlive) out.push(`${h.host}: lease lost`);
    else if ((h.status?.lag ?? 0) > 0) out.push(`${h.host}: ${h.status?.lag} change(s) behind`);
  }
  if (s.clusterError) out.push(`etcd: ${s.clusterError}`);
  return out;
}

/** The page's status of a cluster lab; `server` is the dashboard process itself. */
export function clusterReading(s: ClusterStatus, server: LiveStatus['daemon']): LiveReading {
  const drift = clusterDrift(s);
  const status: LiveStatus = {
    at: new Date().toISOString(),
    drift,
    controlPath: `etcd; a daemon per host (${s.hosts.length} hosts, ${
      s.members.filter((m) => m.running).length
    } of ${s.members.length} etcd members running on ${hostname()})`,
    daemon: server,
    // The host daemons keep no late-packet count: not shown as a count of zero.
    late: undefined,
    drains: [],
    servers: [],
    hosts: clusterHosts(s),
  };
  return { status, drift: drift.length > 0, lateTranslated: 0 };
}
