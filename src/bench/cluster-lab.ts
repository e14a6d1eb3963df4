// `flowmig bench cluster`'s labs: N hosts on the default fabric, each a translator T<i> and a
// server S<i> (fc<i>::/64), host 1 also the client A (fc00::/64); F flows from A, spread over the servers.
import type { ClusterDescriptionInput } from '../lab/cluster-schema.js';
import { abstractAddress } from './flows.js';

/** The most hosts a cluster lab may have (src/lab/cluster-resolve.ts). */
export const MAX_BENCH_HOSTS = 16;

/** The lab's name, hence its id with the prefix: `c<hosts>x<flows>` (e.g. fmc-c8x10000). */
export function clusterBenchName(hosts: number, flows: number): string {
  return `c${hosts}x${flows}`;
}

/** Host i's link prefix, as a two-hex-digit group: fc01::, ..., fc10:: (the client's is fc00::). */
function prefixOf(i: number): string {
  return `fc${i.toString(16).padStart(2, '0')}:`;
}

/** The servers of the lab, in host order: S1..S<hosts>. */
export function clusterBenchServers(hosts: number): string[] {
  return Array.from({ length: hosts }, (_, i) => `S${i + 1}`);
}

/**
 * The lab of `hosts` hosts and `flows` flows. Flow k (abstract address abstractAddress(k)) goes
 * from A to S<(k mod hosts) + 1>: flow 0 is served on host 1, the others round the hosts.
 */
export function clusterBenchLab(hosts: number, flows: number): ClusterDescriptionInput {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_BENCH_HOSTS)
    throw new RangeError(`hosts must be 1..${MAX_BENCH_HOSTS}, not ${hosts}`);
  if (!Number.isInteger(flows) || flows < 1)
    throw new RangeError(`flows must be ≥ 1, not ${flows}`);
  const servers = clusterBenchServers(hosts);
  return {
    name: clusterBenchName(hosts, flows),
    engine: 'nftables',
    hosts: servers.map((server, i) => {
      const n = i + 1;
      const p = prefixOf(n);
      const client = n === 1;
      return {
        name: `h${n}`,
        nodes: [
          ...(client ? [{ name: 'A', role: 'client' as const }] : []),
          { name: `T${n}`, role: 'translator' as const },
          { name: server, role: 'server' as const },
        ],
        links: [
          ...(client
            ? [{ node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::ff/64' }]
            : []),
          { node: server, address: `${p}:1/64`, translatorAddress: `${p}:ff/64` },
        ],
      };
    }),
    flows: Array.from({ length: flows }, (_, k) => ({
      address: abstractAddress(k),
      initiator: 'A',
      responder: servers[k % hosts] as string,
    })),
  };
}
