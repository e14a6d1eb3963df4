// A cluster lab as an experiment's testbed: built and torn down by the cluster lifecycle, its
// flow swapped through a host daemon (one etcd transaction, answered once every live translator
// applied it), the late packets summed over every translator's late table.
import { changeCluster } from '../control/cluster/act.js';
import { type ClusterContext, downCluster } from '../control/cluster/down.js';
import { serveCluster } from '../control/cluster/serve.js';
import { clusterFlows } from '../control/cluster/status.js';
import { checkClusterHost, upCluster } from '../control/cluster/up.js';
import { lateTable } from '../engines/late.js';
import { FlowmigError } from '../errors.js';
import type { HostdChange } from '../hostd-api/protocol.js';
import { type ClusterLab, hostOf } from '../lab/cluster-model.js';
import type { Testbed, TestbedLab } from './testbed.js';

/** The cluster's nodes, links and translators as one lab (each node knows its host). */
export function clusterTestbedLab(cluster: ClusterLab): TestbedLab {
  const hosts = new Map(cluster.nodes.map((n) => [n.name, hostOf(cluster, n.name)]));
  return {
    id: cluster.id,
    engine: cluster.engine,
    graceMs: cluster.graceMs,
    nodes: cluster.nodes,
    links: cluster.hosts.flatMap((h) => h.links),
    flows: cluster.flows,
    policies: cluster.policies,
    translators: cluster.hosts.map((h) => h.translator),
    hostOf: new Map(cluster.nodes.map((n) => [n.name, hosts.get(n.name)?.name ?? ''])),
    translatorOf: (node) => {
      const host = hosts.get(node);
      if (!host) throw new FlowmigError(`node ${node} is on no host of lab ${cluster.id}`);
      return host.translator;
    },
  };
}

export function clusterBed(ctx: ClusterContext, cluster: ClusterLab): Testbed {
  const id = cluster.id;
  const lab = clusterTestbedLab(cluster);
  return {
    lab,
    runner: ctx.runner,
    check: (programs) => checkClusterHost(cluster, programs),
    up: async (onStep) => {
      await upCluster(ctx, cluster, { onStep });
    },
    down: async () => {
      await downCluster(ctx, id);
    },
    swap: async (flow) => {
      const startedMs = performance.timeOrigin + performance.now();
      const r = await changeCluster<HostdChange>(ctx.stateDir, id, { verb: 'swap', flow });
      const move = r.moves[0];
      if (!r.changed || !move) throw new FlowmigError(`swap of ${flow} changed nothing`);
      return {
        from: move.from,
        to: move.to,
        startedMs,
        ruleMs: r.commitMs,
        conntrackMs: r.appliedMs,
        totalMs: r.commitMs + r.appliedMs,
        path: `etcd (applied by ${r.appliedBy.join(', ')})`,
      };
    },
    responder: async (flow) =>
      (await clusterFlows(ctx.stateDir, id)).find((f) => f.address === flow)?.responder,
    summary: async () => {
      let translated = 0;
      for (const t of lab.translators) {
        const inspect = lateTable.inspect(t.netns);
        const out = await ctx.runner.run(inspect.argv, {
          netns: inspect.netns,
          okExitCodes: [0, 1],
        });
        translated += lateTable.parse(out.stdout).translated;
      }
      return {
        controlPath: `cluster: an etcd transaction per change, applied by ${lab.translators.length} host daemons`,
        lateTranslated: translated,
      };
    },
    serveEcho: async (port) => {
      await serveCluster(ctx.stateDir, id, { port, mode: 'echo' });
    },
  };
}
