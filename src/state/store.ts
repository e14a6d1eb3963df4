// Lab state on disk (/run/flowmig/<lab>.json and its journal): what a lab is, what it created,
// where flows point; the lab's lock.
import fs from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR, environment } from '../config.js';
import { FlowmigError } from '../errors.js';
import {
  ifMissing,
  makePrivateDir,
  readAt,
  safeJson,
  type Version,
  writePrivateFile,
} from './files.js';
import {
  appendLine,
  applyChange,
  fileIdOf,
  fileKey,
  formatLine,
  freezeFlow,
  type JournalLine,
  type JournalView,
  keyAt,
  lastSeqIn,
  NO_FILE,
  NO_JOURNAL,
  type ParsedJournal,
  parseJournal,
  type Replica,
  type StateChange,
  shouldCompact,
  syncDir,
  weightOf,
} from './journal.js';
import { labIds } from './lab-ids.js';
import { LabLocks, type LockLender } from './lock.js';
import { DamagedStateError, type LabState, snapshotSchema } from './schema.js';

export { makePrivateDir, writePrivateFile } from './files.js';
export type { StateChange } from './journal.js';
export type { LabState, MigrationRecord, StateFlow } from './schema.js';
export { DamagedStateError, labStateSchema } from './schema.js';
export { DEFAULT_STATE_DIR };

/** The state directory: the option (`--state-dir`), else FLOWMIG_STATE_DIR, else the default. */
export function stateDirFrom(option: string | undefined): string {
  return option ?? environment().stateDir;
}

/** What a store knows of one lab: the state its files hold, and which versions of them those are. */
interface Loaded extends Replica {
  readonly state: LabState;
  snapshot: SnapshotView;
  /** The last journal entry `state` includes (the snapshot's journalSeq, or the last replayed). */
  seq: number;
  journal: JournalView;
}

interface SnapshotView {
  readonly key: string;
  readonly bytes: number;
}

/** How often a read starts again when the snapshot was replaced while it read the files. */
const READ_ATTEMPTS = 10;

/**
 * A lab's state on disk: the snapshot `<id>.json` (the whole state, written atomically) and the
 * journal `<id>.journal` (one line per commit since the snapshot), both 0600 in a 0700 directory.
 * Changes (write, commit) are made with the lab's lock held (withLock); reads need no lock.
 */
export class StateStore {
  /**
   * Per lab: the state as its files hold it (the snapshot with the journal replayed), with the
   * versions of the files it came from. The store's own: never handed out (see read), changed
   * only by a commit's change (at the change's cost) or replaced whole.
   */
  private readonly cache = new Map<string, Loaded>();
  /** Whether this store made its directory private already (checked once, then only created). */
  private dirChecked = false;

  private readonly locks: LabLocks;

  /** @param options.lender asked to lend a lab's lock held for long by another process (its daemon) */
  constructor(
    readonly dir: string,
    options: { readonly lender?: LockLender } = {},
  ) {
    this.locks = new LabLocks((id) => join(this.dir, id), options.lender);
  }

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

