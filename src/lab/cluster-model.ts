// The resolved cluster lab: hosts, the fabric joining them, etcd's members. Built by cluster-resolve.ts.
import type { Ipv6Prefix } from '../net/ipv6.js';
import type { ClusterDescription } from './cluster-schema.js';
import type { FlowPolicy, LabFlow, LabLink, LabNode, LabRoute } from './model.js';
import type { EngineName } from './schema.js';

/** One host: a single-host lab's nodes, links and routes, plus its translator's fabric side. */
export interface ClusterHost {
  readonly name: string;
  /** 1-based, in file order: the last group of the fabric address. */
  readonly index: number;
  readonly nodes: readonly LabNode[];
  /** Routes for the host's other nodes; its namespace is the host's (etcd member, daemon). */
  readonly translator: LabNode;
  readonly links: readonly LabLink[];
  readonly routes: readonly LabRoute[];
  /** The translator's address on the fabric, `<fabric>::<index>`. */
  readonly fabricAddress: string;
  /** The translator's end of its veth to the fabric bridge. */
  readonly fabricIf: string;
  /** The other end, a port of the bridge in the fabric namespace. */
  readonly bridgePort: string;
  /** The node ends' link prefixes: every other translator routes them via `fabricAddress`. */
  readonly prefixes: readonly Ipv6Prefix[];
}

export interface Fabric {
  /** A /64 written as its network address, e.g. `fd00:fab::/64`. */
  readonly prefix: Ipv6Prefix;
  readonly netns: string;
  readonly bridge: string;
}

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const ETCD_MEMBERS = 3;

/**
 * An etcd member's place: the translator namespace of its host, listening on the host's fabric
 * address. Members share a host only when the cluster has fewer than 3 hosts; the 2nd and 3rd
 * member on one host take the next free pair of ports (2381/2382, 2383/2384).
 */
export interface EtcdMember {
  /** `etcd1`..`etcd3`. */
  readonly name: string;
  readonly host: string;
  readonly netns: string;
  readonly address: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** `http://[address]:clientPort`. */
  readonly clientUrl: string;
  /** `http://[address]:peerPort`. */
  readonly peerUrl: string;
}

export interface Etcd {
  readonly members: readonly EtcdMember[];
  /** Hosts that may be lost with quorum kept: 1 with members on 3 hosts, 0 otherwise. */
  readonly hostFailuresTolerated: number;
}

export interface ClusterLab {
  readonly name: string;
  /** prefix + name, as a single-host lab's: names state and marks owned namespaces. */
  readonly id: string;
  readonly prefix: string;
  readonly engine: EngineName;
  readonly graceMs: number;
  readonly hosts: readonly ClusterHost[];
  readonly fabric: Fabric;
  /** Every host's nodes, in file order. */
  readonly nodes: readonly LabNode[];
  readonly flows: readonly LabFlow[];
  readonly policies: ReadonlyMap<string, FlowPolicy>;
  readonly etcd: Etcd;
  readonly description: ClusterDescription;
}

/** The host a node belongs to. */
export function hostOf(cluster: ClusterLab, node: string): ClusterHost | undefined {
  return cluster.hosts.find((h) => h.nodes.some((n) => n.name === node));
}

/** The node's concrete address (its end of its link to its host's translator). */
export function clusterAddress(cluster: ClusterLab, node: string): string | undefined {
  for (const h of cluster.hosts) {
    const link = h.links.find((l) => l.node === node);
    if (link) return link.address.address;
  }
  return undefined;
}

/**
 * The host whose translator translates a flow and holds its conntrack entry: its initiator's.
 * Answers from servers on other hosts must come back to it (docs/cluster-lab.md, the reply path).
 */
export function ingressHost(cluster: ClusterLab, flow: LabFlow): ClusterHost | undefined {
  return hostOf(cluster, flow.initiator);
}

/** Every namespace of the cluster: the hosts' nodes in file order, then the fabric's. */
export function clusterNamespaces(cluster: ClusterLab): string[] {
  return [...cluster.nodes.map((n) => n.netns), cluster.fabric.netns];
}

/** etcd's `--initial-cluster`: `name=peerUrl` for every member. */
export function etcdInitialCluster(etcd: Etcd): string {
  return etcd.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
}

/** Where each etcd member goes: hosts 1..3, or round-robin over fewer hosts (see EtcdMember). */
export function placeEtcd(hosts: readonly ClusterHost[]): Etcd {
  const members: EtcdMember[] = [];
  const onHost = new Map<string, number>();
  for (let i = 0; i < ETCD_MEMBERS && hosts.length > 0; i++) {
    const host = hosts[i % hosts.length] as ClusterHost;
    const slot = onHost.get(host.name) ?? 0;
    onHost.set(host.name, slot + 1);
    const clientPort = ETCD_CLIENT_PORT + 2 * slot;
    const peerPort = ETCD_PEER_PORT + 2 * slot;
    members.push({
      name: `etcd${i + 1}`,
      host: host.name,
      netns: host.translator.netns,
      address: host.fabricAddress,
      clientPort,
      peerPort,
      clientUrl: `http://[${host.fabricAddress}]:${clientPort}`,
      peerUrl: `http://[${host.fabricAddress}]:${peerPort}`,
    });
  }
  return { members, hostFailuresTolerated: hosts.length >= ETCD_MEMBERS ? 1 : 0 };
}
