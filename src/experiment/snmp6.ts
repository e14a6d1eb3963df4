// Per-namespace IPv6 counters (/proc/net/snmp6), read without spawning a process per reading.
import { readFile } from 'node:fs/promises';
import { Background } from './process.js';

export type Snmp6 = Readonly<Record<string, number>>;

/** Parses /proc/net/snmp6 ("Icmp6InEchos  42" per line). */
export function parseSnmp6(text: string): Snmp6 {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)\s*$/.exec(line);
    if (m?.[1] && m[2]) out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * Reads a namespace's counters through /proc/<pid>/net/snmp6 of a `sleep` parked inside it:
 * /proc/<pid>/net shows the network namespace of that process, and a file read costs µs where
 * an `ip netns exec` costs ~10 ms.
 */
export class NetnsCounters {
  private constructor(
    readonly netns: string,
    private readonly holder: Background,
  ) {}

  static async open(netns: string): Promise<NetnsCounters> {
    const holder = Background.start(['sleep', 'infinity'], { netns });
    const c = new NetnsCounters(netns, holder);
    // `ip netns exec` execs sleep after entering the namespace; wait until that has happened.
    const deadline = Date.now() + 5_000;
    for (;;) {
      try {
        const cmd = await readFile(`/proc/${holder.pid}/cmdline`, 'utf8');
        if (cmd.startsWith('sleep')) return c;
      } catch {
        // not yet visible
      }
      if (!holder.running || Date.now() > deadline) {
        await holder.stop();
        throw new Error(
          `cannot start a counter reader in namespace ${netns}: ${holder.stderr.trim()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async read(): Promise<Snmp6> {
    return parseSnmp6(await readFile(`/proc/${this.holder.pid}/net/snmp6`, 'utf8'));
  }

  async close(): Promise<void> {
    await this.holder.stop('SIGKILL');
  }
}

/** Counter differences `after - before` for the given names. */
export function delta(before: Snmp6, after: Snmp6, name: string): number {
  return (after[name] ?? 0) - (before[name] ?? 0);
}
