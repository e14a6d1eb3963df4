// The state journal (<id>.journal): one JSON line per commit after the snapshot; its format,
// durable append, replay onto a state, and when it is worth folding into a new snapshot.
import fs, { type BigIntStats } from 'node:fs';
import { promisify } from 'node:util';
import { z } from 'zod';
import {
  DamagedStateError,
  drainingSchema,
  flowSchema,
  type LabState,
  type MigrationRecord,
  migrationSchema,
  type StateFlow,
} from './schema.js';

/** What a change did, recorded as one journal line of absolute values (no deltas). */
export interface StateChange {
  /** The flows that changed, as they are now (replaced by address when replayed). */
  readonly flows?: readonly StateFlow[];
  /** The new total. */
  readonly migrations?: number;
  readonly lastMigration?: MigrationRecord;
  /** The whole list, when it changed (empty: nothing drains any more). */
  readonly draining?: NonNullable<LabState['draining']>;
}

const lineSchema = z.object({
  seq: z.number().int().positive(),
  flows: z.array(flowSchema).optional(),
  migrations: z.number().optional(),
  lastMigration: migrationSchema.optional(),
  draining: drainingSchema.optional(),
});

/** One journal line: the change, numbered. Numbers increase by one from the snapshot's on. */
export type JournalLine = StateChange & { readonly seq: number };

/** The line that records `change` as entry `seq` (seq first, so lastSeqIn finds it by its start). */
export function formatLine(seq: number, change: StateChange): string {
  const line: Record<string, unknown> = { seq };
  if (change.flows) line.flows = change.flows.map(plainFlow);
  if (change.migrations !== undefined) line.migrations = change.migrations;
  if (change.lastMigration) line.lastMigration = change.lastMigration;
  if (change.draining) line.draining = change.draining;
  return `${JSON.stringify(line)}\n`;
}

/** Flow records as a state keeps them: frozen, so one record may be shared by every copy. */
export function freezeFlow(f: StateFlow): StateFlow {
  return Object.isFrozen(f) ? f : Object.freeze(plainFlow(f));
}

function plainFlow(f: StateFlow): StateFlow {
  return f.name === undefined
    ? { address: f.address, initiator: f.initiator, responder: f.responder }
    : { name: f.name, address: f.address, initiator: f.initiator, responder: f.responder };
}

/** The journal's complete lines in `buf`, and where the last good one ends. */
export interface ParsedJournal {
  readonly lines: JournalLine[];
  /** Bytes up to the end of the last good line: what survives; an append goes here. */
  readonly goodBytes: number;
  /** Whether bytes follow the last good line (a torn line of a writer killed mid-append). */
  readonly torn: boolean;
}

/**
 * Parses journal bytes. A last line that is cut short or does not parse is a torn append (the
 * writer was killed, or the machine lost power, before its commit resolved): ignored. A bad line
 * with a good one after it, or numbers that do not increase, is damage: nothing wrote that.
 */
export function parseJournal(buf: Buffer, lab: string, path: string): ParsedJournal {
  const lines: JournalLine[] = [];
  let goodBytes = 0;
  let badSeen = false;
  for (let start = 0; start < buf.length; ) {
    const end = buf.indexOf(0x0a, start);
    if (end < 0) break;
    const line = parseLine(buf.toString('utf8', start, end));
    start = end + 1;
    if (!line) {
      badSeen = true;
      continue;
    }
    const last = lines[lines.length - 1];
    if (badSeen || (last && line.seq <= last.seq)) throw new DamagedStateError(lab, path);
    lines.push(line);
    goodBytes = start;
  }
  return { lines, goodBytes, torn: goodBytes < buf.length };
}

