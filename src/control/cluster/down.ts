// Removes a cluster lab: its host daemons, its etcd members, its namespaces and its files, from
// its state file and from what the machine shows (marks, command lines), also with the file lost.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { findMembers } from '../../etcd/member-process.js';
import type { Runner } from '../../exec/runner.js';
import { hostdPaths } from '../../hostd-api/protocol.js';
import type { ClusterLab } from '../../lab/cluster-model.js';
import { clusterNamespaces } from '../../lab/cluster-model.js';
import { resolveCluster } from '../../lab/cluster-resolve.js';
import { LabLocks } from '../../state/lock.js';
import { DamagedStateError } from '../../state/store.js';
import { markedNamespaces, removeOwnNamespaces } from '../namespaces.js';
import { findHostds, stopHostd } from './hostd-process.js';
import { etcdDirOf, removeEtcdDir, stopEtcd } from './members.js';
import { unserveCluster } from './serve.js';
import {
  type ClusterState,
  clusterStatePath,
  readClusterState,
  removeClusterState,
} from './state.js';

/** Where a cluster lab lives: its state directory, and how commands run. */
export interface ClusterContext {
  readonly stateDir: string;
  readonly runner: Runner;
}

export interface ClusterDownResult {
  readonly id: string;
  readonly kind: 'cluster';
  /** Namespaces deleted, and those of the lab's names left alone (not marked as its). */
  readonly removed: readonly string[];
  readonly skipped: readonly string[];
  /** PIDs stopped. */
  readonly stopped: { readonly hostds: readonly number[]; readonly members: readonly number[] };
  readonly hadState: boolean;
  /** The state file that could not be read (the lab was found by its marks instead). */
  readonly damagedState?: string;
}

/**
 * Whether lab `id` is (or was) a cluster lab here: its state file (or one being written, or its
 * lock), its etcd directory, or a host daemon or etcd member of it still running.
 */
export async function isClusterLab(stateDir: string, id: string): Promise<boolean> {
  const state = clusterStatePath(stateDir, id);
  // Its lock and temporary file too: an `up` killed before or in its first write leaves only those.
  const files = [state, `${state}.tmp`, `${state}.lock`, etcdDirOf(stateDir, id)];
  if (files.some((p) => existsSync(p))) return true;
  return (await findHostds(id)).length > 0 || (await findMembers(id)).length > 0;
}

/**
 * Runs `fn` with cluster lab `id`'s lock (`<id>.cluster.json.lock`, as a single-host lab's is
 * beside its state file): an `up` and a `down`, or two `up`s, of one lab never interleave. A
 * holder killed with SIGKILL loses it within 2 s (see state/lock.ts).
 */
export function withClusterLock<T>(stateDir: string, id: string, fn: () => Promise<T>): Promise<T> {
  // No state directory (removed under a running lab): nothing to serialise with, no lock to make.
  if (!existsSync(stateDir)) return fn();
  return new LabLocks((lab) => clusterStatePath(stateDir, lab)).withLock(id, fn);
}

/** Removes everything cluster lab `id` made; idempotent, and never touches what is not its. */
export function downCluster(ctx: ClusterContext, id: string): Promise<ClusterDownResult> {
  return withClusterLock(ctx.stateDir, id, () => downUnlocked(ctx, id));
}

/** downCluster, with the lab's lock held by the caller. */
export async function downUnlocked(ctx: ClusterContext, id: string): Promise<ClusterDownResult> {
  let damagedState: string | undefined;
  const state = await readClusterState(ctx.stateDir, id).catch((error: unknown) => {
    if (!(error instanceof DamagedStateError)) throw error;
    damagedState = error.path;
    return undefined;
  });
  const result = await teardown(ctx, id, state);
  return {
    ...result,
    hadState: state !== undefined,
    ...(damagedState === undefined ? {} : { damagedState }),
  };
}

/**
 * The removal itself, from `state` (the file's, or the one `up` holds in memory) and the machine:
 * host daemons first (so none re-programs a translator or re-registers meanwhile), then the
 * members, the namespaces (fabric first), and last the files.
 */
export async function teardown(
  ctx: ClusterContext,
  id: string,
  state: ClusterState | undefined,
): Promise<Omit<ClusterDownResult, 'hadState' | 'damagedState'>> {
  const cluster = state ? clusterOf(state) : undefined;
  // The server runtimes first: they run in the servers' namespaces, found by their command lines.
  await unserveCluster(ctx.stateDir, id);
  const hostds = [...(state?.hostds ?? []), ...(await findHostds(id))];
  const stoppedHostds = await Promise.all(
    [...new Map(hostds.map((h) => [h.pid, h])).values()].map(async (h) =>
      (await stopHostd(id, h.host, h.pid)) ? [h.pid] : [],
    ),
  );
  const members = [...(state?.members ?? []), ...(await findMembers(id))];
  const stoppedMembers = await stopEtcd(id, members);
  const names = [...(state?.created ?? []), ...(cluster ? clusterNamespaces(cluster) : [])];
  // No state: the kernel still shows which namespaces carry this lab's mark.
  if (!state) names.push(...(await markedNamespaces(ctx.runner, id)));
  const { removed, skipped } = await removeOwnNamespaces(
    ctx.runner,
    id,
    names,
    new Set(state?.created ?? []),
  );
  await removeEtcdDir(ctx.stateDir, id);
  const hosts = new Set([
    ...(cluster?.hosts.map((h) => h.name) ?? []),
    ...hostds.map((h) => h.host),
    ...(state ? [] : await hostFiles(ctx.stateDir, id)),
  ]);
  for (const host of hosts) {
    const files = hostdPaths(ctx.stateDir, id, host);
    await rm(files.socket, { force: true });
    await rm(files.log, { force: true });
  }
  await removeClusterState(ctx.stateDir, id);
  return {
    id,
    kind: 'cluster',
    removed,
    skipped,
    stopped: { hostds: stoppedHostds.flat().sort((a, b) => a - b), members: stoppedMembers },
  };
}

/** The lab again from its state, or undefined when the description no longer resolves. */
export function clusterOf(state: ClusterState): ClusterLab | undefined {
  try {
    return resolveCluster(state.description, { prefix: state.prefix });
  } catch {
    return undefined;
  }
}

/**
 * Hosts with a host daemon's files of lab `id` here (`<id>.<host>.sock|log`), for a lab whose
 * state file is lost. Host names hold no '.', so the match is exact; but a single-host lab's
 * daemon and agent files (`<id>.daemon.log`, `<id>.agent.sock`) fit the same shape, so with a
 * single-host lab of that id here nothing is taken from the listing.
 */
async function hostFiles(stateDir: string, id: string): Promise<string[]> {
  if (existsSync(`${stateDir}/${id}.json`)) return [];
  const names = await readdir(stateDir).catch(() => [] as string[]);
  const head = `${id}.`;
  return [
    ...new Set(
      names
        .filter((n) => n.startsWith(head))
        .map((n) => /^([A-Za-z0-9][A-Za-z0-9_-]{0,15})\.(?:sock|log)$/.exec(n.slice(head.length)))
        .flatMap((m) => (m?.[1] ? [m[1]] : [])),
    ),
  ];
}
