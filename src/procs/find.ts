// Tells flowmig's processes from /proc: whether a PID runs, whether it is the one we started (its
// command line holds our markers), and every process marked with a marker.
import { readdir, readFile } from 'node:fs/promises';

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
