// The prompt's actions on a cluster lab: changes go to its host daemons (one etcd transaction
// each, answered once every live translator applied it), status and flows are the cluster's.
// serve starts flowmig's server runtimes in the servers' namespaces (the ingress host daemon moves
// a `tcp: migrate` flow's connections between them); the host daemons keep their translators in
// line with the table themselves, so reconcile says there is nothing to do.
import { changeCluster } from '../control/cluster/act.js';
import { serveCluster, unserveCluster } from '../control/cluster/serve.js';
import { clusterStatus } from '../control/cluster/status.js';
import { FlowmigError } from '../errors.js';
import type { HostdChange } from '../hostd-api/protocol.js';
import { tcpRepairUnavailable } from '../tcp-repair/native.js';
import { renderClusterChange, renderClusterFlows, renderClusterStatus } from './cluster.js';
import type { PromptActions } from './prompt.js';
import { renderServe, renderServeStopped } from './render.js';

export function clusterActions(stateDir: string, id: string): PromptActions {
  const change = async (body: Parameters<typeof changeCluster>[2]) =>
    renderClusterChange(await changeCluster<HostdChange>(stateDir, id, body));
  const single = (what: string) => async (): Promise<string> => {
    throw new FlowmigError(`${what} (lab ${id} is a cluster lab)`);
  };
  return {
    swap: (flow) => change({ verb: 'swap', ...(flow === undefined ? {} : { flow }) }),
    migrate: (flow, node) => change({ verb: 'migrate', flow, node }),
    evacuate: (from, to) => change({ verb: 'evacuate', from, to }),
    reconcile: single(
      "nothing to reconcile: each host's daemon restates its translator from etcd after any failure",
    ),
    serve: async (nodes, port, mode) =>
      renderServe(await serveCluster(stateDir, id, { nodes, port, mode }), tcpRepairUnavailable()),
    unserve: async (nodes) => renderServeStopped(id, await unserveCluster(stateDir, id, nodes)),
    status: async () => renderClusterStatus(await clusterStatus(stateDir, id)),
    flows: async () => renderClusterFlows(await clusterStatus(stateDir, id)),
  };
}
