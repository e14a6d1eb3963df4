// The one way flowmig runs programs: argument vectors, namespace as a field, typed failures.
import { spawn } from 'node:child_process';
import { CommandError } from '../errors.js';
import type { Transaction } from '../nft/transaction.js';

export interface RunOptions {
  /** Run inside this network namespace (`ip -n` for ip itself, `ip netns exec` otherwise). */
  readonly netns?: string | undefined;
  readonly stdin?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /** Exit codes that are not failures (default: only 0). */
  readonly okExitCodes?: readonly number[] | undefined;
  /** The typed transaction `stdin` renders (nft): programs read the text, a fake kernel this. */
  readonly nft?: Transaction | undefined;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface Runner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** The argv that runs `argv` inside `netns`: `ip -n` saves the exec of a second process. */
export function inNetns(argv: readonly string[], netns: string | undefined): readonly string[] {
  if (netns === undefined) return argv;
  if (argv[0] === 'ip') return ['ip', '-n', netns, ...argv.slice(1)];
  return ['ip', 'netns', 'exec', netns, ...argv];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Runs real processes. */
export class ProcessRunner implements Runner {
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const full = inNetns(argv, options.netns);
    const [program, ...args] = full;
    if (program === undefined) throw new Error('empty argv');
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, {
        stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        // Its own process group: a terminal's Ctrl-C goes to the whole foreground group, and a
        // build step killed by it would fail the build; flowmig itself decides how to stop.
        detached: true,
      });
      // Our own timer (not spawn's `timeout`): it is cleared on 'error' too, so a program that
      // could not start leaves nothing pending that would keep the process alive.
      const timer = setTimeout(
        () => child.kill('SIGKILL'),
        options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      );
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.on('error', (cause) => {
        clearTimeout(timer);
        reject(
          new CommandError({
            argv,
            netns: options.netns,
            exitCode: null,
            stderr: cause.message,
            cause,
          }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8');
        const ok = options.okExitCodes ?? [0];
        if (code !== null && ok.includes(code)) resolve({ stdout, stderr, exitCode: code });
        else
          reject(new CommandError({ argv, netns: options.netns, exitCode: code, signal, stderr }));
      });
      if (options.stdin !== undefined && child.stdin) {
        child.stdin.on('error', () => {}); // the program may exit before reading; 'close' reports it
        child.stdin.end(options.stdin);
      }
    });
  }
}
