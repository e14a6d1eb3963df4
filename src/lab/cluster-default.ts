// The demo's cluster lab of N hosts (`flowmig demo --hosts N`): host 1 holds client A, translator
// T1 and server S1; host k (2..N) a translator Tk and a server Sk. Flow fe00::1 from A to S1, so a
// swap moves it to the next host's server, and replies from hosts 2..N return through T1.
import type { ClusterDescriptionInput } from './cluster-schema.js';

export function demoClusterDescription(hosts: number): ClusterDescriptionInput {
  return {
    name: `hosts${hosts}`,
    engine: 'nftables',
    flows: [{ address: 'fe00::1', initiator: 'A', responder: 'S1' }],
    hosts: Array.from({ length: hosts }, (_, i) => {
      const k = i + 1;
      // Server k's network fc<k, two hex digits>::/64 (fc01:: … fc10::); the client's fc00::/64.
      const net = `fc${k.toString(16).padStart(2, '0')}`;
      const server = { node: `S${k}`, address: `${net}::1/64`, translatorAddress: `${net}::ff/64` };
      return {
        name: `h${k}`,
        nodes: [
          ...(k === 1 ? [{ name: 'A', role: 'client' as const }] : []),
          { name: `T${k}`, role: 'translator' as const },
          { name: `S${k}`, role: 'server' as const },
        ],
        links: [
          ...(k === 1
            ? [{ node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::ff/64' }]
            : []),
          server,
        ],
      };
    }),
  };
}
