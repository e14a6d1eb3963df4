// Sends a request to a cluster lab through its host daemons: the first that answers (host 1's,
// else the next), since every daemon reaches etcd, and the CLI in the root namespace does not.
import { FlowmigError } from '../../errors.js';
import { HostdClient } from '../../hostd-api/client.js';
import { type HostdRequestBody, hostdPaths } from '../../hostd-api/protocol.js';
import { readClusterState } from './state.js';

/** A change waits this long for every live translator (the host daemon's default too). */
export const CHANGE_WAIT_MS = 5_000;

/** The hosts of cluster lab `id` in file order, from its state file (a lab that is up has one). */
export async function clusterHosts(stateDir: string, id: string): Promise<string[]> {
  const state = await readClusterState(stateDir, id);
  if (!state) throw new FlowmigError(`no cluster lab ${id} is up (no state file in ${stateDir})`);
  return state.description.hosts.map((h) => h.name);
}

/**
 * Sends `body` to the first host daemon of `hosts` that accepts a connection and returns its
 * answer. A daemon that accepted the request and then failed is not asked again elsewhere: a
 * change may have been committed, and its error (with its code: exit 2 for bad input) is the
 * answer. Rejects naming every daemon tried when none answers.
 */
export async function sendFirst<T>(
  stateDir: string,
  id: string,
  hosts: readonly string[],
  body: HostdRequestBody,
  timeoutMs = 60_000,
): Promise<{ host: string; result: T }> {
  const tried: string[] = [];
  for (const host of hosts) {
    const { socket } = hostdPaths(stateDir, id, host);
    const client = await HostdClient.connect(socket, 1_000).catch((error: unknown) => {
      tried.push(`${host} (${(error as Error).message})`);
      return undefined;
    });
    if (!client) continue;
    try {
      return { host, result: await client.request<T>(body, timeoutMs) };
    } finally {
      client.close();
    }
  }
  throw new FlowmigError(
    `no host daemon of cluster lab ${id} answers: ${tried.join('; ') || 'it has no host'}; 'flowmig status --lab ${id}' shows its hosts`,
  );
}

/** A change (swap, migrate, evacuate) on cluster lab `id`; its wait for the hosts bounded. */
export async function changeCluster<T>(
  stateDir: string,
  id: string,
  body: HostdRequestBody,
): Promise<T> {
  const hosts = await clusterHosts(stateDir, id);
  const waitMs = 'waitMs' in body && body.waitMs !== undefined ? body.waitMs : CHANGE_WAIT_MS;
  return (await sendFirst<T>(stateDir, id, hosts, body, waitMs + 10_000)).result;
}
