// flowmig's server runtimes in a lab's server namespaces (`flowmig serve`): started, stopped, and
// asked how many connections each holds. Start and stop run with the lab's lock held.
import { InputError } from '../errors.js';
import { concreteAddress, nodeByName, servers } from '../lab/model.js';
import type { LabState } from '../state/store.js';
import { type ControlContext, labOf } from './lab-state.js';
import type { ServerStatus } from './results.js';
import {
  connectServer,
  type ServeMode,
  type ServerHandle,
  startServer,
  stopServer,
} from './serve-process.js';

export interface ServeOptions {
  readonly port?: number;
  readonly mode?: ServeMode;
  readonly nodes?: readonly string[];
}

/** Starts the runtime on server nodes (default: all), replacing one already there. */
export async function startServers(
  ctx: ControlContext,
  state: LabState,
  options: ServeOptions,
): Promise<ServerHandle[]> {
  const id = state.id;
  const lab = labOf(state);
  const port = options.port ?? 5555;
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new InputError('serve', [`bad port '${options.port}'`]);
  const names = options.nodes?.length ? options.nodes : servers(lab).map((n) => n.name);
  const problems: string[] = [];
  const targets = names.flatMap((name) => {
    const node = nodeByName(lab, name);
    const address = concreteAddress(lab, name);
    if (node?.role !== 'server' || !address) {
      problems.push(`'${name}' is not a server node of lab ${id}`);
      return [];
    }
    return [{ node, address }];
  });
  if (problems.length) throw new InputError('serve', problems);
  const started: ServerHandle[] = [];
  const record = async (h: ServerHandle) => {
    state.servers = [...(state.servers ?? []).filter((s) => s.node !== h.node), h];
    await ctx.store.write(state);
  };
  for (const { node, address } of targets) {
    const old = state.servers?.find((s) => s.node === node.name);
    if (old) await stopServer(old, id);
    const h = await startServer(
      {
        id,
        stateDir: ctx.store.dir,
        netns: node.netns,
        node: node.name,
        address,
        port,
        mode: options.mode ?? 'echo',
      },
      record,
    );
    // Recorded again with what it answered (whether it can move connections).
    await record(h);
    started.push(h);
  }
  return started;
}

/** Stops the lab's server runtimes (default: all); returns how many. */
export async function stopServers(
  ctx: ControlContext,
  state: LabState,
  nodes?: readonly string[],
): Promise<number> {
  const stop = (state.servers ?? []).filter((s) => !nodes?.length || nodes.includes(s.node));
  for (const h of stop) await stopServer(h, state.id);
  const rest = (state.servers ?? []).filter((s) => !stop.includes(s));
  state.servers = rest.length ? rest : undefined;
  await ctx.store.write(state);
  return stop.length;
}

/** The recorded runtimes, whether each answers, and the connections it holds. */
export async function serverStatus(state: LabState): Promise<ServerStatus[]> {
  const out: ServerStatus[] = [];
  for (const h of state.servers ?? []) {
    const c = await connectServer(h, state.id);
    let connections: number | undefined;
    if (typeof c !== 'string') {
      connections = await c.hello().then(
        (x) => x.connections,
        () => undefined,
      );
      c.close();
    }
    const { node, pid, address, port, mode } = h;
    out.push({ node, pid, running: typeof c !== 'string', address, port, mode, connections });
  }
  return out;
}
