// What a cluster lab of a test left on the machine (its namespaces, host daemons, etcd members,
// files), and the safety net that removes it by name and PID whatever happened.
import { readdir } from 'node:fs/promises';
import { findHostds } from '../../../src/control/cluster/hostd-process.js';
import { findMembers } from '../../../src/etcd/member-process.js';
import { stopProcess } from '../../../src/procs/managed.js';
import { namespacesWith, runner } from '../../kernel-support/lab.js';

export interface Leftovers {
  readonly namespaces: readonly string[];
  readonly hostds: readonly number[];
  readonly members: readonly number[];
  readonly files: readonly string[];
}

export async function leftovers(prefix: string, id: string, stateDir: string): Promise<Leftovers> {
  return {
    namespaces: await namespacesWith(prefix),
    hostds: (await findHostds(id)).map((h) => h.pid),
    members: (await findMembers(id)).map((m) => m.pid),
    files: (await readdir(stateDir).catch(() => [] as string[])).sort(),
  };
}

export const NOTHING: Leftovers = { namespaces: [], hostds: [], members: [], files: [] };

/** Stops the lab's host daemons and members (found by their command lines), deletes its namespaces. */
export async function safetyNet(prefix: string, id: string): Promise<void> {
  for (const h of await findHostds(id)) await stopProcess(h.pid);
  for (const m of await findMembers(id)) await stopProcess(m.pid);
  for (const ns of await namespacesWith(prefix)) {
    await runner.run(['ip', 'netns', 'delete', ns]).catch(() => {});
  }
}
