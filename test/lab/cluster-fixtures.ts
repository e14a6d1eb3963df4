// Cluster lab descriptions shared by the cluster tests (no I/O).
import type { ClusterDescriptionInput } from '../../src/lab/cluster-schema.js';

/** `n` hosts h1..hn, each a translator Tn and a server Sn in fc00:n::/64. */
export function hostsDescription(n: number): ClusterDescriptionInput {
  return {
    hosts: Array.from({ length: n }, (_, k) => ({
      name: `h${k + 1}`,
      nodes: [
        { name: `T${k + 1}`, role: 'translator' as const },
        { name: `S${k + 1}`, role: 'server' as const },
      ],
      links: [
        {
          node: `S${k + 1}`,
          address: `fc00:${k + 1}::1/64`,
          translatorAddress: `fc00:${k + 1}::ff/64`,
        },
      ],
    })),
    flows: [],
  };
}

type Item = Record<string, unknown>;
export interface RawHost extends Item {
  nodes: Item[];
  links: Item[];
}
export interface RawCluster extends Item {
  hosts: RawHost[];
  flows: Item[];
}

/**
 * A fresh, freely editable cluster: hosts h1..h3 as hostsDescription(3) makes them, a client A
 * (fc10::1/64) on h1 and a flow fe00::1 from A to S2.
 */
export function rawCluster(): RawCluster {
  const d = structuredClone(hostsDescription(3)) as RawCluster;
  d.hosts[0]?.nodes.unshift({ name: 'A', role: 'client' });
  d.hosts[0]?.links.unshift({ node: 'A', address: 'fc10::1/64', translatorAddress: 'fc10::2/64' });
  d.flows = [{ address: 'fe00::1', initiator: 'A', responder: 'S2' }];
  return d;
}
