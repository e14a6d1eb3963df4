// Starts a long-lived program inside a namespace, detached from the caller, output to a log file.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, fchmodSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { inNetns } from './runner.js';

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

/**
 * Whether `pid` is alive and its command line holds every marker (so it is the process we started).
 * A process in the middle of an exec (as `ip netns exec` hands over to the program) reads an empty
 * command line for a moment: that case is read again until the new one is in place.
 */
export async function isOurProcess(pid: number, markers: readonly string[]): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return false;
    }
    if (text !== '') return markers.every((m) => text.split('\0').includes(m));
    if (!(await isRunning(pid))) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

/** Whether `pid` exists and has not exited (a zombie waiting to be reaped counts as exited). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X' && state !== '';
  } catch {
    return false;
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. A process that exited
 * but is not reaped yet counts as gone: a detached one waits for init to reap it, which can take
 * over a second (signal 0 still reaches it meanwhile).
 */
export async function stopProcess(pid: number, graceMs = 1_000): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // gone already
    }
  };
  if (!(await isRunning(pid))) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while ((await isRunning(pid)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  if (await isRunning(pid)) signal('SIGKILL');
  while (await isRunning(pid)) await new Promise((r) => setTimeout(r, 10));
}

/**
 * PIDs of running processes (other than this one) whose command line has `marker` followed by an
 * argument that satisfies `match` (flowmig marks its agents and daemons with their lab id).
 */
export async function findByMarker(
  marker: string,
  match: (value: string) => boolean,
): Promise<number[]> {
  return (await findMarked(marker)).filter((p) => match(p.value)).map((p) => p.pid);
}

/** Every running process (other than this one) marked with `marker`: the value after it, argv. */
export async function findMarked(
  marker: string,
): Promise<{ pid: number; value: string; argv: string[] }[]> {
  const found: { pid: number; value: string; argv: string[] }[] = [];
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, 'utf8').then(
      (t) => t.split('\0'),
      () => [] as string[],
    );
    const at = argv.indexOf(marker);
    const value = at >= 0 ? argv[at + 1] : undefined;
    if (value !== undefined) found.push({ pid: Number(name), value, argv });
  }
  return found;
}

/**
 * Asks a just-started process until it answers (`probe` resolves), it exits, or `timeoutMs`
 * passes. Resolves with the answer, or rejects with the last reason there was none.
 */
export async function waitUntilAnswers<T>(
  pid: number,
  probe: () => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = new Error('no answer');
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch (error) {
      last = error;
      if (!(await isRunning(pid))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw last;
}
