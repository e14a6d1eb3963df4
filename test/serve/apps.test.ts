import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { echo, stream } from '../../src/serve/apps.js';
import type { Connection } from '../../src/serve/runtime.js';
import { checkPattern, fillPattern } from '../../src/stream/pattern.js';
import {
  decodeStreamTrailer,
  encodeStreamHeader,
  STREAM_TRAILER_BYTES,
} from '../../src/stream/wire.js';

/** A Connection that records what the app does; `accept` decides what write returns. */
class FakeConnection implements Connection {
  readonly id = 'c1';
  readonly remote = { address: 'fe00::1', port: 40_000 };
  readonly local = { address: 'fc01::1', port: 5555 };
  canWrite = true;
  bytesIn = 0;
  bytesOut = 0;
  out: Buffer[] = [];
  ended = false;
  inputPaused = false;
  /** write() returns true while fewer than this many bytes were written since the last drain. */
  room = Number.POSITIVE_INFINITY;
  private sinceDrain = 0;

  write(data: Buffer): boolean {
    if (!this.canWrite) throw new Error('wrote while migrating');
    if (this.ended) throw new Error('wrote after end');
    this.out.push(Buffer.from(data));
    this.bytesOut += data.length;
    this.sinceDrain += data.length;
    return this.sinceDrain < this.room;
  }
  end(): void {
    this.ended = true;
  }
  pauseInput(): void {
    this.inputPaused = true;
  }
  resumeInput(): void {
    this.inputPaused = false;
  }
  drained(): void {
    this.sinceDrain = 0;
  }
  written(): Buffer {
    return Buffer.concat(this.out);
  }
}

describe('echo app', () => {
  it('writes back every byte in order', () => {
    const conn = new FakeConnection();
    const h = echo(conn);
    h.onData(Buffer.from('hello '));
    h.onData(Buffer.from('world\n'));
    assert.equal(conn.written().toString(), 'hello world\n');
  });

  it('stops taking input when the peer is slow, and goes on at the drain', () => {
    const conn = new FakeConnection();
    conn.room = 4;
    const h = echo(conn);
    h.onData(Buffer.from('abcdef'));
    assert.equal(conn.inputPaused, true);
    conn.drained();
    h.onDrain?.();
    assert.equal(conn.inputPaused, false);
  });

  it('holds what arrives while it may not write, in its snapshot, and echoes it on resume', () => {
    const conn = new FakeConnection();
    const h = echo(conn);
    h.onData(Buffer.from('one '));
    conn.canWrite = false;
    h.onData(Buffer.from('two '));
    const snap = JSON.parse(JSON.stringify(h.snapshot()));
    assert.deepEqual(snap, { held: Buffer.from('two ').toString('base64') });

    // Restored elsewhere: the held bytes come first, before the bytes read after the restore.
    const conn2 = new FakeConnection();
    conn2.canWrite = false;
    const h2 = echo(conn2, snap);
    h2.onData(Buffer.from('three'));
    assert.equal(conn2.out.length, 0);
    conn2.canWrite = true;
    h2.onResume?.();
    assert.equal(conn2.written().toString(), 'two three');
  });

  it('refuses a snapshot that is not its own', () => {
    assert.throws(() => echo(new FakeConnection(), { sentOffset: 3 }), /not an echo snapshot/);
  });
});

function pattern(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  fillPattern(b, offset);
  return b;
}

describe('stream app', () => {
  it('sends the pattern, checks what it receives, then the trailer and FIN', () => {
    const conn = new FakeConnection();
    const h = stream(conn);
    const total = 200_000;
    const sent = pattern(0, total);
    // The header split across two chunks, the first data in the second.
    const header = encodeStreamHeader(total, total);
    h.onData(header.subarray(0, 7));
    assert.equal(conn.out.length, 0);
    h.onData(Buffer.concat([header.subarray(7), sent.subarray(0, 1_000)]));
    // No flow control in this fake: everything went out at once.
    const out = conn.written();
    assert.equal(out.length, total);
    assert.deepEqual(checkPattern(out, 0), { mismatches: 0, first: null });
    assert.equal(conn.ended, false); // still receiving
    h.onData(sent.subarray(1_000));
    const all = conn.written();
    assert.equal(all.length, total + STREAM_TRAILER_BYTES);
    assert.deepEqual(decodeStreamTrailer(all.subarray(total)), {
      received: total,
      mismatches: 0,
      crc: crc32(sent),
    });
    assert.equal(conn.ended, true);
  });

  it('counts mismatching and excess bytes', () => {
    const conn = new FakeConnection();
    const h = stream(conn);
    const data = pattern(0, 1_000);
    data[10] = (data[10] as number) ^ 0xff;
    h.onData(Buffer.concat([encodeStreamHeader(0, 990), data]));
    const snap = h.snapshot() as {
      mismatches: number;
      firstMismatch: number;
      receivedOffset: number;
    };
    assert.equal(snap.receivedOffset, 1_000);
    assert.equal(snap.mismatches, 1 + 10);
    assert.equal(snap.firstMismatch, 10);
  });

  it('sends one chunk per drain as the peer reads, and carries on from its snapshot', () => {
    const conn = new FakeConnection();
    conn.room = 1; // every write reports a full buffer
    const h = stream(conn);
    const total = 300_000;
    h.onData(encodeStreamHeader(total, 0));
    assert.equal(conn.written().length, 65_536);
    conn.drained();
    h.onDrain?.();
    assert.equal(conn.written().length, 131_072);

    // Migrate: quiesced, snapshot, restored elsewhere, resumed.
    conn.canWrite = false;
    const snap = JSON.parse(JSON.stringify(h.snapshot()));
    const conn2 = new FakeConnection();
    conn2.canWrite = false;
    const h2 = stream(conn2, snap);
    conn2.canWrite = true;
    h2.onResume?.();
    const whole = Buffer.concat([conn.written(), conn2.written()]);
    assert.equal(whole.length, total + STREAM_TRAILER_BYTES);
    assert.deepEqual(checkPattern(whole.subarray(0, total), 0), { mismatches: 0, first: null });
    assert.equal(conn2.ended, true);
  });

  it('keeps a partial header across a migration', () => {
    const conn = new FakeConnection();
    const h = stream(conn);
    const header = encodeStreamHeader(10, 0);
    h.onData(header.subarray(0, 5));
    const h2 = stream(conn, JSON.parse(JSON.stringify(h.snapshot())));
    h2.onData(header.subarray(5));
    assert.deepEqual(checkPattern(conn.written().subarray(0, 10), 0), {
      mismatches: 0,
      first: null,
    });
  });

  it('ends a connection whose header is not its protocol', () => {
    const conn = new FakeConnection();
    const h = stream(conn);
    h.onData(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(conn.ended, true);
    assert.equal(conn.out.length, 0);
  });
});
