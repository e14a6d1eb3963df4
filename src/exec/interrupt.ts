// Ctrl-C and SIGTERM as an AbortSignal: a long run checks it between its stages and ends cleanly.
import { FlowmigError } from '../errors.js';

/** The exit code of a command ended by an interrupt (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/** A run that was interrupted before it produced anything worth keeping. */
export class InterruptedError extends FlowmigError {
  constructor(message: string) {
    super(message, { exitCode: INTERRUPTED_EXIT_CODE });
    this.name = 'InterruptedError';
  }
}

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Which signal arrived first (undefined: none yet). */
  readonly by: NodeJS.Signals | undefined;
  /** Stops listening; the process's default handling of the signals comes back. */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM for as long as a run lasts. The first one aborts the signal (and
 * calls `onFirst`); later ones change nothing, so a second Ctrl-C does not cut the teardown short.
 * The programs a run starts live in their own process groups (see ProcessRunner, Background), so a
 * terminal's Ctrl-C, which goes to the whole foreground group, reaches only this process.
 */
export function listenForInterrupt(onFirst?: (signal: NodeJS.Signals) => void): Interrupt {
  const controller = new AbortController();
  let by: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (by !== undefined) return;
    by = signal;
    onFirst?.(signal);
    controller.abort(new InterruptedError(`interrupted by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get by() {
      return by;
    },
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleepUnless(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
