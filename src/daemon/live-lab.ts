// A lab as the live view sees it, whatever it is built of: one host's lab (its daemon's), or a
// cluster lab's nodes on every host (the cluster dashboard's). Nodes carry their namespace, so
// rates and loads work the same on both.
import type { LiveLink, LiveStatus } from '../daemon-api/live.js';
import type { Lab, LabNode } from '../lab/model.js';

export interface LiveLab {
  readonly id: string;
  readonly engine: string;
  readonly nodes: readonly (LabNode & { readonly host?: string; readonly address?: string })[];
  readonly links: readonly LiveLink[];
  /** A flow's TCP policy (reset when its lab file names none). */
  tcpPolicy(address: string): string;
}

/** What one status read gives: the page's status, and the figures /metrics reads from it. */
export interface LiveReading {
  readonly status: LiveStatus;
  readonly drift: boolean;
  readonly lateTranslated: number;
}

/** One host's lab: its nodes with their link addresses, each link to its translator. */
export function singleHostLab(lab: Lab): LiveLab {
  return {
    id: lab.id,
    engine: lab.engine,
    nodes: lab.nodes.map((n) => {
      const address = lab.links.find((l) => l.node === n.name)?.address.address;
      return address === undefined ? n : { ...n, address };
    }),
    links: lab.links.map((l) => ({ node: l.node, translator: lab.translator.name })),
    tcpPolicy: (address) => lab.policies.get(address)?.tcp ?? 'reset',
  };
}
