// flowmig's server runtimes (`flowmig serve`) on a cluster lab's servers, on any host: started in
// each server's namespace, found and stopped by their command lines (which name the lab, the node
// and the control socket). The ingress host daemon of a flow with `tcp: migrate` finds them the
// same way when the flow moves, and moves its connections between them.
import { rm } from 'node:fs/promises';
import { InputError } from '../../errors.js';
import { clusterAddress } from '../../lab/cluster-model.js';
import { resolveCluster } from '../../lab/cluster-resolve.js';
import { stopProcess } from '../../procs/managed.js';
import {
  findRuntimes,
  type ServeMode,
  type ServerHandle,
  servePaths,
  startServer,
} from '../serve-process.js';
import { readClusterState } from './state.js';

export interface ClusterServeOptions {
  readonly port?: number | undefined;
  readonly mode?: ServeMode | undefined;
  /** Server nodes (empty: every server of the lab). */
  readonly nodes?: readonly string[] | undefined;
}

async function clusterUp(stateDir: string, id: string) {
  const state = await readClusterState(stateDir, id);
  if (!state) throw new InputError('serve', [`no cluster lab ${id} is up`]);
  return resolveCluster(state.description, { prefix: state.prefix });
}

/** Starts the runtime on the lab's server nodes (default all), replacing one already there. */
export async function serveCluster(
  stateDir: string,
  id: string,
  o: ClusterServeOptions,
): Promise<ServerHandle[]> {
  const cluster = await clusterUp(stateDir, id);
  const servers = cluster.nodes.filter((n) => n.role === 'server');
  const names = o.nodes?.length ? o.nodes : servers.map((n) => n.name);
  const problems = names
    .filter((name) => !servers.some((s) => s.name === name))
    .map((name) => `'${name}' is not a server node of lab ${id}`);
  if (problems.length) throw new InputError('serve', problems);
  const running = await findRuntimes(id);
  const started: ServerHandle[] = [];
  for (const name of names) {
    const node = servers.find((s) => s.name === name);
    const address = clusterAddress(cluster, name);
    if (!node || !address) continue;
    for (const r of running.filter((x) => x.node === name)) await stopProcess(r.pid);
    started.push(
      await startServer(
        {
          id,
          stateDir,
          netns: node.netns,
          node: name,
          address,
          port: o.port ?? 5555,
          mode: o.mode ?? 'echo',
        },
        // Nothing to record: its command line names the lab, the node and the socket.
        async () => {},
      ),
    );
  }
  return started;
}

/** Stops the lab's runtimes (default all, also on nodes the lab no longer has); how many. */
export async function unserveCluster(
  stateDir: string,
  id: string,
  nodes: readonly string[] = [],
): Promise<number> {
  const stop = (await findRuntimes(id)).filter((r) => !nodes.length || nodes.includes(r.node));
  for (const r of stop) {
    await stopProcess(r.pid);
    const files = servePaths(stateDir, id, r.node);
    await rm(files.socket, { force: true });
    await rm(files.log, { force: true });
  }
  return stop.length;
}
