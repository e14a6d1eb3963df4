// Ctrl-C during a benchmark: stop at the next check and let `finally` tear the lab down.
import { FlowmigError } from '../errors.js';

export class Interrupt {
  private hit = false;
  private readonly onSignal = () => {
    this.hit = true;
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Throws once a signal arrived. */
  check(): void {
    if (this.hit) throw new Error('interrupted');
  }

  /**
   * What a bench run that failed with `error` throws: an interruption (exit 130) when Ctrl-C
   * arrived — it reaches the programs the run started too, so a lab being built fails then —
   * else the error itself.
   */
  failure(error: unknown): Error {
    let interrupted = (error as Error).message === 'interrupted';
    try {
      this.check();
    } catch {
      interrupted = true;
    }
    if (!interrupted) return error as Error;
    return new FlowmigError('interrupted: the labs built so far are torn down', { exitCode: 130 });
  }

  dispose(): void {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }
}
