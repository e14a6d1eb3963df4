// Ctrl-C during a benchmark: stop at the next check and let `finally` tear the lab down.

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

  dispose(): void {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }
}
