// CPU time over a bench phase, from /proc: one process's (the daemon's) and the whole machine's,
// so a slower loaded phase can be told apart as the daemon's own work or the CPUs being taken.
import { readdir, readFile } from 'node:fs/promises';

/**
 * The kernel reports /proc times in USER_HZ ticks, which is 100 on every Linux architecture
 * Node runs on (`getconf CLK_TCK`); the ABI fixes it, whatever HZ the kernel was built with.
 */
const TICKS_PER_S = 100;

/** utime + stime of /proc/<pid>/stat, in ticks (the fields after the command, which may hold spaces). */
export function processTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After ')': state is field 3; utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error(`unexpected /proc/<pid>/stat: ${stat.slice(0, 80)}`);
  return utime + stime;
}

/**
 * utime + stime of `root` and every descendant of it, from the /proc/<pid>/stat texts of all
 * processes: what a browser and its helpers use together.
 */
export function treeTicks(stats: readonly string[], root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const stat of stats) {
    const pid = Number(stat.slice(0, stat.indexOf(' ')));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isFinite(pid) || !Number.isFinite(ppid)) continue;
    parent.set(pid, ppid);
    ticks.set(pid, processTicks(stat));
  }
  let sum = ticks.get(root) ?? 0;
  for (const [pid, t] of ticks) {
    // Walk up to init; the chain is short (a browser's helpers are two deep).
    for (let p = parent.get(pid); p !== undefined && p > 0; p = parent.get(p))
      if (p === root) {
        sum += t;
        break;
      }
  }
  return sum;
}

/** PIDs of this process's children whose command name (/proc/<pid>/stat's comm) is `comm`. */
export async function childrenNamed(comm: string): Promise<number[]> {
  return (await allStats())
    .filter((t) => {
      const ppid = Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === process.pid && t.slice(t.indexOf('(') + 1, t.lastIndexOf(')')) === comm;
    })
    .map((t) => Number(t.slice(0, t.indexOf(' '))));
}

/** /proc/<pid>/stat of every process now (those that end meanwhile are skipped). */
async function allStats(): Promise<string[]> {
  const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const texts = await Promise.all(
    names.map((n) => readFile(`/proc/${n}/stat`, 'utf8').catch(() => '')),
  );
  return texts.filter((t) => t !== '');
}

/** The first line of /proc/stat: ticks busy (all but idle and iowait) and in all, every CPU together. */
export function machineTicks(procStat: string): { busy: number; total: number } {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  const v = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 5 || v.some((x) => !Number.isFinite(x)))
    throw new Error(`unexpected /proc/stat: ${line ?? procStat.slice(0, 80)}`);
  // guest and guest_nice (9th, 10th) are already counted in user and nice.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuReading {
  readonly at: number;
  /** Each process's asked for, in order (0 for one that is gone). */
  readonly processes: readonly number[];
  /** The process tree asked for (a root and its descendants) together. */
  readonly tree: number;
  readonly machine: { readonly busy: number; readonly total: number };
}

/** The CPU ticks of each of `pids`, of the tree under `root` (0: none), and of the machine, now. */
export async function readCpu(pids: readonly number[], root: number): Promise<CpuReading> {
  const [all, stats] = await Promise.all([readFile('/proc/stat', 'utf8'), allStats()]);
  const byPid = new Map(stats.map((t) => [Number(t.slice(0, t.indexOf(' '))), t]));
  return {
    at: performance.now(),
    processes: pids.map((pid) => {
      const stat = byPid.get(pid);
      return stat === undefined ? 0 : processTicks(stat);
    }),
    tree: root > 0 ? treeTicks(stats, root) : 0,
    machine: machineTicks(all),
  };
}

/**
 * Between two readings: each process's and the tree's CPU in % of one CPU, the machine's busy %
 * of all CPUs. Processes that ended in between are not counted (none do in a phase).
 */
export function cpuShare(
  a: CpuReading,
  b: CpuReading,
): { processes_pct: number[]; tree_pct: number; machine_pct: number } {
  const seconds = (b.at - a.at) / 1000;
  const total = b.machine.total - a.machine.total;
  const pct = (ticks: number) => (seconds > 0 ? (ticks / TICKS_PER_S / seconds) * 100 : 0);
  return {
    processes_pct: b.processes.map((t, i) => pct(Math.max(0, t - (a.processes[i] ?? 0)))),
    tree_pct: pct(Math.max(0, b.tree - a.tree)),
    machine_pct: total > 0 ? ((b.machine.busy - a.machine.busy) / total) * 100 : 0,
  };
}
