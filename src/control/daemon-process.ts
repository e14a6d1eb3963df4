// Starts, finds and stops a lab's daemon (the process that owns the lab and serves its local API).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DaemonClient } from '../daemon-api/client.js';
import type { HelloReply } from '../daemon-api/protocol.js';
import { FlowmigError } from '../errors.js';
import { findByMarker, isOurProcess } from '../procs/find.js';
import { NoAnswerError, startManaged, stopProcess } from '../procs/managed.js';
import { runForeground } from '../procs/spawn.js';
import { withConnection } from '../rpc/client.js';
import type { LockLender } from '../state/lock.js';
import type { StateStore } from '../state/store.js';

export const DAEMON_MARKER = '--flowmig-daemon';
const MAIN = fileURLToPath(new URL('../daemon/main.js', import.meta.url));

/** The daemon's files: its socket, its log, and its HTTP bearer token (0600, while it serves HTTP). */
export function daemonPaths(
  stateDir: string,
  id: string,
): { socket: string; log: string; token: string } {
  return {
    socket: `${stateDir}/${id}.sock`,
    log: `${stateDir}/${id}.daemon.log`,
    token: `${stateDir}/${id}.token`,
  };
}

export interface DaemonOptions {
  /** Also serve the API over HTTP on 127.0.0.1:httpPort (0: any free port). */
  readonly httpPort?: number;
  /** The address the HTTP listener binds (default 127.0.0.1). */
  readonly listen?: string;
}

function daemonArgv(id: string, stateDir: string, options: DaemonOptions): string[] {
  const http = options.httpPort === undefined ? [] : ['--http', String(options.httpPort)];
  if (options.listen !== undefined) http.push('--listen', options.listen);
  return [process.execPath, MAIN, DAEMON_MARKER, id, '--state-dir', stateDir, ...http];
}

/** The daemon answering on the lab's socket now, or undefined when none answers. */
export async function runningDaemon(
  id: string,
  stateDir: string,
  timeoutMs = 1_000,
): Promise<HelloReply | undefined> {
  return withConnection(
    () => DaemonClient.connect(daemonPaths(stateDir, id).socket, timeoutMs),
    (c) => c.request<HelloReply>({ verb: 'hello' }, 2_000),
  ).catch(() => undefined);
}

/**
 * Borrows a lab's lock from its daemon, which holds it while it runs (see StateStore.hold): the
 * daemon releases it after its changes under way and takes it back once the connection that asked
 * is closed (giveBack, or this process's exit). Undefined when no daemon serves the lab here.
 */
export function daemonLender(stateDir: string): LockLender {
  return async (id) => {
    const socket = daemonPaths(stateDir, id).socket;
    if (!existsSync(socket)) return undefined;
    const c = await DaemonClient.connect(socket, 1_000);
    try {
      await c.request({ verb: 'lend' });
    } catch (error) {
      c.close();
      throw error;
    }
    return { giveBack: () => c.close() };
  };
}

/** Refuses to start a second daemon for a lab, saying how to replace or stop the one it has. */
async function refuseIfServed(id: string, stateDir: string): Promise<void> {
  const hello = await runningDaemon(id, stateDir);
  if (hello)
    throw new FlowmigError(
      `lab ${id} already has a daemon (pid ${hello.pid}); 'flowmig daemon --restart --lab ${id} [--http PORT] [--detach]' replaces it, 'flowmig daemon --stop --lab ${id}' stops it`,
    );
}

/**
 * Starts the lab's daemon in the background and waits until it answers on its socket (and, with
 * `httpPort`, until its HTTP API listens too). Refused when the lab already has a daemon.
 */
