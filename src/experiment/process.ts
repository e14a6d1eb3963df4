// Background programs inside namespaces (ping, ncat, observers): started once, stopped by PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { inNetns } from '../exec/runner.js';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const running = new Set<Background>();
let exitHookInstalled = false;

/** Last resort: a flowmig process that exits leaves none of its background programs behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const b of running) b.killNow();
  });
}

const MAX_CAPTURE = 1 << 20;
/** How long after its exit a program's pipes may stay open (held by a process it left behind). */
const EXIT_GRACE_MS = 1_000;

/**
 * A program started in a namespace with `ip netns exec`, which execs it: the PID we hold is the
 * program's own, so stopping it never signals anything we did not start.
 */
export class Background {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  private out = '';
  private err = '';
  private done = false;
  /** It has exited (and may be reaped): its PID is no longer ours to signal. */
  private gone = false;
  private readonly child: ChildProcess;
  /** Stdout after its last newline, and who waits for the next whole line (see `request`). */
  private partial = '';
  private readonly lineWaiters: ((line: string | Error) => void)[] = [];

  /** Told each piece of stdout as it comes (see onStdout). */
  private stdoutListener: ((text: string) => void) | undefined;

  private constructor(
    readonly argv: readonly string[],
    readonly netns: string | undefined,
    withStdin: boolean,
    stdoutFile: string | undefined,
  ) {
    const [program, ...args] = inNetns(argv, netns);
    if (program === undefined) throw new Error('empty argv');
    // A program with a lot to say (ping's line per reply) writes straight to a file.
    const fd = stdoutFile === undefined ? undefined : openSync(stdoutFile, 'w');
    try {
      this.child = spawn(program, args, {
        stdio: [withStdin ? 'pipe' : 'ignore', fd ?? 'pipe', 'pipe'],
        // Its own process group, so a terminal's Ctrl-C (sent to the whole foreground group)
        // reaches only flowmig, which then stops its programs in order (ping first, captures
        // last) and keeps what they measured.
        detached: true,
      });
    } finally {
      if (fd !== undefined) closeSync(fd); // the child has its own copy
    }
    if (this.child.pid === undefined) {
      // spawn failed synchronously-ish; 'error' follows. Use -1 so stop() is a no-op.
      this.pid = -1;
    } else this.pid = this.child.pid;
    this.child.stdout?.on('data', (b: Buffer) => {
      const text = b.toString('utf8');
      this.stdoutListener?.(text);
      if (this.out.length < MAX_CAPTURE) this.out += text;
      if (this.lineWaiters.length === 0) return;
      this.partial += text;
      for (let at = this.partial.indexOf('\n'); at >= 0; at = this.partial.indexOf('\n')) {
        const line = this.partial.slice(0, at);
        this.partial = this.partial.slice(at + 1);
        this.lineWaiters.shift()?.(line);
      }
    });
    this.child.stderr?.on('data', (b: Buffer) => {
      if (this.err.length < MAX_CAPTURE) this.err += b.toString('utf8');
    });
    this.child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      const finish = (exit: Exit) => {
        if (this.done) return;
        this.done = true;
        running.delete(this);
        const why = new Error(`${argv[0]} ended: ${this.err.trim().split('\n').pop() ?? ''}`);
        for (const w of this.lineWaiters.splice(0)) w(why);
        resolve(exit);
      };
      this.child.on('error', (e) => {
        this.err += `${e.message}\n`;
        finish({ code: null, signal: null });
      });
      this.child.on('close', (code, signal) => finish({ code, signal }));
      // Once it has exited its PID is free for the kernel to give to another process: it is
      // never signalled again. Its output is read to the end ('close'), unless a process it left
      // behind holds its pipes open: then it counts as ended a moment later all the same.
      this.child.on('exit', (code, signal) => {
        this.gone = true;
        setTimeout(() => {
          this.child.stdout?.destroy();
          this.child.stderr?.destroy();
          finish({ code, signal });
        }, EXIT_GRACE_MS).unref();
      });
    });
    running.add(this);
    installExitHook();
  }

  static start(
    argv: readonly string[],
    options: { netns?: string; stdin?: boolean; stdoutFile?: string } = {},
  ): Background {
    return new Background(argv, options.netns, options.stdin ?? false, options.stdoutFile);
  }

  /** Calls `listener` with each piece of stdout from now on (all of it, past MAX_CAPTURE too). */
  onStdout(listener: (text: string) => void): void {
    this.stdoutListener = listener;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Whether it has not ended yet (ended: it exited and its output is read to the end). */
  get running(): boolean {
    return !this.done;
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  endInput(): void {
    this.child.stdin?.end();
  }

  /**
   * Writes one line to a line-oriented helper program and resolves with the next whole line it
   * prints; rejects if it ends or takes longer than `timeoutMs`.
   */
  request(line: string, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.lineWaiters.indexOf(got);
        if (at >= 0) this.lineWaiters.splice(at, 1);
        reject(new Error(`${this.argv[0]} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const got = (answer: string | Error) => {
        clearTimeout(timer);
        if (answer instanceof Error) reject(answer);
        else resolve(answer);
      };
      if (this.done) {
        clearTimeout(timer);
        reject(new Error(`${this.argv[0]} has ended: ${this.err.trim().split('\n').pop() ?? ''}`));
        return;
      }
      this.lineWaiters.push(got);
      this.child.stdin?.write(`${line}\n`);
    });
  }

  /** Waits until stdout contains `text` (or the program ends, or the time runs out). */
  async waitFor(text: string | RegExp, timeoutMs: number): Promise<boolean> {
    const hit = () => (typeof text === 'string' ? this.out.includes(text) : text.test(this.out));
    const deadline = Date.now() + timeoutMs;
    while (!hit() && this.running && Date.now() < deadline) await sleep(10);
    return hit();
  }

  /** Sends `signal`, then SIGKILL if the program has not ended after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<Exit> {
    if (this.done) return this.exited;
    this.signal(signal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): void {
    if (this.done || this.gone || this.pid <= 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Stops all given programs (in parallel), ignoring ones that already ended. */
export async function stopAll(list: readonly (Background | undefined)[]): Promise<void> {
  await Promise.all(list.map((b) => b?.stop()));
}
