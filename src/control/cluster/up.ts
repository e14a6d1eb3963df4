// Builds a cluster lab: its namespaces and fabric, empty translator tables, a 3-member etcd and a
// host daemon per host, then the lab's flows through host 1's daemon; rolled back on failure.
import { existsSync } from 'node:fs';
import { holdTable } from '../../engines/hold.js';
import { lateTable } from '../../engines/late.js';
import { engineFor } from '../../engines/registry.js';
import { CommandError, FlowmigError } from '../../errors.js';
import { execute } from '../../exec/execute.js';
import { requirePrograms, requireRoot } from '../../exec/preflight.js';
import { HostdClient } from '../../hostd-api/client.js';
import { hostdPaths } from '../../hostd-api/protocol.js';
import { type ClusterLab, clusterNamespaces } from '../../lab/cluster-model.js';
import { movesTcp } from '../../lab/model.js';
import { planClusterUp } from '../../plan/fabric.js';
import { describeOp, type Op } from '../../plan/ops.js';
import { makePrivateDir } from '../../state/files.js';
import { listNamespaces, waitForLinks } from '../kernel.js';
import type { ProgressHooks } from '../results.js';
import {
  type ClusterContext,
  downUnlocked,
  isClusterLab,
  teardown,
  withClusterLock,
} from './down.js';
import { startHostd } from './hostd-process.js';
import { memberSpecs, startEtcd } from './members.js';
import { type ClusterState, readClusterState, StateWriter } from './state.js';
import { type ClusterStatus, clusterStatus } from './status.js';

export interface UpClusterOptions extends ProgressHooks {
  /** How long each etcd member, and then the cluster's first leader, may take (default 20 s). */
  readonly etcdTimeoutMs?: number;
  /** How long each host daemon may take to answer (default 20 s). */
  readonly hostdTimeoutMs?: number;
  /** How long `load` waits for every host to apply the lab's flows (default 10 s). */
  readonly loadWaitMs?: number;
}

/** Checks root and the programs a cluster lab needs: the lab's, nft's tables, etcd's, and `extra`. */
export async function checkClusterHost(
  cluster: ClusterLab,
  extra: readonly string[] = [],
): Promise<void> {
  requireRoot();
  const hold = movesTcp(cluster) ? ['ip6tables-restore'] : [];
  await requirePrograms([
    'ip',
    'sysctl',
    'conntrack',
    'nft',
    'etcd',
    'etcdctl',
    ...engineFor(cluster.engine).programs,
    ...hold,
    ...extra,
  ]);
}

/**
 * Refuses a lab that is up, or whose namespace names are taken (touching nothing); a state file
 * left by a lab whose namespaces are all gone is stale: what is left of that lab is removed.
 */
async function refuseTaken(ctx: ClusterContext, cluster: ClusterLab): Promise<void> {
  const existing = await listNamespaces(ctx.runner);
  if (existsSync(`${ctx.stateDir}/${cluster.id}.json`))
    throw new FlowmigError(
      `a single-host lab ${cluster.id} is up in ${ctx.stateDir}; run 'flowmig down --lab ${cluster.id}' first, or give the cluster another --prefix`,
    );
  const old = await readClusterState(ctx.stateDir, cluster.id).catch(() => undefined);
  const alive = (old?.created ?? []).filter((ns) => existing.has(ns));
  if (alive.length > 0)
    throw new FlowmigError(
      `lab ${cluster.id} is already up (namespaces ${alive.join(', ')}); run 'flowmig down --lab ${cluster.id}' first`,
    );
  const taken = clusterNamespaces(cluster).filter((ns) => existing.has(ns));
  if (taken.length > 0) {
    const many = taken.length > 1;
    throw new FlowmigError(
      `namespace${many ? 's' : ''} ${taken.join(', ')} already exist${many ? '' : 's'}; ` +
        `flowmig will not touch ${many ? 'them' : 'it'}: run the lab beside ${many ? 'them' : 'it'} with a prefix, e.g. --prefix fm1-`,
    );
  }
  // Stale: no namespace of it is left, but its processes or files may be (a killed `up`). An old
  // etcd data dir in particular must go: members started on it would bring back its table.
  if (await isClusterLab(ctx.stateDir, cluster.id)) await downUnlocked(ctx, cluster.id);
}

/**
 * Builds `cluster` and returns its status once every host applied the lab's flows. On failure
 * everything made so far is removed (processes, namespaces, files) and the error says at which
 * step it failed.
 */
export async function upCluster(
  ctx: ClusterContext,
  cluster: ClusterLab,
  options: UpClusterOptions = {},
): Promise<ClusterStatus> {
  await checkClusterHost(cluster);
  await makePrivateDir(ctx.stateDir);
  await withClusterLock(ctx.stateDir, cluster.id, () => build(ctx, cluster, options));
  return clusterStatus(ctx.stateDir, cluster.id);
}

