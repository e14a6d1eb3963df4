// The programs a run starts: each under a name (its line in run.json's `tools`), all stopped by
// PID at the end, also on failure; and the wait for a program's ready line.
import { Background, sleep, stopAll } from './process.js';

export type StartOptions = Parameters<typeof Background.start>[1];

export class Launcher {
  /** How each program was started, by name (run.json's `tools`). */
  readonly tools: Record<string, string> = {};
  private readonly procs: Background[] = [];

  start(name: string, argv: string[], options: StartOptions): Background {
    const p = Background.start(argv, options);
    this.procs.push(p);
    this.tools[name] = `ip netns exec ${options?.netns ?? '-'} ${argv.join(' ')}`;
    return p;
  }

  /** Stops every program started here that still runs. */
  stopAll(): Promise<void> {
    return stopAll(this.procs);
  }
}

/** Waits for a program's ready line; a program that ends first or stays silent is an error. */
export async function ready(
  p: Background,
  line: RegExp,
  stream: 'stdout' | 'stderr',
  what: string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (line.test(stream === 'stdout' ? p.stdout : p.stderr)) return;
    if (!p.running) break;
    await sleep(10);
  }
  throw new Error(`${what} did not start: ${p.stderr.trim().split('\n').pop() ?? 'no message'}`);
}
