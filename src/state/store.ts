// Lab state on disk (/run/flowmig/<lab>.json): what a lab is, what it created, where flows point.
import fs, { type BigIntStats } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { DEFAULT_STATE_DIR, environment } from '../config.js';
import { FlowmigError } from '../errors.js';
import { labDescriptionSchema } from '../lab/schema.js';
import { labIds } from './lab-ids.js';

export { DEFAULT_STATE_DIR };

/** The state directory: the option (`--state-dir`), else FLOWMIG_STATE_DIR, else the default. */
export function stateDirFrom(option: string | undefined): string {
  return option ?? environment().stateDir;
}

/**
 * Makes `dir` the private state directory: created 0700, or an existing one tightened to 0700
 * (a directory an older flowmig made 0755 lets every user read the logs and state in it). A
 * directory that others may write to (mode o+w or sticky, such as /tmp) is refused rather than
 * changed: it is shared, not flowmig's.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await stat(dir);
  if ((s.mode & 0o1002) !== 0)
    throw new FlowmigError(
      `state directory ${dir} is shared (mode ${(s.mode & 0o7777).toString(8)}); give flowmig a directory of its own with --state-dir`,
    );
  if ((s.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** Writes `text` to a new file at `path` that only its owner may read (0600 whatever the umask). */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    // A file left at this path (by a writer killed mid-write, or an older flowmig) keeps its mode.
    await handle.chmod(0o600);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** proper-lockfile's file system, with the lock directory made 0700 instead of by the umask. */
const lockFs = {
  ...fs,
  mkdir: (path: string, callback: (error: NodeJS.ErrnoException | null) => void) =>
    fs.mkdir(path, { mode: 0o700 }, callback),
  mkdirSync: (path: string) => fs.mkdirSync(path, { mode: 0o700 }),
};

const LOCK_OPTIONS = {
  realpath: false,
  fs: lockFs,
  // A holder killed with SIGKILL stops refreshing the lock; after `stale` ms (the library's
  // minimum) it is taken over, so `down` after a crash waits at most that long.
  stale: 2_000,
} as const;

const flowSchema = z.object({
  name: z.string().optional(),
  address: z.string(),
  initiator: z.string(),
  responder: z.string(),
});

const migrationSchema = z.object({
  flow: z.string(),
  from: z.string(),
  to: z.string(),
  at: z.string(),
  totalMs: z.number(),
  ruleMs: z.number(),
  conntrackMs: z.number(),
  conntrackDeleted: z.number(),
  path: z.enum(['in-process', 'agent', 'programs']).optional(),
});

export const labStateSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  prefix: z.string(),
  description: labDescriptionSchema,
  phase: z.enum(['building', 'up']),
  /** The process that ran `up` (it may be gone). */
  pid: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Namespaces flowmig created, each recorded before it was created (write-ahead). */
  created: z.array(z.string()),
  flows: z.array(flowSchema),
  migrations: z.number(),
  lastMigration: migrationSchema.optional(),
  /** The translator agent (fast path), recorded as soon as it is spawned. */
  agent: z.object({ pid: z.number(), socket: z.string(), log: z.string() }).optional(),
  /** Why there is no agent (the nft/conntrack programs are used instead). */
  agentError: z.string().optional(),
  /** Former responders whose TCP connections drain (flows with `tcp: drain`), until epoch ms. */
  draining: z
    .array(z.object({ flow: z.string(), responder: z.string(), until: z.number() }))
    .optional(),
  /** Server runtimes (`flowmig serve`), one per server node, recorded as soon as spawned. */
  servers: z
    .array(
      z.object({
        node: z.string(),
        pid: z.number(),
        socket: z.string(),
        log: z.string(),
        address: z.string(),
        port: z.number(),
        mode: z.enum(['echo', 'stream']),
        repairUnavailable: z.string().optional(),
      }),
    )
    .optional(),
  /** The daemon that serves the lab's local API (recorded by the daemon itself). */
  daemon: z.object({ pid: z.number(), socket: z.string() }).optional(),
});

export type LabState = z.infer<typeof labStateSchema>;
export type MigrationRecord = z.infer<typeof migrationSchema>;

/** The lab's state file exists but is not a state (truncated, overwritten, from elsewhere). */
export class DamagedStateError extends FlowmigError {
  constructor(
    readonly lab: string,
    readonly path: string,
  ) {
    super(
      `state file ${path} is damaged; 'flowmig down --lab ${lab}' removes the lab by its marks in the kernel`,
    );
    this.name = 'DamagedStateError';
  }
}

export class StateStore {
  /** Per lab: the last state read or written, keyed by the file it came from. */
  private readonly cache = new Map<string, { key: string; state: LabState }>();
  /** Whether this store made its directory private already (checked once, then only created). */
  private dirChecked = false;

