// Which daemon serves a lab: recorded in its state (one daemon owns a lab), and whether the
// recorded one still runs.
import { FlowmigError } from '../errors.js';
import { isOurProcess } from '../procs/find.js';
import type { LabState } from '../state/store.js';
import { DAEMON_MARKER, runningDaemon } from './daemon-process.js';
import { type ControlContext, isAlive } from './lab-state.js';

/**
 * Records `daemon` as the lab's daemon (undefined clears it, when it is this process). Refuses
 * when another daemon of the lab still runs. Called with the lab's lock held.
 */
export async function recordDaemonIn(
  ctx: ControlContext,
  state: LabState,
  daemon: { pid: number; socket: string } | undefined,
): Promise<void> {
  const id = state.id;
  const other = state.daemon;
  if (daemon && other && other.pid !== daemon.pid && (await daemonRuns(id, other, ctx.store.dir)))
    throw new FlowmigError(
      `lab ${id} already has a daemon (pid ${other.pid}); 'flowmig daemon --restart --lab ${id}' replaces it, 'flowmig daemon --stop --lab ${id}' stops it`,
    );
  if (daemon) state.daemon = daemon;
  else if (other?.pid === process.pid) state.daemon = undefined;
  else return;
  await ctx.store.write(state);
}

/**
 * Whether the recorded daemon serves the lab: this process, a process started as its daemon, or
 * one that answers on the lab's socket as that PID (the prompt of `flowmig up`, which serves the
 * lab while it runs, carries no daemon mark on its command line).
 */
export async function daemonRuns(
  id: string,
  daemon: { readonly pid: number },
  stateDir: string,
): Promise<boolean> {
  if (daemon.pid === process.pid) return true;
  if (!isAlive(daemon.pid)) return false;
  if (await isOurProcess(daemon.pid, [DAEMON_MARKER, id])) return true;
  return (await runningDaemon(id, stateDir))?.pid === daemon.pid;
}
