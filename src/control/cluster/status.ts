// A cluster lab's status: every host as its daemon reports it (a silent daemon is shown as such),
// the cluster as etcd sees it, the flows, and the etcd members' processes.
import { z } from 'zod';
import { FlowmigError } from '../../errors.js';
import { markersOf } from '../../etcd/member.js';
import { HostdClient } from '../../hostd-api/client.js';
import { type ClusterView, type HostdStatus, hostdPaths } from '../../hostd-api/protocol.js';
import { isOurProcess } from '../../procs/find.js';
import { withConnection } from '../../rpc/client.js';
import { clusterHosts, sendFirst } from './act.js';
import { clusterStatePath, readClusterState } from './state.js';

export interface HostView {
  readonly host: string;
  readonly socket: string;
  /** Its daemon answered `status`. */
  readonly answering: boolean;
  readonly status?: HostdStatus;
  /** Why it did not answer. */
  readonly error?: string;
}

/** A flow of the table as a host daemon lists it. */
export interface ClusterFlow {
  readonly address: string;
  readonly name?: string;
  readonly initiator: string;
  readonly responder: string;
  readonly revision?: number;
}

export interface ClusterStatus {
  readonly kind: 'cluster';
  readonly id: string;
  readonly prefix: string;
  readonly engine: string;
  readonly createdAt: string;
  readonly stateFile: string;
  /** In file order. */
  readonly hosts: readonly HostView[];
  /** The cluster as etcd sees it, from the first daemon that answered. */
  readonly cluster?: ClusterView;
  readonly clusterError?: string;
  readonly flows: readonly ClusterFlow[];
  readonly flowsError?: string;
  readonly members: readonly {
    readonly name: string;
    readonly pid: number;
    readonly running: boolean;
  }[];
}

const flowSchema = z.looseObject({
  address: z.string(),
  name: z.string().optional(),
  initiator: z.string(),
  responder: z.string(),
  revision: z.number().optional(),
});
/** The `flows` verb's result: the list, or an object holding it. */
const flowsSchema = z.union([
  z.array(flowSchema),
  z.object({ flows: z.array(flowSchema) }).transform((r) => r.flows),
]);

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Asks one host daemon its status; a daemon that does not answer is a view saying why. */
async function hostView(stateDir: string, id: string, host: string): Promise<HostView> {
  const { socket } = hostdPaths(stateDir, id, host);
  try {
    const status = await withConnection(
      () => HostdClient.connect(socket, 1_000),
      (c) => c.request<HostdStatus>({ verb: 'status' }, 3_000),
    );
    return { host, socket, answering: true, status };
  } catch (error) {
    return { host, socket, answering: false, error: message(error) };
  }
}

/** The flows of cluster lab `id` as the first host daemon that answers lists them. */
export async function clusterFlows(stateDir: string, id: string): Promise<ClusterFlow[]> {
  const hosts = await clusterHosts(stateDir, id);
  const { result } = await sendFirst<unknown>(stateDir, id, hosts, { verb: 'flows' }, 10_000);
  const parsed = flowsSchema.safeParse(result);
  if (!parsed.success)
    throw new FlowmigError(`unexpected answer to 'flows': ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** The status of cluster lab `id` (its state file must be readable). */
export async function clusterStatus(stateDir: string, id: string): Promise<ClusterStatus> {
  const state = await readClusterState(stateDir, id);
  if (!state) throw new FlowmigError(`no cluster lab ${id} is up (no state file in ${stateDir})`);
  const names = state.description.hosts.map((h) => h.name);
  const hosts = await Promise.all(names.map((h) => hostView(stateDir, id, h)));
  // The cluster-wide views from the daemons that answered, host 1's first.
  const live = hosts.filter((h) => h.answering).map((h) => h.host);
  const ask = async <T>(verb: 'cluster' | 'flows'): Promise<{ value?: T; error?: string }> => {
    try {
      return { value: (await sendFirst<T>(stateDir, id, live, { verb }, 10_000)).result };
    } catch (error) {
      return { error: message(error) };
    }
  };
  const [cluster, flows] = await Promise.all([ask<ClusterView>('cluster'), ask<unknown>('flows')]);
  const parsedFlows = flows.error === undefined ? flowsSchema.safeParse(flows.value) : undefined;
  // By name: they are on record in the order their spawns returned.
  const recorded = [...state.members].sort((a, b) => a.name.localeCompare(b.name));
  const members = await Promise.all(
    recorded.map(async (m) => ({
      name: m.name,
      pid: m.pid,
      running: await isOurProcess(m.pid, markersOf({ name: m.name, token: id })),
    })),
  );
  return {
    kind: 'cluster',
    id,
    prefix: state.prefix,
    engine: state.description.engine,
    createdAt: state.createdAt,
    stateFile: clusterStatePath(stateDir, id),
    hosts,
    ...(cluster.value === undefined ? {} : { cluster: cluster.value }),
    ...(cluster.error === undefined ? {} : { clusterError: cluster.error }),
    flows: parsedFlows?.success ? parsedFlows.data : [],
    ...(flows.error !== undefined
      ? { flowsError: flows.error }
      : parsedFlows?.success === false
        ? { flowsError: `unexpected answer to 'flows': ${parsedFlows.error.issues[0]?.message}` }
        : {}),
    members,
  };
}
