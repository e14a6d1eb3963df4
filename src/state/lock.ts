// The labs' locks: a lock directory beside each state file (proper-lockfile) serialises changes
// across processes. A short-lived caller takes it per change (withLock); a long-lived owner (the
// lab's daemon) holds it for its lifetime (hold) so a change costs no lock at all, and lends it to
// another process that asks (lend), taking it back when that one is done.
import fs from 'node:fs';
import lockfile from 'proper-lockfile';
import { FlowmigError } from '../errors.js';

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

/** Waiting for a busy lock: ~10 s in all, polls 5 ms apart at first. */
const RETRIES = { retries: 100, minTimeout: 5, maxTimeout: 100 } as const;

/**
 * Asks the process that holds a lab's lock for a long time (its daemon) to lend it: resolves once
 * that process released it, with the function that gives it back; undefined when no such process
 * answers (then the lock is waited for as it is).
 */
export type LockLender = (id: string) => Promise<{ giveBack(): void } | undefined>;

/** A lock this process holds for a long time. */
interface Held {
  release: (() => Promise<void>) | undefined;
  /** Changes of this process under the held lock, one after another. */
  chain: Promise<unknown>;
  /** The lock was lost (its directory taken over or removed): the next change takes it anew. */
  lost: boolean;
}

export class LabLocks {
  private readonly held = new Map<string, Held>();

  /**
   * @param pathOf where lab `id`'s lock is (proper-lockfile adds `.lock`)
   * @param lender asked when a lab's lock is busy (see LockLender)
   */
  constructor(
    private readonly pathOf: (id: string) => string,
    private readonly lender?: LockLender,
  ) {}

  /** Runs `fn` with lab `id`'s lock: the held one (after this process's earlier changes) or its own. */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const held = this.held.get(id);
    if (held) {
      const run = async () => {
        if (held.lost || !held.release) await this.retake(id, held);
        return fn();
      };
      const work = held.chain.then(run, run);
      held.chain = work.catch(() => {});
      return work;
    }
    const release = await this.take(id, true);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /**
   * Takes lab `id`'s lock and keeps it until release(id): this process's changes then run one
   * after another without taking it. Waits while another process holds it.
   */
  async hold(id: string): Promise<void> {
    if (this.held.has(id)) return;
    const held: Held = { release: undefined, chain: Promise.resolve(), lost: false };
    held.release = await this.take(id, false, held);
    this.held.set(id, held);
  }

  /** Whether this process holds lab `id`'s lock for a long time (see hold). */
  holds(id: string): boolean {
    return this.held.has(id);
  }

  /**
   * Lends the held lock of lab `id`: after this process's changes under way, releases it, resolves
   * with `back` released, and takes it again once `back` resolves (its changes wait until then).
   * Resolves at once when the lock is not held.
   */
  lend(id: string, back: Promise<void>): Promise<void> {
    const held = this.held.get(id);
    if (!held) return Promise.resolve();
    return new Promise<void>((lent, failed) => {
      const run = async () => {
        try {
          await held.release?.();
        } catch {
          // taken over already: not ours to lend, and the borrower may take it anyway
        }
        held.release = undefined;
        lent();
        await back;
        await this.retake(id, held).catch(() => {
          // busy still (the borrower's change runs on): the next change of this process retries
        });
      };
      const work = held.chain.then(run, run);
      held.chain = work.catch(failed);
    });
  }

  /** Releases the held lock of lab `id` after this process's changes under way. */
  async release(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    await held.chain;
    try {
      await held.release?.();
    } catch {
      // compromised or already released: the lock is not ours any more either way
    }
  }

  private async retake(id: string, held: Held): Promise<void> {
    held.release = await this.take(id, false, held);
    held.lost = false;
  }

  /**
   * Takes the lock; `borrow`: ask its long-time holder to lend it when it is busy. A held lock
   * that is lost is marked so, not thrown (proper-lockfile's default would crash the process).
   */
  private async take(id: string, borrow: boolean, held?: Held): Promise<() => Promise<void>> {
    const path = this.pathOf(id);
    const options = {
      ...LOCK_OPTIONS,
      onCompromised: () => {
        if (held) {
          held.lost = true;
          held.release = undefined;
        }
      },
    };
    let release: () => Promise<void>;
    try {
      // A free lock is taken with synchronous calls (a mkdir and a stat, microseconds each): each
      // asynchronous one is a round trip through libuv's thread pool, and under load (a flood
      // keeping both CPUs busy) those round trips were most of the wait before a swap's rule.
      const done = lockfile.lockSync(path, options);
      release = async () => done();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED')
        throw new FlowmigError(`cannot lock lab ${id}: ${(error as Error).message}`, {
          cause: error,
        });
      const loan = borrow && this.lender ? await this.lender(id).catch(() => undefined) : undefined;
      try {
        release = await lockfile.lock(path, { ...options, retries: RETRIES });
      } catch (cause) {
        loan?.giveBack();
        throw new FlowmigError(`lab ${id} is busy (another flowmig holds its lock)`, { cause });
      }
      if (loan) {
        const own = release;
        release = async () => {
          try {
            await own();
          } finally {
            loan.giveBack();
          }
        };
      }
    }
    return async () => {
      try {
        await release();
      } catch {
        // compromised or already released: the lock is not ours any more either way
      }
    };
  }
}
