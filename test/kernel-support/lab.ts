// Shared helpers for the tests that build real namespaces (root): unique prefixes, the CLI, cleanup.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findAgentsWhere } from '../../src/control/agent-process.js';
import { findDaemonsWhere } from '../../src/control/daemon-process.js';
import { Flowmig } from '../../src/control/flowmig.js';
import { listNamespaces } from '../../src/control/kernel.js';
import { findServersWhere } from '../../src/control/serve-process.js';
import { ProcessRunner } from '../../src/exec/runner.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import { loadLab } from '../../src/lab/load.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { EngineName, LabDescriptionInput } from '../../src/lab/schema.js';
import { stopProcess } from '../../src/procs/managed.js';

/** The repository root (tests run from dist/test/..., sources and fixtures live beside dist/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(ROOT, 'bin', 'flowmig.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export const runner = new ProcessRunner();

/** A namespace prefix no other test or lab uses, e.g. `fmt3a9c01-`. */
export function uniquePrefix(): string {
  // Three random bytes: labs of tests running side by side (several checkouts on one machine)
  // must not meet; with two, a few thousand labs made a collision likely.
  return `fmt${randomBytes(3).toString('hex')}-`;
}

export async function tempStateDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'flowmig-test-'));
}

export interface CliResult {
  readonly code: number | null;
  /** The signal that ended it, when one did (code is null then). */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the flowmig CLI to completion with its own state dir. */
export function cli(
  args: readonly string[],
  options: { stateDir: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, FLOWMIG_STATE_DIR: options.stateDir, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      // A signal's name goes into stderr too, so every `code === 0` assertion's message shows it.
      resolve({
        code,
        signal,
        stdout,
        stderr: signal ? `${stderr}[the CLI was ended by ${signal}]` : stderr,
      }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A prefix, a state dir, and cleanup (by name) whatever happens. */
export async function scratch<T>(fn: (prefix: string, stateDir: string) => Promise<T>): Promise<T> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  try {
    return await fn(prefix, stateDir);
  } finally {
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** Whether a command's message is one line. */
export const oneLine = (text: string) => text.trim().split('\n').length === 1;

/** Namespaces whose names start with `prefix`. */
export async function namespacesWith(prefix: string): Promise<string[]> {
  return [...(await listNamespaces(runner))].filter((n) => n.startsWith(prefix)).sort();
}

/**
 * Safety net after a failure: stops this test's agents and daemons (found by their command line,
 * which names the lab) and deletes, by name, the namespaces with this test's unique prefix.
 */
export async function removeNamespacesWith(prefix: string): Promise<void> {
  for (const pid of await findAgentsWhere((id) => id.startsWith(prefix))) await stopProcess(pid);
  for (const pid of await findDaemonsWhere((id) => id.startsWith(prefix))) await stopProcess(pid);
  for (const pid of await findServersWhere((id) => id.startsWith(prefix))) await stopProcess(pid);
  for (const ns of await namespacesWith(prefix)) {
    await runner.run(['ip', 'netns', 'delete', ns]).catch(() => {});
  }
}

/** A lab for a test: unique prefix, private state dir, torn down and checked afterwards. */
export interface TestLab {
  readonly fm: Flowmig;
  readonly lab: Lab;
  readonly prefix: string;
  readonly stateDir: string;
  ns(node: string): string;
}

export async function withLab<T>(
  description: LabDescriptionInput | undefined,
  fn: (t: TestLab) => Promise<T>,
  options: { engine?: EngineName; agent?: boolean; inProcess?: boolean } = {},
): Promise<T> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const fm = new Flowmig({
    stateDir,
    ...(options.agent === undefined ? {} : { agent: options.agent }),
    ...(options.inProcess === undefined ? {} : { inProcess: options.inProcess }),
  });
  const resolve = { prefix, ...(options.engine ? { engine: options.engine } : {}) };
  const lab =
    description === undefined
      ? await loadLab(undefined, resolve)
      : resolveLab(description, resolve);
  try {
    await fm.up(lab);
    return await fn({ fm, lab, prefix, stateDir, ns: (node) => `${prefix}${node}` });
  } finally {
    await fm.down(lab.id).catch(() => {});
    fm.close();
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/**
 * Every engine, by every path to its translator it has (in-process, the agent, programs):
 * behaviour must not differ. Pass `agent` and `inProcess` on to withLab.
 */
export const ENGINE_VARIANTS: readonly {
  readonly name: string;
  readonly engine: EngineName;
  readonly agent: boolean;
  readonly inProcess: boolean;
}[] = [
  { name: 'nftables (in-process)', engine: 'nftables', agent: true, inProcess: true },
  { name: 'nftables (agent)', engine: 'nftables', agent: true, inProcess: false },
  { name: 'nftables (programs)', engine: 'nftables', agent: false, inProcess: false },
  { name: 'iptables', engine: 'iptables', agent: false, inProcess: false },
];

/** The path a variant's migrations take. */
export const pathOf = (v: { readonly agent: boolean; readonly inProcess: boolean }) =>
  v.inProcess ? 'in-process' : v.agent ? 'agent' : 'programs';

/** The reference lab plus a second flow fe00::2 from A to D. */
export const TWO_FLOW_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'twoflows',
  flows: [
    { name: 'one', address: 'fe00::1', initiator: 'A', responder: 'C' },
    { name: 'two', address: 'fe00::2', initiator: 'A', responder: 'D' },
  ],
};

/** The `conntrack -L` lines in `netns` whose original destination is `address` (matched here). */
export async function conntrackLinesTo(netns: string, address: string): Promise<string[]> {
  const out = (await runner.run(['conntrack', '-L', '-f', 'ipv6'], { netns })).stdout;
  return out.split('\n').filter((l) => l.includes(`dst=${address} `));
}
