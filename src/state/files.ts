// The state directory's files: made private (0700 directory, 0600 files) and read as versions.
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { FlowmigError } from '../errors.js';
import { fileIdOf, fileKey } from './journal.js';

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

/**
 * Writes `text` to a new file at `path` that only its owner may read (0600 whatever the umask);
 * `sync`: on disk (fdatasync) before this resolves.
 */
export async function writePrivateFile(
  path: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    // A file left at this path (by a writer killed mid-write, or an older flowmig) keeps its mode.
    await handle.chmod(0o600);
    await handle.writeFile(text);
    if (options.sync) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** One version of a file read from `offset` on: its bytes, fileKey and identity (dev:ino). */
export interface Version {
  readonly buf: Buffer;
  /** fileKey of what was read; STALE when the file grew while it was read (so it never matches). */
  readonly key: string;
  readonly file: string;
}

export const STALE = 'stale';

/** Reads the file at `path` from `offset` to its end; undefined when there is none. */
export async function readAt(path: string, offset: number): Promise<Version | undefined> {
  const handle = await open(path, 'r').catch(ifMissing(undefined));
  if (!handle) return undefined;
  try {
    const before = await handle.stat({ bigint: true });
    const size = Math.max(0, Number(before.size) - offset);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await handle.read(buf, got, size - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const after = await handle.stat({ bigint: true });
    const whole = got === size && after.size === before.size;
    return {
      buf: buf.subarray(0, got),
      key: whole ? fileKey(after) : STALE,
      file: fileIdOf(after),
    };
  } finally {
    await handle.close();
  }
}

/** A catch handler: `value` for a missing file (ENOENT), the error again otherwise. */
export function ifMissing<T>(value: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return value;
    throw error;
  };
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
