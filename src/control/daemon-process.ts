// Starts, finds and stops a lab's daemon (the process that owns the lab and serves its local API).
import { fileURLToPath } from 'node:url';
import { DaemonClient } from '../daemon/client.js';
import type { HelloReply } from '../daemon/protocol.js';
import { FlowmigError } from '../errors.js';
import {
  findByMarker,
  isOurProcess,
  isRunning,
  spawnDetached,
  stopProcess,
} from '../exec/daemon.js';

export const DAEMON_MARKER = '--flowmig-daemon';
const MAIN = fileURLToPath(new URL('../daemon/main.js', import.meta.url));

export function daemonPaths(stateDir: string, id: string): { socket: string; log: string } {
  return { socket: `${stateDir}/${id}.sock`, log: `${stateDir}/${id}.daemon.log` };
}

/** Starts the lab's daemon in the background and waits until it answers on its socket. */
export async function startDaemon(
  id: string,
  stateDir: string,
  options: { timeoutMs?: number; httpPort?: number } = {},
): Promise<HelloReply> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const { socket, log } = daemonPaths(stateDir, id);
  const http = options.httpPort === undefined ? [] : ['--http', String(options.httpPort)];
  const argv = [process.execPath, MAIN, DAEMON_MARKER, id, '--state-dir', stateDir, ...http];
  const pid = spawnDetached(argv, { logFile: log });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const c = await DaemonClient.connect(socket, 1_000);
      try {
        const hello = await c.request<HelloReply>({ verb: 'hello' }, 2_000);
        if (hello.pid === pid) return hello;
        last = `another daemon (pid ${hello.pid}) answers there`;
      } finally {
        c.close();
      }
    } catch (error) {
      last = (error as Error).message;
    }
    if (!(await isRunning(pid))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (await isOurProcess(pid, [DAEMON_MARKER, id])) await stopProcess(pid);
  throw new FlowmigError(`the daemon of lab ${id} did not start: ${last} (log: ${log})`);
}

/** Stops the lab's daemon by its recorded PID, if that PID still runs our daemon for this lab. */
export async function stopDaemon(id: string, pid: number): Promise<void> {
  if (pid !== process.pid && (await isOurProcess(pid, [DAEMON_MARKER, id]))) await stopProcess(pid);
}

/** PIDs of running daemons whose lab id satisfies `match` (when the state file is gone). */
export function findDaemonsWhere(match: (id: string) => boolean): Promise<number[]> {
  return findByMarker(DAEMON_MARKER, match);
}
