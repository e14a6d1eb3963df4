// Starts, finds, waits for and stops etcd members as flowmig's managed processes (src/procs).
import { chmod, mkdir } from 'node:fs/promises';
import { FlowmigError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { findMarked, isOurProcess, isRunning } from '../procs/find.js';
import { NoAnswerError, startManaged, stopProcess } from '../procs/managed.js';
import { ETCD_MARKER, type EtcdMember, logFileOf, markersOf, memberArgv } from './member.js';

export interface RunningMember {
  readonly pid: number;
  readonly name: string;
  readonly token: string;
  readonly log: string;
}

export interface ProbeOptions {
  /**
   * Runs `etcdctl` inside the member's namespace when it has one: its client URLs (127.0.0.1 in
   * there) need not be reachable from this namespace. Without a namespace, HTTP from here.
   */
  readonly runner?: Runner;
  readonly netns?: string;
}

/**
 * Starts a member detached (own process group, log 0600, in its namespace when it names one) and
 * waits until it serves clients. A member of a cluster being formed serves before the cluster has
 * a leader: start every member, then `waitHealthy`. `record` runs right after the spawn.
 */
export async function startMember(
  m: EtcdMember,
  o: ProbeOptions & { timeoutMs?: number; record?: (pid: number) => Promise<void> } = {},
): Promise<RunningMember> {
  const argv = memberArgv(m);
  // etcd refuses a data dir wider than 0700; its parent holds the log, so it is private too.
  await mkdir(m.dir, { recursive: true, mode: 0o700 });
  await chmod(m.dir, 0o700);
  const log = logFileOf(m);
  const url = m.clientUrls[0] ?? '';
  const probe = { ...o, ...(m.netns === undefined ? {} : { netns: m.netns }) };
  try {
    const { pid } = await startManaged({
      argv,
      ...(m.netns === undefined ? {} : { netns: m.netns }),
      logFile: log,
      markers: markersOf(m),
      ...(o.record === undefined ? {} : { record: o.record }),
      probe: () => probeMember(url, 'serving', probe),
      timeoutMs: o.timeoutMs ?? 10_000,
      intervalMs: 50,
    });
    return { pid, name: m.name, token: m.token, log };
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    throw new FlowmigError(`etcd member ${m.name} did not start: ${error.message} (log: ${log})`, {
      cause: error,
    });
  }
}

/**
 * Asks a member once: `serving` (it answers at all: /version, or `etcdctl endpoint status`, which
 * a member without quorum answers too) or `healthy` (/health: it has a leader and a quorum read
 * went through). Resolves, or rejects with the reason.
 */
export async function probeMember(
  clientUrl: string,
  what: 'serving' | 'healthy',
  o: ProbeOptions & { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 1_000;
  if (o.netns !== undefined) {
    if (o.runner === undefined) throw new Error('probing a member in a namespace needs a runner');
    const t = `${timeoutMs}ms`;
    await o.runner.run(
      [
        'etcdctl',
        '--endpoints',
        clientUrl,
        '--dial-timeout',
        t,
        '--command-timeout',
        t,
        'endpoint',
        what === 'serving' ? 'status' : 'health',
      ],
      { netns: o.netns, timeoutMs: timeoutMs + 1_000 },
    );
    return;
  }
  const path = what === 'serving' ? '/version' : '/health';
  const res = await fetch(`${clientUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  if (!res.ok) throw new Error(`${clientUrl}${path}: HTTP ${res.status} ${body.trim()}`);
  if (what === 'healthy' && !/"health"\s*:\s*"true"/.test(body)) {
    throw new Error(`${clientUrl}${path}: ${body.trim()}`);
  }
}

/** Waits until one of `clientUrls` reports the cluster healthy (a leader and a quorum). */
export async function waitHealthy(
  clientUrls: readonly string[],
  o: ProbeOptions & { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 10_000);
  let last: unknown = new Error('no client URL');
  while (Date.now() < deadline) {
    for (const url of clientUrls) {
      try {
        return await probeMember(url, 'healthy', { ...o, timeoutMs: 1_000 });
      } catch (error) {
        last = error;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new FlowmigError(
    `etcd at ${clientUrls.join(',')} is not healthy: ${(last as Error).message}`,
    { cause: last },
  );
}

/** SIGTERM (then SIGKILL) the member, only while its PID still runs that member. */
export async function stopMember(r: RunningMember): Promise<void> {
  if (await isOurProcess(r.pid, markersOf(r))) await stopProcess(r.pid);
}

/**
 * SIGKILL, as a crash would end it (fault tests); resolves when it is gone. Only while its PID
 * still runs that member.
 */
export async function killMember(r: RunningMember): Promise<void> {
  if (!(await isOurProcess(r.pid, markersOf(r)))) return;
  process.kill(r.pid, 'SIGKILL');
  while (await isRunning(r.pid)) await new Promise((res) => setTimeout(res, 10));
}

/** Running members of cluster `token` found from /proc (for `down` after a lost state file). */
export async function findMembers(token: string): Promise<RunningMember[]> {
  return (await findMarked(ETCD_MARKER))
    .filter((p) => p.value === token && p.argv[0]?.endsWith('etcd'))
    .map((p) => {
      const at = p.argv.indexOf('--name');
      const dataDir = p.argv[p.argv.indexOf('--data-dir') + 1] ?? '';
      return {
        pid: p.pid,
        name: at >= 0 ? (p.argv[at + 1] ?? '') : '',
        token,
        log: dataDir.replace(/\.etcd$/, '.log'),
      };
    });
}
