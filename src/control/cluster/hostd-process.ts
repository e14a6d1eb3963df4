// Starts, finds and stops a cluster lab's host daemons: one per host, run in its translator's
// namespace, answering on its socket in the state directory.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FlowmigError } from '../../errors.js';
import { HostdClient } from '../../hostd-api/client.js';
import { HOSTD_MARKER, type HostdHello, hostdPaths } from '../../hostd-api/protocol.js';
import { findMarked, isOurProcess } from '../../procs/find.js';
import { NoAnswerError, startManaged, stopProcess } from '../../procs/managed.js';
import { withConnection } from '../../rpc/client.js';

const MAIN = fileURLToPath(new URL('../../hostd/main.js', import.meta.url));

/** The host daemon's command line; the marker, lab id and host are what `down` finds it by. */
export function hostdArgv(id: string, host: string, stateDir: string): string[] {
  return [process.execPath, MAIN, HOSTD_MARKER, id, '--host', host, '--state-dir', stateDir];
}

/** What its command line holds (checked before any signal). */
export function hostdMarkers(id: string, host: string): string[] {
  return [HOSTD_MARKER, id, '--host', host];
}

/** Asks the host daemon on `socket` hello once (rejects when none answers). */
export function helloAt(socket: string, timeoutMs = 1_000): Promise<HostdHello> {
  return withConnection(
    () => HostdClient.connect(socket, timeoutMs),
    (c) => c.request<HostdHello>({ verb: 'hello' }, 2_000),
  );
}

export interface HostdStart {
  readonly id: string;
  readonly host: string;
  /** The host's translator namespace: the daemon programs it and reaches etcd from there. */
  readonly netns: string;
  readonly stateDir: string;
  readonly timeoutMs?: number;
  /** Runs right after the spawn (the PID goes on record before the wait). */
  readonly record?: (pid: number) => Promise<void>;
}

/**
 * Starts the host's daemon detached (own process group, log 0600) through `ip netns exec` and
 * waits until it answers `hello` on its socket as that PID. One that does not answer in time is
 * stopped, and the error names its log.
 */
export async function startHostd(o: HostdStart): Promise<HostdHello> {
  const { socket, log } = hostdPaths(o.stateDir, o.id, o.host);
  try {
    const { answer } = await startManaged({
      argv: hostdArgv(o.id, o.host, o.stateDir),
      netns: o.netns,
      logFile: log,
      markers: hostdMarkers(o.id, o.host),
      ...(o.record === undefined ? {} : { record: o.record }),
      probe: async (pid) => {
        const hello = await helloAt(socket);
        if (hello.pid !== pid)
          throw new Error(`another host daemon (pid ${hello.pid}) answers there`);
        return hello;
      },
      timeoutMs: o.timeoutMs ?? 20_000,
      intervalMs: 50,
    });
    return answer;
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    // The log goes with the rollback: what it ends with is kept in the message.
    const said = await readFile(log, 'utf8').then(
      (t) => t.trim().split('\n').slice(-3).join(' | '),
      () => '',
    );
    throw new FlowmigError(
      `the host daemon of ${o.host} did not start: ${error.message}${said ? `; its log ends: ${said}` : ` (log: ${log})`}`,
      { cause: error },
    );
  }
}

/** Stops a host daemon by PID, only while that PID still runs the daemon of this lab and host. */
export async function stopHostd(id: string, host: string, pid: number): Promise<boolean> {
  if (pid === process.pid || !(await isOurProcess(pid, hostdMarkers(id, host)))) return false;
  await stopProcess(pid, 2_000);
  return true;
}

/** Running host daemons of lab `id`, found by their command lines (the state file may be lost). */
export async function findHostds(id: string): Promise<{ host: string; pid: number }[]> {
  return (await findMarked(HOSTD_MARKER))
    .filter((p) => p.value === id)
    .flatMap((p) => {
      const at = p.argv.indexOf('--host');
      const host = at >= 0 ? p.argv[at + 1] : undefined;
      return host ? [{ pid: p.pid, host }] : [];
    });
}
