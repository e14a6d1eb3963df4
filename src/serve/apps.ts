// The ready apps for `flowmig serve`: `echo` (every byte back) and `stream` (a duplex test
// pattern, checked byte by byte). Their whole state is in `snapshot()`, so they migrate.
import { crc32 } from 'node:zlib';
import { checkPattern, fillPattern } from '../stream/pattern.js';
import { encodeStreamTrailer, STREAM_HEADER_BYTES, STREAM_MAGIC } from '../stream/wire.js';
import type { App, Connection, ConnectionHandler } from './connections.js';

// ---------------------------------------------------------------------------------------------
// echo

export interface EchoSnapshot {
  /** Bytes received while the app could not write (a migration), base64: echoed on resume. */
  readonly held: string;
}

/**
 * Writes back every byte. When `write` says the peer is slow it stops taking input until the
 * drain, so memory stays bounded; bytes that arrive while it may not write are held and echoed
 * on resume.
 */
export const echo: App = (conn: Connection, restored?: unknown): ConnectionHandler => {
  let held: Buffer[] = [];
  if (restored !== undefined) {
    const s = restored as Partial<EchoSnapshot>;
    if (typeof s?.held !== 'string') throw new Error('not an echo snapshot');
    if (s.held !== '') held.push(Buffer.from(s.held, 'base64'));
  }
  const flush = (): void => {
    const out = held;
    held = [];
    let more = true;
    for (const b of out) more = conn.write(b);
    if (more) conn.resumeInput();
    else conn.pauseInput();
  };
  return {
    onData(chunk) {
      if (!conn.canWrite || held.length > 0) held.push(chunk);
      else if (!conn.write(chunk)) conn.pauseInput();
    },
    onDrain() {
      if (held.length > 0) flush();
      else conn.resumeInput();
    },
    onResume: flush,
    snapshot: (): EchoSnapshot => ({ held: Buffer.concat(held).toString('base64') }),
  };
};

// ---------------------------------------------------------------------------------------------
// stream

/** Bytes of the pattern written per call (one chunk per drain). */
const CHUNK = 64 * 1024;

export interface StreamSnapshot {
  /** The header bytes received so far while it is incomplete, base64. */
  readonly header: string;
  /** From the header: pattern bytes to send, and to receive (null until the header is in). */
  readonly total: number | null;
  readonly expect: number | null;
  readonly sentOffset: number;
  readonly receivedOffset: number;
  readonly mismatches: number;
  readonly firstMismatch: number | null;
  /** CRC-32 of every byte received after the header. */
  readonly crc: number;
  readonly done: boolean;
  /** Why the stream was given up (a bad header), or null. */
  readonly error: string | null;
}

/**
 * Sends the pattern as fast as the peer reads (one 64 KiB chunk per drain), checks every byte
 * received against the same pattern, and reports in the trailer.
 */
export const stream: App = (conn: Connection, restored?: unknown): ConnectionHandler => {
  let s: StreamSnapshot = {
    header: '',
    total: null,
    expect: null,
    sentOffset: 0,
    receivedOffset: 0,
    mismatches: 0,
    firstMismatch: null,
    crc: 0,
    done: false,
    error: null,
  };
  if (restored !== undefined) {
    const r = restored as Partial<StreamSnapshot>;
    if (typeof r?.sentOffset !== 'number' || typeof r.receivedOffset !== 'number')
      throw new Error('not a stream snapshot');
    s = { ...s, ...r };
  }

  const pump = (): void => {
    const total = s.total;
    if (total === null || s.done || s.error !== null) return;
    while (conn.canWrite && s.sentOffset < total) {
      const n = Math.min(CHUNK, total - s.sentOffset);
      const buf = Buffer.allocUnsafe(n);
      fillPattern(buf, s.sentOffset);
      s = { ...s, sentOffset: s.sentOffset + n };
      if (!conn.write(buf)) return;
    }
    finish();
  };

  const finish = (): void => {
    if (s.done || !conn.canWrite || s.total === null || s.expect === null) return;
    if (s.sentOffset < s.total || s.receivedOffset < s.expect) return;
    s = { ...s, done: true };
    conn.write(
      encodeStreamTrailer({ received: s.receivedOffset, mismatches: s.mismatches, crc: s.crc }),
    );
    conn.end();
  };

  const receive = (data: Buffer): void => {
    if (s.expect === null) return;
    const inPattern = data.subarray(0, Math.max(0, s.expect - s.receivedOffset));
    const check = checkPattern(inPattern, s.receivedOffset);
    // Anything past what the header announced is wrong by definition.
    const excess = data.length - inPattern.length;
    s = {
      ...s,
      receivedOffset: s.receivedOffset + data.length,
      mismatches: s.mismatches + check.mismatches + excess,
      firstMismatch:
        s.firstMismatch ?? check.first ?? (excess > 0 ? s.receivedOffset + inPattern.length : null),
      crc: crc32(data, s.crc),
    };
  };

  return {
    onData(chunk) {
      if (s.error !== null) return;
      let data = chunk;
      if (s.total === null) {
        const header = Buffer.concat([Buffer.from(s.header, 'base64'), data]);
        if (header.length < STREAM_HEADER_BYTES) {
          s = { ...s, header: header.toString('base64') };
          return;
        }
        if (header.toString('latin1', 0, 4) !== STREAM_MAGIC) {
          s = { ...s, header: '', error: 'bad header magic' };
          if (conn.canWrite) conn.end();
          return;
        }
        s = {
          ...s,
          header: '',
          total: Number(header.readBigUInt64BE(4)),
          expect: Number(header.readBigUInt64BE(12)),
        };
        data = header.subarray(STREAM_HEADER_BYTES);
        if (conn.canWrite) pump();
      }
      if (data.length > 0) receive(data);
      finish();
    },
    onDrain: pump,
    onResume() {
      if (s.error !== null) conn.end();
      else pump();
    },
    snapshot: () => s,
  };
};

export const APPS = { echo, stream } as const satisfies Record<string, App>;
export type AppName = keyof typeof APPS;
