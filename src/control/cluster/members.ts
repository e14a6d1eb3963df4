// A cluster lab's etcd: its 3 members as data (where the lab places them, data under the state
// directory, the lab id as token), started together and waited for, and stopped by PID.
import { rm } from 'node:fs/promises';
import { type EtcdMember, markersOf } from '../../etcd/member.js';
import { startMember, stopMember, waitHealthy } from '../../etcd/member-process.js';
import type { Runner } from '../../exec/runner.js';
import type { ClusterLab } from '../../lab/cluster-model.js';
import { isOurProcess } from '../../procs/find.js';

/** The directory holding a directory per member (data dir and log): `<state dir>/<id>.etcd`. */
export function etcdDirOf(stateDir: string, id: string): string {
  return `${stateDir}/${id}.etcd`;
}

/**
 * The members `cluster.etcd` places, as etcd's command line wants them: each in its host's
 * translator namespace on the host's fabric address, forming a new cluster whose token is the lab
 * id (the token is also how `down` finds them when the state file is lost).
 */
export function memberSpecs(cluster: ClusterLab, stateDir: string): EtcdMember[] {
  const peers = cluster.etcd.members.map((m) => ({ name: m.name, peerUrl: m.peerUrl }));
  return cluster.etcd.members.map((m) => ({
    name: m.name,
    // Its own 0700 directory: the data dir `<name>.etcd` and the log `<name>.log` in it.
    dir: `${etcdDirOf(stateDir, cluster.id)}/${m.name}`,
    peerUrl: m.peerUrl,
    clientUrls: [m.clientUrl],
    cluster: peers,
    state: 'new',
    token: cluster.id,
    netns: m.netns,
  }));
}

/**
 * Starts every member at once (a member of a cluster being formed serves clients only once a
 * quorum of its peers publishes it), then waits until the cluster has a leader. `record` runs
 * after each spawn. Throws the first failure; the members started are on record by then.
 */
export async function startEtcd(
  members: readonly EtcdMember[],
  o: { runner: Runner; timeoutMs?: number; record: (name: string, pid: number) => Promise<void> },
): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 20_000;
  const started = await Promise.allSettled(
    members.map((m) =>
      startMember(m, { runner: o.runner, timeoutMs, record: (pid) => o.record(m.name, pid) }),
    ),
  );
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  // etcdctl inside the first member's namespace reaches every member over the fabric.
  const netns = members[0]?.netns;
  await waitHealthy(
    members.map((m) => m.clientUrls[0] ?? ''),
    { runner: o.runner, timeoutMs, ...(netns === undefined ? {} : { netns }) },
  );
}

/** Stops the members by PID (only while a PID still runs that member of this lab). */
export async function stopEtcd(
  token: string,
  members: readonly { readonly name: string; readonly pid: number }[],
): Promise<number[]> {
  const stopped: number[] = [];
  await Promise.all(
    [...new Map(members.map((m) => [m.pid, m])).values()].map(async (m) => {
      if (!(await isOurProcess(m.pid, markersOf({ name: m.name, token })))) return;
      await stopMember({ pid: m.pid, name: m.name, token, log: '' });
      stopped.push(m.pid);
    }),
  );
  return stopped.sort((a, b) => a - b);
}

/** Removes the members' data dirs and logs. */
export async function removeEtcdDir(stateDir: string, id: string): Promise<void> {
  await rm(etcdDirOf(stateDir, id), { recursive: true, force: true });
}
