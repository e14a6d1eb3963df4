// The life of a managed helper process (the translator agent, a serve runtime, a lab's daemon):
// started detached in a namespace and recorded, waited for until it answers, stopped by PID.
import { isOurProcess, isRunning } from './find.js';
import { spawnDetached } from './spawn.js';

export interface ManagedStart<T> {
  readonly argv: readonly string[];
  /** The namespace it runs in (default: this one). */
  readonly netns?: string;
  readonly logFile: string;
  /** What its command line holds: it is stopped after a failed start only while they match. */
  readonly markers: readonly string[];
  /** Runs right after the spawn, before the wait, so a crash in between leaves the PID on record. */
  readonly record?: (pid: number) => Promise<void>;
  /** Asks it once; resolves with its answer, rejects with the reason there is none yet. */
  readonly probe: (pid: number) => Promise<T>;
  readonly timeoutMs: number;
  /** Pause between probes (default 20 ms). */
  readonly intervalMs?: number;
}

/** A started process gave no answer in time (and was stopped); the message is the last reason. */
export class NoAnswerError extends Error {
  constructor(
    readonly pid: number,
    last: unknown,
  ) {
    super(last instanceof Error ? last.message : String(last), { cause: last });
    this.name = 'NoAnswerError';
  }
}

/**
 * Starts a program detached and waits until it answers. One that does not answer within the
 * timeout (or exits first) is stopped, if it still is the process we started, and a
 * NoAnswerError with the last reason is thrown. An error of `record` is thrown as it is.
 */
export async function startManaged<T>(o: ManagedStart<T>): Promise<{ pid: number; answer: T }> {
  const pid = spawnDetached(o.argv, {
    ...(o.netns === undefined ? {} : { netns: o.netns }),
    logFile: o.logFile,
  });
  await o.record?.(pid);
  try {
    const answer = await waitUntilAnswers(pid, () => o.probe(pid), o.timeoutMs, o.intervalMs);
    return { pid, answer };
  } catch (last) {
    if (await isOurProcess(pid, o.markers)) await stopProcess(pid);
    throw new NoAnswerError(pid, last);
  }
}

/**
 * Asks a just-started process until it answers (`probe` resolves), it exits, or `timeoutMs`
 * passes. Resolves with the answer, or rejects with the last reason there was none.
 */
export async function waitUntilAnswers<T>(
  pid: number,
  probe: () => Promise<T>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = new Error('no answer');
  while (Date.now() < deadline) {
    try {
      return await probe();
    } catch (error) {
      last = error;
      if (!(await isRunning(pid))) break;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  throw last;
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