export async function startDaemon(
  id: string,
  stateDir: string,
  options: DaemonOptions & { timeoutMs?: number } = {},
): Promise<HelloReply> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const { socket, log } = daemonPaths(stateDir, id);
  await refuseIfServed(id, stateDir);
  try {
    const { answer } = await startManaged({
      argv: daemonArgv(id, stateDir, options),
      logFile: log,
      markers: [DAEMON_MARKER, id],
      probe: async (pid) => {
        const hello = await withConnection(
          () => DaemonClient.connect(socket, 1_000),
          (c) => c.request<HelloReply>({ verb: 'hello' }, 2_000),
        );
        if (hello.pid !== pid) throw new Error(`another daemon (pid ${hello.pid}) answers there`);
        // The HTTP listener opens just after the socket's: its URL is in `hello` once it does.
        if (options.httpPort !== undefined && !hello.http)
          throw new Error('its HTTP API does not listen yet');
        return hello;
      },
      timeoutMs,
      intervalMs: 50,
    });
    return answer;
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    throw new FlowmigError(`the daemon of lab ${id} did not start: ${error.message} (log: ${log})`);
  }
}

/**
 * Runs the lab's daemon in the foreground: a child process with its output on this terminal,
 * marked like a background daemon, so `flowmig daemon --stop` and `flowmig down` find it by its
 * command line. Resolves with its exit code once it ends.
 */
export async function runDaemon(
  id: string,
  stateDir: string,
  options: DaemonOptions = {},
): Promise<number> {
  await refuseIfServed(id, stateDir);
  const { code, signal } = await runForeground(daemonArgv(id, stateDir, options));
  return code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1);
}

/** Stops the lab's daemon by its recorded PID, if that PID still runs our daemon for this lab. */
export async function stopDaemon(id: string, pid: number, graceMs?: number): Promise<void> {
  if (pid !== process.pid && (await isOurProcess(pid, [DAEMON_MARKER, id])))
    await stopProcess(pid, graceMs);
}

/** What `stopLabDaemon` did: the PIDs of the daemons it stopped (empty: none ran). */
export interface DaemonStopResult {
  readonly lab: string;
  readonly stopped: readonly number[];
}

/**
 * Stops the lab's daemon and leaves the lab up (`flowmig daemon --stop`). The daemon is found by
 * what answers on the lab's socket, the state's record and the command lines of running
 * processes; only processes started as this lab's daemon are signalled. Refused when what serves
 * the lab is something else (the prompt of `flowmig up`, which ends with its session).
 */
export async function stopLabDaemon(
  store: StateStore,
  id: string,
  graceMs = 5_000,
): Promise<DaemonStopResult> {
  const hello = await runningDaemon(id, store.dir);
  const recorded = (await store.read(id))?.daemon?.pid;
  const pids = new Set<number>([...(await findByMarker(DAEMON_MARKER, (x) => x === id))]);
  for (const pid of [hello?.pid, recorded]) {
    if (pid === undefined) continue;
    if (await isOurProcess(pid, [DAEMON_MARKER, id])) pids.add(pid);
    else if (pid === hello?.pid)
      throw new FlowmigError(
        `lab ${id} is served by pid ${pid}, which is not a daemon 'flowmig daemon' started (the prompt of 'flowmig up' serves its lab until it ends): end it there`,
      );
  }
  pids.delete(process.pid);
  // SIGTERM first: the daemon closes its socket and HTTP listener, removes its token file and
  // clears its record; one that does not end within `graceMs` is killed and cleaned up after.
  for (const pid of pids) await stopDaemon(id, pid, graceMs);
  const files = daemonPaths(store.dir, id);
  if (pids.size > 0 && !(await runningDaemon(id, store.dir, 500))) {
    await rm(files.socket, { force: true });
    await rm(files.token, { force: true });
  }
  return { lab: id, stopped: [...pids].sort((a, b) => a - b) };
}

/** PIDs of running daemons whose lab id satisfies `match` (when the state file is gone). */
export function findDaemonsWhere(match: (id: string) => boolean): Promise<number[]> {
  return findByMarker(DAEMON_MARKER, match);
}
