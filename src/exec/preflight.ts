// Capability checks before anything is changed: root, and the programs the work needs.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { FlowmigError } from '../errors.js';

/** The Debian package that provides each program flowmig runs. */
export const PACKAGE_OF: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  sysctl: 'procps',
  conntrack: 'conntrack',
  'ip6tables-restore': 'iptables',
  'ip6tables-save': 'iptables',
  ip6tables: 'iptables',
  nft: 'nftables',
  ping: 'iputils-ping',
  tcpdump: 'tcpdump',
  ncat: 'ncat',
  iperf3: 'iperf3',
};

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new FlowmigError(
      'flowmig must run as root: it creates network namespaces and netfilter rules',
    );
  }
}

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      await access(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

export async function requirePrograms(programs: Iterable<string>): Promise<void> {
  const missing: string[] = [];
  for (const p of new Set(programs)) if (!(await onPath(p))) missing.push(p);
  if (missing.length > 0) {
    const what = missing
      .map((p) => `${p} (Debian package ${PACKAGE_OF[p] ?? 'unknown'})`)
      .join(', ');
    throw new FlowmigError(`missing program(s): ${what}; install them or run 'npm run setup'`);
  }
}