function parseLine(text: string): JournalLine | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = lineSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The highest entry number in journal bytes (0 if none), damaged or not: for a full rewrite. */
export function lastSeqIn(buf: Buffer): number {
  let seq = 0;
  for (const m of buf.toString('utf8').matchAll(/^\{"seq":(\d+)/gm))
    seq = Math.max(seq, Number(m[1]));
  return seq;
}

/** A state being replayed or kept current: the index finds a flow by address in O(1). */
export interface Replica {
  readonly state: LabState;
  /** Position of each flow in `state.flows` by address; built on first use. */
  index?: Map<string, number>;
}

/**
 * Applies one change to a replica in place, at the cost of the change (not of the lab): flows
 * are replaced by address (an unknown address is added), the rest is set as recorded.
 */
export function applyChange(replica: Replica, change: StateChange): void {
  const { state } = replica;
  if (change.flows && change.flows.length > 0) {
    const flows = state.flows;
    let index = replica.index;
    if (!index) {
      index = new Map();
      for (const [i, f] of flows.entries()) index.set(f.address, i);
      replica.index = index;
    }
    for (const f of change.flows) {
      const i = index.get(f.address);
      if (i === undefined) {
        index.set(f.address, flows.length);
        flows.push(freezeFlow(f));
      } else flows[i] = freezeFlow(f);
    }
  }
  if (change.migrations !== undefined) state.migrations = change.migrations;
  if (change.lastMigration) state.lastMigration = { ...change.lastMigration };
  if (change.draining)
    state.draining = change.draining.length ? change.draining.map((d) => ({ ...d })) : undefined;
}

/** What a store knows of a lab's journal file, to append to it and to see whether it changed. */
export interface JournalView {
  /** fileKey of the file as last read or written; NO_FILE when there is none. */
  readonly key: string;
  /** The file (device and inode) the rest describes, when there is one. */
  readonly file?: string;
  /** Bytes of good lines (an append goes after them: a torn tail is cut first). */
  readonly goodBytes: number;
  readonly torn: boolean;
  /** Flow records' worth of the lines (a line counts at least one): the compaction measure. */
  readonly weight: number;
}

export const NO_FILE = 'none';
export const NO_JOURNAL: JournalView = { key: NO_FILE, goodBytes: 0, torn: false, weight: 0 };

/** A line's share of the journal: its flows, and at least one (a drain or count change). */
export function weightOf(change: StateChange): number {
  return Math.max(1, change.flows?.length ?? 0);
}

/** Identifies one version of a file: a rename-replaced file has a new inode, an append a new size. */
export function fileKey(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
}

export function fileIdOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}`;
}

/** fileKey of the file at `path` now, NO_FILE when it does not exist (one synchronous stat). */
export function keyAt(path: string): string {
  const s = fs.statSync(path, { bigint: true, throwIfNoEntry: false });
  return s ? fileKey(s) : NO_FILE;
}

const fdatasync = promisify(fs.fdatasync);

/**
 * Appends `line` to the journal at `path` with one write, after cutting a torn tail at
 * `cutAt`; calls `written` with the file's stats synchronously after the write (so the caller's
 * view of the file is current before any other callback runs), then waits for fdatasync: the
 * line is on disk when this resolves. The open, cut and write are synchronous (microseconds each;
 * each asynchronous call would be a round trip through libuv's thread pool); only the sync, which
 * waits for the device, goes through the pool. `newFileDir`: the directory to sync as well, when
 * the append creates the file (its name must be on disk too).
 */
export async function appendLine(
  path: string,
  line: string,
  cutAt: number | undefined,
  written: (stats: BigIntStats) => void,
  newFileDir?: string,
): Promise<void> {
  const buf = Buffer.from(line);
  // O_APPEND: every write lands at the end, whatever another handle did to the file.
  const fd = fs.openSync(path, 'a', 0o600);
  try {
    if (newFileDir !== undefined) fs.fchmodSync(fd, 0o600);
    if (cutAt !== undefined) fs.ftruncateSync(fd, cutAt);
    for (let at = 0; at < buf.length; ) at += fs.writeSync(fd, buf, at);
    written(fs.fstatSync(fd, { bigint: true }));
    await fdatasync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (newFileDir !== undefined) syncDir(newFileDir);
}

/** Makes the directory's entries (a created, renamed or removed name) durable. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether the journal should be folded into a new snapshot: when it holds more than
 * max(1,000, flows / 4) flow records' worth, or more bytes than the snapshot.
 *
 * Amortised cost: a compaction writes the snapshot (S bytes, about c bytes per flow for n flows)
 * once at least max(1,000, n / 4) flow records, or S bytes, were appended since the last one. Per
 * migrated flow that is at most S / max(1,000, n / 4) ≤ 4c snapshot bytes (the weight bound), and
 * never more than one snapshot byte per journal byte (the byte bound): a constant per migration,
 * whatever the size of the lab, on top of its own short line. The byte bound also keeps a read
 * (snapshot + replay) under twice the cost of parsing the snapshot alone.
 */
export function shouldCompact(journal: JournalView, flows: number, snapshotBytes: number): boolean {
  return journal.weight > Math.max(1_000, flows / 4) || journal.goodBytes > snapshotBytes;
}
