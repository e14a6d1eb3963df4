// Starts, finds and stops a lab's server runtimes (`flowmig serve`: one per server namespace).
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { findByMarker, findMarked, isOurProcess } from '../procs/find.js';
import { NoAnswerError, startManaged, stopProcess } from '../procs/managed.js';
import { withConnection } from '../rpc/client.js';
import { ServeClient } from '../serve/client.js';

export const SERVE_MODES = ['echo', 'stream'] as const;
export type ServeMode = (typeof SERVE_MODES)[number];

export interface ServerHandle {
  readonly node: string;
  readonly pid: number;
  readonly socket: string;
  readonly log: string;
  readonly address: string;
  readonly port: number;
  readonly mode: ServeMode;
  /** Why it cannot checkpoint or restore connections (the addon is missing); else absent. */
  readonly repairUnavailable?: string;
}

const MAIN = fileURLToPath(new URL('../serve/main.js', import.meta.url));
/** Marks a runtime's command line with its lab id (see findByMarker). */
export const SERVE_MARKER = '--flowmig-serve';

export function servePaths(stateDir: string, id: string, node: string) {
  return {
    socket: `${stateDir}/${id}.serve.${node}.sock`,
    log: `${stateDir}/${id}.serve.${node}.log`,
  };
}

/**
 * Starts the runtime in `netns` and waits until its control socket answers. `record` runs right
 * after the spawn, so a crash in between still leaves the PID on record.
 */
export async function startServer(
  init: {
    id: string;
    stateDir: string;
    netns: string;
    node: string;
    address: string;
    port: number;
    mode: ServeMode;
  },
  record: (h: ServerHandle) => Promise<void>,
  timeoutMs = 5_000,
): Promise<ServerHandle> {
  const { socket, log } = servePaths(init.stateDir, init.id, init.node);
  await rm(socket, { force: true });
  const argv = [
    process.execPath,
    MAIN,
    SERVE_MARKER,
    init.id,
    '--node',
    init.node,
    '--address',
    init.address,
    '--port',
    String(init.port),
    '--mode',
    init.mode,
    '--control',
    socket,
  ];
  const handle = (pid: number): ServerHandle => ({
    node: init.node,
    pid,
    socket,
    log,
    address: init.address,
    port: init.port,
    mode: init.mode,
  });
  try {
    const { pid, answer: hello } = await startManaged({
      argv,
      netns: init.netns,
      logFile: log,
      markers: [SERVE_MARKER, init.id, socket],
      record: (pid) => record(handle(pid)),
      probe: () =>
        withConnection(
          () => ServeClient.connect(socket, 500),
          (c) => c.hello(),
        ),
      timeoutMs,
    });
    // Whether it can move connections does not change while it runs: asked once, here.
    return hello.repairUnavailable === undefined
      ? handle(pid)
      : { ...handle(pid), repairUnavailable: hello.repairUnavailable };
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    await rm(socket, { force: true });
    throw new Error(`flowmig serve did not start on ${init.node}: ${error.message} (log: ${log})`);
  }
}

export async function stopServer(h: ServerHandle, id: string): Promise<void> {
  if (await isOurProcess(h.pid, [SERVE_MARKER, id, h.socket])) await stopProcess(h.pid);
  await rm(h.socket, { force: true });
}

/** A connection to a running runtime, or the reason there is none. */
export async function connectServer(h: ServerHandle, id: string): Promise<ServeClient | string> {
  if (!(await isOurProcess(h.pid, [SERVE_MARKER, id])))
    return `flowmig serve on ${h.node} (pid ${h.pid}) is not running`;
  try {
    return await ServeClient.connect(h.socket, 1_000);
  } catch (error) {
    return `flowmig serve on ${h.node} (pid ${h.pid}) does not answer: ${(error as Error).message}`;
  }
}

/** A running runtime of a lab as its command line shows it (a cluster lab keeps no record). */
export interface FoundRuntime {
  readonly node: string;
  readonly pid: number;
  readonly socket: string;
}

/** The runtimes of lab `id` that run, from /proc: each one's node and control socket. */
export async function findRuntimes(id: string): Promise<FoundRuntime[]> {
  const after = (argv: readonly string[], flag: string) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  return (await findMarked(SERVE_MARKER)).flatMap(({ pid, value, argv }) => {
    const node = after(argv, '--node');
    const socket = after(argv, '--control');
    return value === id && node && socket ? [{ node, pid, socket }] : [];
  });
}

/** PIDs of running runtimes whose lab id satisfies `match`, found from /proc. */
export function findServersWhere(match: (id: string) => boolean): Promise<number[]> {
  return findByMarker(SERVE_MARKER, match);
}

/** Stops every runtime of lab `id`: the recorded ones and any other the kernel still runs. */
export async function stopAllServers(
  id: string,
  recorded: readonly ServerHandle[] | undefined,
): Promise<void> {
  for (const h of recorded ?? []) await stopServer(h, id);
  for (const pid of await findServersWhere((x) => x === id)) await stopProcess(pid);
}
