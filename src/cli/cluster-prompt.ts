// The prompt's actions on a cluster lab: changes go to its host daemons (one etcd transaction
// each, answered once every live translator applied it), status and flows are the cluster's.
// The host daemons keep their translators in line with the table themselves, and live TCP runs on
// single-host labs only: reconcile and serve say so.
import { changeCluster } from '../control/cluster/act.js';
import { clusterStatus } from '../control/cluster/status.js';
import { FlowmigError } from '../errors.js';
import type { HostdChange } from '../hostd-api/protocol.js';
import { renderClusterChange, renderClusterFlows, renderClusterStatus } from './cluster.js';
import type { PromptActions } from './prompt.js';

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
    serve: single(
      "serve: flowmig's TCP server runtime (live TCP migration) runs on single-host labs only",
    ),
    unserve: single("serve --stop: flowmig's TCP server runtime runs on single-host labs only"),
    status: async () => renderClusterStatus(await clusterStatus(stateDir, id)),
    flows: async () => renderClusterFlows(await clusterStatus(stateDir, id)),
  };
}
