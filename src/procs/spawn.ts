// Starts long-lived programs: detached inside a namespace with their output in a log file, or in
// the foreground on this terminal. The one module besides the runners that spawns processes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { inNetns } from '../exec/runner.js';

/**
 * Returns the program's PID (`ip netns exec` execs it, so the PID is the program's own). The
 * caller records it and later stops it by that PID after checking `isOurProcess`.
 *
 * The log is the owner's only (0600, also when an older one was wider), and the program starts
 * with umask 077, so the sockets, logs and state files it makes are its owner's only too.
 */
export function spawnDetached(
  argv: readonly string[],
  options: { netns?: string; logFile: string },
): number {
  const [program, ...args] = inNetns(argv, options.netns);
  if (program === undefined) throw new Error('empty argv');
  const log = openSync(options.logFile, 'a', 0o600);
  try {
    fchmodSync(log, 0o600);
    // A child inherits its parent's umask at fork; spawn forks synchronously, so the tighter mask
    // holds for this child only (this process's own files keep their explicit modes meanwhile).
    const umask = process.umask(0o077);
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, args, { detached: true, stdio: ['ignore', log, log] });
    } finally {
      process.umask(umask);
    }
    child.on('error', () => {}); // reported through the failed health check
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${program}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * Runs a long-lived program in the foreground, its output on this terminal, with umask 077 as
 * spawnDetached gives it; resolves with how it ended. A terminal's Ctrl-C reaches it with the
 * whole foreground group; a SIGTERM sent to this process alone is passed on to it.
 */
export async function runForeground(
  argv: readonly string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error('empty argv');
  const umask = process.umask(0o077);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(program, args, { stdio: 'inherit' });
  } finally {
    process.umask(umask);
  }
  const ignore = () => {};
  const forward = () => child.kill('SIGTERM');
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    return { code, signal };
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', forward);
  }
}
