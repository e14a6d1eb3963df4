// CPU time over a bench phase, from /proc: one process's (the daemon's) and the whole machine's,
// so a slower loaded phase can be told apart as the daemon's own work or the CPUs being taken.
import { readFile } from 'node:fs/promises';

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
  readonly process: number;
  readonly machine: { readonly busy: number; readonly total: number };
}

export async function readCpu(pid: number): Promise<CpuReading> {
  const [stat, all] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile('/proc/stat', 'utf8'),
  ]);
  return { at: performance.now(), process: processTicks(stat), machine: machineTicks(all) };
}

/** Between two readings: the process's CPU in % of one CPU, the machine's busy % of all CPUs. */
export function cpuShare(
  a: CpuReading,
  b: CpuReading,
): { process_pct: number; machine_pct: number } {
  const seconds = (b.at - a.at) / 1000;
  const total = b.machine.total - a.machine.total;
  return {
    process_pct: seconds > 0 ? ((b.process - a.process) / TICKS_PER_S / seconds) * 100 : 0,
    machine_pct: total > 0 ? ((b.machine.busy - a.machine.busy) / total) * 100 : 0,
  };
}
