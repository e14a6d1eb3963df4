// A Runner that records argv instead of running (tests, --dry-run), answering from a script.
import { CommandError } from '../errors.js';
import type { Transaction } from '../nft/transaction.js';
import { inNetns, type Runner, type RunOptions, type RunResult } from './runner.js';

export interface RecordedCall {
  readonly argv: readonly string[];
  readonly netns: string | undefined;
  readonly stdin: string | undefined;
  /** The typed transaction the stdin renders, when the caller gave it (nft). */
  readonly nft?: Transaction | undefined;
  /** The argv as it would really be run (with the namespace wrapper). */
  readonly full: readonly string[];
}

/** Answers a call: a result, or an error (stderr + exit code) to simulate failures. */
export type Responder = (
  call: RecordedCall,
) =>
  | Partial<RunResult>
  | { readonly fail: { readonly exitCode: number; readonly stderr: string } }
  | undefined;

export class RecordingRunner implements Runner {
  readonly calls: RecordedCall[] = [];
  constructor(private readonly respond: Responder = () => undefined) {}

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const call: RecordedCall = {
      argv,
      netns: options.netns,
      stdin: options.stdin,
      ...(options.nft ? { nft: options.nft } : {}),
      full: inNetns(argv, options.netns),
    };
    this.calls.push(call);
    const answer = this.respond(call);
    if (answer && 'fail' in answer) {
      const ok = options.okExitCodes ?? [0];
      if (ok.includes(answer.fail.exitCode)) {
        return { stdout: '', stderr: answer.fail.stderr, exitCode: answer.fail.exitCode };
      }
      throw new CommandError({
        argv,
        netns: options.netns,
        exitCode: answer.fail.exitCode,
        stderr: answer.fail.stderr,
      });
    }
    return {
      stdout: answer?.stdout ?? '',
      stderr: answer?.stderr ?? '',
      exitCode: answer?.exitCode ?? 0,
    };
  }

  /** The recorded calls as readable lines, e.g. `ip -n B link set dev lo up`. */
  lines(): string[] {
    return this.calls.map((c) => c.full.join(' '));
  }
}