  /** The lab's snapshot file. */
  path(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** The lab's journal file: the commits since the snapshot. */
  journalPath(id: string): string {
    return join(this.dir, `${id}.journal`);
  }

  /**
   * The lab's state (the snapshot with the journal replayed), or undefined when it has none.
   *
   * Who may change what: the returned object and its arrays are the caller's own (each call makes
   * new ones), so a caller may set fields, push to `created` or replace elements of `flows`. The
   * flow records are frozen and shared by every copy and the store: replace a record, never change
   * one (strict-mode code that tries gets a TypeError). The lab description is shared too: it is
   * fixed when the lab is built. So a read copies an array of pointers, not 100,000 records.
   *
   * A long-lived process (the daemon) reads the same files again and again: while they are the
   * versions this store last read or wrote (see unchangedSince), no file is read; when only the
   * journal grew (another process committed), only its new lines are.
   */
  async read(id: string): Promise<LabState | undefined> {
    const kept = this.cache.get(id);
    if (kept && this.unchangedSince(id)) return handOut(kept.state);
    // Out until it is current again: a read that fails (damage) leaves nothing half-updated.
    this.cache.delete(id);
    const loaded = (kept && (await this.catchUp(id, kept))) ?? (await this.load(id));
    if (!loaded) return undefined;
    this.cache.set(id, loaded);
    return handOut(loaded.state);
  }

  /**
   * Whether the lab's state files are still exactly the versions this store last read or wrote
   * (a synchronous stat of each: same inode, size and mtime). False when this store never read
   * them, and after another process committed, wrote or removed them.
   */
  unchangedSince(id: string): boolean {
    const kept = this.cache.get(id);
    return (
      kept !== undefined &&
      keyAt(this.path(id)) === kept.snapshot.key &&
      keyAt(this.journalPath(id)) === kept.journal.key
    );
  }

  /**
   * Which version of lab `id`'s state this store holds: it changes with each commit and write of
   * this store, and with each read that took in another process's changes. Undefined: none held.
   */
  version(id: string): string | undefined {
    const kept = this.cache.get(id);
    return kept && `${kept.snapshot.key}#${kept.seq}`;
  }

  /** Reads both files whole: the snapshot, then the journal lines after it. */
  private async load(id: string): Promise<Loaded | undefined> {
    const path = this.path(id);
    const journalPath = this.journalPath(id);
    for (let attempt = 1; ; attempt++) {
      const snap = await readAt(path, 0);
      if (!snap) return undefined;
      const parsed = snapshotSchema.safeParse(safeJson(snap.buf.toString('utf8')));
      if (!parsed.success) throw new DamagedStateError(id, path);
      const journal = await readAt(journalPath, 0);
      const lines = journal && parseJournal(journal.buf, id, journalPath);
      // A writer replaces the snapshot before it removes the journal the snapshot includes: while
      // the snapshot read is still in place, the journal read went with it.
      if (keyAt(path) !== snap.key) {
        if (attempt < READ_ATTEMPTS) continue;
        throw new FlowmigError(`the state of lab ${id} kept changing while it was read`);
      }
      const { journalSeq = 0, ...state } = parsed.data;
      const replay = linesAfter(lines?.lines ?? [], journalSeq);
      if (!replay) throw new DamagedStateError(id, journalPath);
      for (const f of state.flows) Object.freeze(f);
      const loaded: Loaded = {
        state,
        snapshot: { key: snap.key, bytes: snap.buf.length },
        seq: journalSeq,
        journal: NO_JOURNAL,
      };
      for (const line of replay) applyChange(loaded, line);
      loaded.seq = replay.at(-1)?.seq ?? journalSeq;
      if (journal && lines) loaded.journal = viewOf(journal, lines, 0, 0);
      return loaded;
    }
  }

  /**
   * Brings `kept` up to date when only the journal grew since it was read (the lines after the
   * good ones it had are read and replayed); undefined when something else changed.
   */
  private async catchUp(id: string, kept: Loaded): Promise<Loaded | undefined> {
    const path = this.path(id);
    const journalPath = this.journalPath(id);
    const was = kept.journal;
    if (keyAt(path) !== kept.snapshot.key) return undefined;
    const more = await readAt(journalPath, was.goodBytes);
    if (!more || (was.file !== undefined && more.file !== was.file)) return undefined;
    const lines = parseJournal(more.buf, id, journalPath);
    const replay = linesAfter(lines.lines, kept.seq);
    if (!replay || keyAt(path) !== kept.snapshot.key) return undefined;
    for (const line of replay) applyChange(kept, line);
    kept.seq = replay.at(-1)?.seq ?? kept.seq;
    kept.journal = viewOf(more, lines, was.goodBytes, was.weight);
    return kept;
  }

  /**
   * Records `change` durably: one line appended to the journal with one write and fdatasync'd
   * before this resolves (a batch of many migrations is one call: one line, one sync). The
   * store's own copy of the state takes the change at the change's cost, not the lab's.
   *
   * `state` is the caller's whole new state. It is written whole instead when this store has no
   * current view of the files (it never read them, or another process changed them since: the
   * caller, who holds the lock, has the state to keep). When the journal outgrows its bound (see
   * shouldCompact) the state as replayed (equal to `state` for a caller that records its changes
   * through commit and write) becomes a new snapshot and the journal goes. Lock held (withLock).
   */
  async commit(state: LabState, change: StateChange): Promise<void> {
    const id = state.id;
    const kept = this.cache.get(id);
    if (!kept || !this.unchangedSince(id)) return this.write(state);
    const seq = kept.seq + 1;
    const was = kept.journal;
    try {
      await appendLine(
        this.journalPath(id),
        formatLine(seq, change),
        was.torn ? was.goodBytes : undefined,
        (s) => {
          applyChange(kept, change);
          kept.seq = seq;
          const view = { key: fileKey(s), file: fileIdOf(s), goodBytes: Number(s.size) };
          kept.journal = { ...view, torn: false, weight: was.weight + weightOf(change) };
        },
        was.key === NO_FILE ? this.dir : undefined,
      );
    } catch (error) {
      // The file may hold the line or not: read again next time.
      this.cache.delete(id);
      throw error;
    }
    if (shouldCompact(kept.journal, kept.state.flows.length, kept.snapshot.bytes))
      await this.compact(kept);
  }

  /** Folds the journal into a new snapshot of the replayed state: what read returns is the same. */
  private async compact(kept: Loaded): Promise<void> {
    const updatedAt = new Date().toISOString();
    try {
      await this.writeSnapshot({ ...kept.state, updatedAt }, kept.seq, true, (snapshot) => {
        kept.state.updatedAt = updatedAt;
        kept.snapshot = snapshot;
        kept.journal = NO_JOURNAL;
      });
    } catch (error) {
      this.cache.delete(kept.state.id);
      throw error;
    }
  }

  /**
   * Writes `state` whole as the lab's snapshot and empties the journal. Atomic: readers see the
   * old files or the new ones, never half of one. Large states (over 1,000 flows) are written
   * without indentation. Lock held (withLock). The store keeps its own copy: the caller may go on
   * changing `state`.
   */
  async write(state: LabState): Promise<void> {
    await this.ensureDir();
    const id = state.id;
    const kept = this.cache.get(id);
    let seq = 0;
    let journal = false;
    if (kept && this.unchangedSince(id)) {
      seq = kept.seq;
      journal = kept.journal.key !== NO_FILE;
    } else {
      // The snapshot replaces every entry there is: its number must cover them all.
      const buf = await readFile(this.journalPath(id)).catch(ifMissing(undefined));
      journal = buf !== undefined;
      seq = buf ? lastSeqIn(buf) : 0;
    }
    this.cache.delete(id);
    const written: LabState = { ...state, updatedAt: new Date().toISOString() };
    await this.writeSnapshot(written, seq, journal, (snapshot) => {
      const own = { ...written, flows: written.flows.map(freezeFlow) };
      this.cache.set(id, { state: handOut(own), snapshot, seq, journal: NO_JOURNAL });
    });
  }

  /**
   * Replaces the snapshot with `state` including journal entries up to `seq`, then (`journal`)
   * removes the journal. A crash between the two is harmless: entries at or below the snapshot's
   * `journalSeq` are skipped. `replaced` runs synchronously once the files are in place, so the
   * caller's view of them is never behind what another callback of this process could read.
   */
  private async writeSnapshot(
    state: LabState,
    seq: number,
    journal: boolean,
    replaced: (snapshot: SnapshotView) => void,
  ): Promise<void> {
    const path = this.path(state.id);
    const tmp = `${path}.${process.pid}.tmp`;
    const indent = state.flows.length > 1_000 ? undefined : 2;
    const text = JSON.stringify(seq > 0 ? { ...state, journalSeq: seq } : state, null, indent);
    // Journal entries go only once the snapshot holding them is on disk (data, then its name).
    await writePrivateFile(tmp, `${text}\n`, { sync: journal });
    const s = fs.statSync(tmp, { bigint: true });
    fs.renameSync(tmp, path);
    if (journal) {
      syncDir(this.dir);
      fs.rmSync(this.journalPath(state.id), { force: true });
    }
    replaced({ key: fileKey(s), bytes: Number(s.size) });
  }

  /** Removes the lab's state files, and temporary files of writers killed mid-write. */
  async remove(id: string): Promise<void> {
    this.cache.delete(id);
    // The snapshot first: a journal left alone is never read (no snapshot, no lab) and the next
    // write of a lab of that id covers its entries.
    await rm(this.path(id), { force: true });
    await rm(this.journalPath(id), { force: true });
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
    return this.locks.withLock(id, fn);
  }

  /**
   * Holds lab `id`'s lock until release(id) (a long-lived owner: the lab's daemon): this store's
   * changes to it then take no lock each; another process's store asks to borrow it (see lend).
   */
  async hold(id: string): Promise<void> {
    await this.ensureDir();
    await this.locks.hold(id);
  }

  /**
   * Lends the held lock of lab `id` to another process: resolves once it is released (after the
   * changes under way); it is taken again once `back` resolves, this store's changes waiting.
   */
  lend(id: string, back: Promise<void>): Promise<void> {
    return this.locks.lend(id, back);
  }

  /** Releases a lock held by hold(id). */
  release(id: string): Promise<void> {
    return this.locks.release(id);
  }
}

/** The lines after entry `seq`, which must follow it one by one; undefined when one is missing. */
function linesAfter(lines: readonly JournalLine[], seq: number): JournalLine[] | undefined {
  const after = lines.filter((l) => l.seq > seq);
  return after.every((l, i) => l.seq === seq + 1 + i) ? after : undefined;
}

/** The view of a journal read from byte `from` (where `weight` worth of good lines ended). */
function viewOf(v: Version, parsed: ParsedJournal, from: number, weight: number): JournalView {
  return {
    key: v.key,
    file: v.file,
    goodBytes: from + parsed.goodBytes,
    torn: parsed.torn,
    weight: parsed.lines.reduce((sum, l) => sum + weightOf(l), weight),
  };
}

/**
 * A state a caller may change (see read): a new object and new arrays; flow records (frozen) and
 * the description (fixed when the lab is built) shared.
 */
function handOut(s: LabState): LabState {
  return {
    ...s,
    created: [...s.created],
    flows: s.flows.slice(),
    ...(s.lastMigration ? { lastMigration: { ...s.lastMigration } } : {}),
    ...(s.agent ? { agent: { ...s.agent } } : {}),
    ...(s.daemon ? { daemon: { ...s.daemon } } : {}),
    ...(s.draining ? { draining: s.draining.map((d) => ({ ...d })) } : {}),
    ...(s.servers ? { servers: s.servers.map((x) => ({ ...x })) } : {}),
  };
}
