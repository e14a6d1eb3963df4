// The translator's fast path inside the controlling process: an Agent (the same code the agent
// process runs) whose netlink sockets are made in the translator's namespace by the native addon.
// A long-lived controller (the daemon, an experiment, a library user) then migrates with no
// request to another process: no wake-up of a second process on each migration.
import { statSync } from 'node:fs';
import { Agent } from '../agent/agent.js';
import { NetfilterSocket } from '../agent/netfilter-socket.js';
import { netlinkAddon } from '../netlink/native.js';
import { type DumpedElements, parseSetElements, setElementsDumpRequest } from '../nft/netlink.js';

interface Kept {
  readonly agent: Promise<Agent>;
  /** The namespace the sockets were made in: a lab rebuilt under the same name is another one. */
  readonly ino: number;
  readonly dev: number;
}

/** /run/netns/<name>, where `ip netns` names namespaces. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export class InProcessAgents {
  private readonly kept = new Map<string, Kept>();

  /** Why this process cannot use the in-process path, or undefined when it can. */
  unavailable(): string | undefined {
    const loaded = netlinkAddon();
    return loaded.ok ? undefined : `the native netlink addon is not available: ${loaded.reason}`;
  }

  /** The lab's in-process agent, started on first use (a conntrack dump seeds its index). */
  get(lab: string, netns: string): Promise<Agent> {
    const path = netnsPath(netns);
    const st = statSync(path); // throws when the namespace is gone
    const kept = this.kept.get(lab);
    if (kept && kept.ino === st.ino && kept.dev === st.dev) return kept.agent;
    if (kept) this.drop(lab);
    const agent = Agent.start({ netns: path }).then((a) => {
      a.unref(); // an idle controller may exit: the agent only serves its calls
      return a;
    });
    this.kept.set(lab, { agent, ino: st.ino, dev: st.dev });
    agent.catch(() => this.kept.delete(lab));
    return agent;
  }

  /** The lab's agent if one is running now (for status): never starts one. */
  peek(lab: string): Promise<Agent> | undefined {
    return this.kept.get(lab)?.agent;
  }

  /** Closes the lab's agent (its sockets keep a deleted namespace alive until closed). */
  drop(lab: string): void {
    const kept = this.kept.get(lab);
    if (!kept) return;
    this.kept.delete(lab);
    kept.agent.then(
      (a) => a.close(),
      () => {},
    );
  }

  closeAll(): void {
    for (const lab of [...this.kept.keys()]) this.drop(lab);
  }
}

/** A set or map to read (family ip6). */
export interface SetName {
  readonly table: string;
  readonly set: string;
}

/**
 * The elements of each set, dumped over a netlink socket made in `netns` (needs the native addon;
 * see InProcessAgents.unavailable). A set that does not exist reads as undefined. The socket is
 * made for this read and closed after it: reading needs nothing of a migration's agent.
 */
export async function dumpSets(
  netns: string,
  sets: readonly SetName[],
  timeoutMs = 10_000,
): Promise<(DumpedElements | undefined)[]> {
  const sock = new NetfilterSocket(netnsPath(netns));
  try {
    const out: (DumpedElements | undefined)[] = [];
    for (const { table, set } of sets) {
      const seq = sock.nextSeq();
      try {
        out.push(
          parseSetElements(
            await sock.dump(setElementsDumpRequest(table, set, seq), seq, timeoutMs),
          ),
        );
      } catch (error) {
        // ENOENT: no such table or set (the structure's read says what is missing).
        if ((error as { errno?: number }).errno !== NetfilterSocket.ENOENT) throw error;
        out.push(undefined);
      }
    }
    return out;
  } finally {
    sock.close();
  }
}