/** upCluster's work, with the lab's lock held. */
async function build(
  ctx: ClusterContext,
  cluster: ClusterLab,
  options: UpClusterOptions,
): Promise<void> {
  await refuseTaken(ctx, cluster);
  const state: ClusterState = {
    kind: 'cluster',
    id: cluster.id,
    prefix: cluster.prefix,
    description: cluster.description,
    createdAt: new Date().toISOString(),
    created: [],
    members: [],
    hostds: [],
  };
  const writer = new StateWriter(ctx.stateDir, state);
  await writer.save();
  const step = (text: string) => options.onStep?.(text, 0, 0);
  let what = 'building the network';
  let current: Op | undefined;
  try {
    const ops = planClusterUp(cluster);
    await execute(ctx.runner, ops, {
      before: async (op) => {
        current = op;
        // Write-ahead: a SIGKILL right after the create still leaves the name on record.
        if (op.kind === 'netnsAdd') {
          state.created.push(op.netns);
          await writer.save();
        }
      },
      after: (s, i, total) => options.onStep?.(describeOp(s.op), i + 1, total),
    });
    current = undefined;
    what = 'waiting for the links';
    step(what);
    const down = await waitForLinks(ctx.runner, clusterLinks(cluster));
    if (down.length > 0)
      throw new FlowmigError(`links did not come up within 5 s: ${down.join(', ')}`);
    what = 'installing the translators’ tables';
    step(what);
    await execute(
      ctx.runner,
      cluster.hosts.flatMap((h) => emptyTables(cluster, h.translator.netns)),
    );
    what = 'starting etcd';
    step(`starting etcd (${cluster.etcd.members.map((m) => `${m.name} on ${m.host}`).join(', ')})`);
    await startEtcd(memberSpecs(cluster, ctx.stateDir), {
      runner: ctx.runner,
      ...(options.etcdTimeoutMs === undefined ? {} : { timeoutMs: options.etcdTimeoutMs }),
      record: async (name, pid) => {
        state.members.push({ name, pid });
        await writer.save();
      },
    });
    what = 'starting the host daemons';
    step(`starting the host daemons (${cluster.hosts.map((h) => h.name).join(', ')})`);
    const started = await Promise.allSettled(
      cluster.hosts.map((h) =>
        startHostd({
          id: cluster.id,
          host: h.name,
          netns: h.translator.netns,
          stateDir: ctx.stateDir,
          ...(options.hostdTimeoutMs === undefined ? {} : { timeoutMs: options.hostdTimeoutMs }),
          record: async (pid) => {
            state.hostds.push({ host: h.name, pid });
            await writer.save();
          },
        }),
      ),
    );
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    what = 'loading the flows';
    step(`loading ${cluster.flows.length} flow(s) and waiting until every host applied them`);
    await loadFlows(ctx, cluster, options.loadWaitMs ?? 10_000);
  } catch (error) {
    if (current?.kind === 'netnsAdd' && error instanceof CommandError) {
      // The create itself failed: that namespace is not ours.
      const name = current.netns;
      state.created = state.created.filter((ns) => ns !== name);
    }
    if (current) what = describeOp(current);
    await writer.save().catch(() => {});
    const { removed } = await teardown(ctx, cluster.id, state);
    const reason = error instanceof Error ? error.message : String(error);
    throw new FlowmigError(
      `up failed at "${what}": ${reason}; rolled back${removed.length ? ` (removed ${removed.join(', ')})` : ''}`,
      { cause: error },
    );
  }
}

/** The tables each translator starts with, empty: its host daemon fills them from etcd. */
function emptyTables(cluster: ClusterLab, netns: string): Op[] {
  return [
    engineFor(cluster.engine).install(netns, []),
    lateTable.install(netns, []),
    ...(movesTcp(cluster) ? holdTable.install(netns) : []),
  ];
}

/** Puts the lab file's flows through host 1's daemon, which waits until every live host applied them. */
async function loadFlows(ctx: ClusterContext, cluster: ClusterLab, waitMs: number): Promise<void> {
  const first = cluster.hosts[0];
  if (!first) return;
  const client = await HostdClient.connect(hostdPaths(ctx.stateDir, cluster.id, first.name).socket);
  try {
    await client.request({ verb: 'load', waitMs }, waitMs + 5_000);
  } finally {
    client.close();
  }
}

/** Both ends of every host link and of every translator's fabric veth. */
function clusterLinks(cluster: ClusterLab): { netns: string; dev: string }[] {
  return cluster.hosts.flatMap((h) => [
    ...h.links.flatMap((l) => {
      const node = h.nodes.find((n) => n.name === l.node);
      return node
        ? [
            { netns: node.netns, dev: l.nodeIf },
            { netns: h.translator.netns, dev: l.translatorIf },
          ]
        : [];
    }),
    { netns: h.translator.netns, dev: h.fabricIf },
    { netns: cluster.fabric.netns, dev: h.bridgePort },
  ]);
}
