// Typed errors: every failure flowmig reports is one of these, with a one-line message.

/** Base class: `message` is the one line a user sees. `exitCode` is what the CLI exits with. */
export class FlowmigError extends Error {
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlowmigError';
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Bad input (lab file, name, address, usage): detected before anything is changed. */
export class InputError extends FlowmigError {
  readonly problems: readonly string[];
  /** `context` (e.g. "lab file x.yaml") prefixes the problems; '' when they speak for themselves. */
  constructor(context: string, problems: readonly string[]) {
    // User input is echoed in problems: escape control characters so the message stays one line.
    const text = `${context === '' ? '' : `${context}: `}${problems.join('; ')}`.replace(
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
      /[\u0000-\u001f\u007f]/g,
      (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
    super(text, { exitCode: 2 });
    this.name = 'InputError';
    this.problems = problems;
  }
}

/** An external program failed. Keeps everything needed to understand why. */
export class CommandError extends FlowmigError {
  readonly argv: readonly string[];
  readonly netns: string | undefined;
  readonly commandExitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  constructor(init: {
    argv: readonly string[];
    netns?: string | undefined;
    exitCode: number | null;
    signal?: string | null;
    stderr: string;
    cause?: unknown;
  }) {
    const where = init.netns === undefined ? '' : ` (in namespace ${init.netns})`;
    const why =
      firstLine(init.stderr) ||
      (init.signal ? `killed by ${init.signal}` : `exit code ${String(init.exitCode)}`);
    super(`${init.argv.join(' ')}${where} failed: ${why}`, { cause: init.cause });
    this.name = 'CommandError';
    this.argv = init.argv;
    this.netns = init.netns;
    this.commandExitCode = init.exitCode;
    this.signal = init.signal ?? null;
    this.stderr = init.stderr;
  }

  /** The program is not installed (spawn ENOENT). */
  get isMissingProgram(): boolean {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  }

  /** The kernel object named does not exist. */
  get isNotFound(): boolean {
    return /no such file|cannot find device|does not exist|not found/i.test(this.stderr);
  }

  /** The kernel object to create exists already. */
  get isExists(): boolean {
    return /file exists|already exists/i.test(this.stderr);
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}