  constructor(readonly dir: string) {}

  /** Creates the state directory 0700 (and tightens it the first time: see makePrivateDir). */
  private async ensureDir(): Promise<void> {
    if (this.dirChecked) {
      // Removed since (e.g. by hand): made again, 0700 from the start. Synchronous: a call that
      // takes microseconds is not worth a trip through the thread pool (see withLock).
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      return;
    }
    await makePrivateDir(this.dir);
    this.dirChecked = true;
  }

  path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /**
   * The lab's state, or undefined when it has none. A long-lived process (the daemon) reads the
   * same file again and again: while the file is the one this store last read or wrote (same
   * inode, size and nanosecond mtime) the parsed copy is reused instead of parsing and validating
   * it again (with 100,000 flows that saves ~0.3 s per change). Every caller gets its own copy.
   */
  async read(id: string): Promise<LabState | undefined> {
    const path = this.path(id);
    let key: string;
    try {
      // Synchronous, as in withLock: this check runs before every change.
      key = fileKey(fs.statSync(path, { bigint: true }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const cached = this.cache.get(id);
    if (cached?.key === key) return copyState(cached.state);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = labStateSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new DamagedStateError(id, path);
    }
    // The file may have been replaced between the stat and the read: key what was read.
    const now = await stat(path, { bigint: true }).catch(() => undefined);
    if (now && fileKey(now) === key) this.cache.set(id, { key, state: copyState(parsed.data) });
    return parsed.data;
  }

  /**
   * Atomic replace: readers see the old file or the new one, never half of one. Large states
   * (over 1,000 flows) are written without indentation.
   */
  async write(state: LabState): Promise<void> {
    await this.ensureDir();
    const path = this.path(state.id);
    const tmp = `${path}.${process.pid}.tmp`;
    const written: LabState = { ...state, updatedAt: new Date().toISOString() };
    const indent = state.flows.length > 1_000 ? undefined : 2;
    this.cache.delete(state.id);
    await writePrivateFile(tmp, `${JSON.stringify(written, null, indent)}\n`);
    const key = fileKey(await stat(tmp, { bigint: true }));
    await rename(tmp, path);
    this.cache.set(state.id, { key, state: copyState(written) });
  }

  /** Removes the lab's state file, and temporary files of writers killed mid-write. */
  async remove(id: string): Promise<void> {
    this.cache.delete(id);
    await rm(this.path(id), { force: true });
    const base = `${id}.json.`;
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names) {
      // Exactly <id>.json.<pid>.tmp, as write() names them: no other lab's file has that form.
      if (n.startsWith(base) && /^\d+\.tmp$/.test(n.slice(base.length)))
        await rm(join(this.dir, n), { force: true });
    }
  }

  /** Ids of the labs with a state file. */
  async list(): Promise<string[]> {
    return labIds(this.dir);
  }

  /** Serialises changes to one lab across processes (a lock directory beside the state file). */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    await this.ensureDir();
    const path = join(this.dir, id);
    let release: () => unknown;
    try {
      // A free lock is taken with synchronous calls (a mkdir and a stat, microseconds each): each
      // asynchronous one is a round trip through libuv's thread pool, and under load (a flood
      // keeping both CPUs busy) those round trips were most of the wait before a swap's rule.
      release = lockfile.lockSync(path, LOCK_OPTIONS);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED')
        throw new FlowmigError(`cannot lock lab ${id}: ${(error as Error).message}`, {
          cause: error,
        });
      try {
        release = await lockfile.lock(path, {
          ...LOCK_OPTIONS,
          retries: { retries: 100, minTimeout: 5, maxTimeout: 100 },
        });
      } catch (cause) {
        throw new FlowmigError(`lab ${id} is busy (another flowmig holds its lock)`, { cause });
      }
    }
    try {
      return await fn();
    } finally {
      try {
        await release();
      } catch {
        // compromised or already released: the lock is not ours any more either way
      }
    }
  }
}

/** Identifies one version of a file: a rename-replaced file has a new inode or mtime. */
function fileKey(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

/**
 * A copy callers may change freely. The lab description is shared: it is fixed when the lab is
 * built and nothing changes it afterwards.
 */
function copyState(s: LabState): LabState {
  return {
    ...s,
    created: [...s.created],
    flows: s.flows.map((f) => ({ ...f })),
    ...(s.lastMigration ? { lastMigration: { ...s.lastMigration } } : {}),
    ...(s.agent ? { agent: { ...s.agent } } : {}),
    ...(s.daemon ? { daemon: { ...s.daemon } } : {}),
    ...(s.draining ? { draining: s.draining.map((d) => ({ ...d })) } : {}),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
