// The serve protocol's framing: JSON lines with long strings carried after the line as bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ATTACH_FROM, encodeFrame, frameReader } from '../../src/rpc/frames.js';

function collect(limit: number) {
  const messages: unknown[] = [];
  let bad = 0;
  let oversize = 0;
  const reader = frameReader({
    limit,
    onMessage: (m) => messages.push(m),
    onBadJson: () => bad++,
    onOversize: () => oversize++,
  });
  return {
    messages,
    feed: (s: string | Buffer) => reader.push(Buffer.isBuffer(s) ? s : Buffer.from(s)),
    end: () => reader.end(),
    bad: () => bad,
    oversize: () => oversize,
  };
}

describe('frames', () => {
  it('a small message is one JSON line', () => {
    const frame = encodeFrame({ id: 1, op: 'hello' });
    assert.equal(frame.length, 1);
    assert.equal(frame[0]?.toString(), '{"id":1,"op":"hello"}\n');
  });

  it('long strings travel after the line and come back in place, byte for byte', () => {
    const long = Buffer.alloc(ATTACH_FROM * 3, 7).toString('base64');
    const other = 'é€'.repeat(ATTACH_FROM); // not ASCII: UTF-8 keeps it whole
    const value = {
      id: 3,
      result: { connections: [{ socket: { sendQueue: long, recvQueue: '' }, app: { x: other } }] },
    };
    const frame = encodeFrame(value);
    assert.equal(frame.length, 3, 'the line and two attachments');
    assert.ok((frame[0]?.length ?? 0) < 200, 'the JSON line stays small');
    const c = collect(64 * 1024 * 1024);
    // Fed in awkward pieces: a byte at a time across the line's end and the attachments' joins.
    const all = Buffer.concat(frame);
    for (let i = 0; i < all.length; i += 997) c.feed(all.subarray(i, i + 997));
    assert.deepEqual(c.messages, [value]);
  });

  it('splits messages across and within chunks, skipping blank lines', () => {
    const c = collect(100);
    c.feed('{"a":1}\n{"b"');
    c.feed(':2}\n\n  \n{"c":3');
    assert.deepEqual(c.messages, [{ a: 1 }, { b: 2 }]);
    c.feed('}\n');
    assert.deepEqual(c.messages, [{ a: 1 }, { b: 2 }, { c: 3 }]);
  });

  it('keeps a UTF-8 character split across chunks whole', () => {
    const c = collect(100);
    for (const b of Buffer.from('"é€"\n')) c.feed(Buffer.from([b]));
    assert.deepEqual(c.messages, ['é€']);
  });

  it('drops a line over the limit once, and reads the next one', () => {
    const c = collect(10);
    c.feed('"12345678"\n');
    c.feed('0123456');
    c.feed('789abc');
    c.feed('def\n"ok"\n');
    assert.deepEqual(c.messages, ['12345678', 'ok']);
    assert.equal(c.oversize(), 1);
  });

  it('reports a line that is not JSON, or a bad attachment list, and goes on', () => {
    const c = collect(1000);
    c.feed('not json\n{"$attachments":"x"}\n{"$attachments":[2000]}\n{"ok":1}\n');
    assert.equal(c.bad(), 3);
    assert.deepEqual(c.messages, [{ ok: 1 }]);
  });

  it('reads a 32 MiB attachment in linear time', () => {
    const c = collect(64 * 1024 * 1024);
    const frame = encodeFrame({ q: 'x'.repeat(32 * 1024 * 1024) });
    const all = Buffer.concat(frame);
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 65_536) c.feed(all.subarray(i, i + 65_536));
    const ms = performance.now() - t0;
    assert.equal((c.messages[0] as { q: string }).q.length, 32 * 1024 * 1024);
    assert.ok(ms < 2_000, `${ms} ms`);
  });
});

describe('frames: the end of the stream', () => {
  it('a last message without its newline is read at the end; one cut inside its attachment is not', () => {
    const c = collect(1000);
    c.feed('{"a":1}\n{"b":2}');
    assert.deepEqual(c.messages, [{ a: 1 }]);
    c.end();
    assert.deepEqual(c.messages, [{ a: 1 }, { b: 2 }]);

    const d = collect(64 * 1024 * 1024);
    const all = Buffer.concat(encodeFrame({ q: 'y'.repeat(ATTACH_FROM) }));
    d.feed(all.subarray(0, all.length - 1));
    d.end();
    assert.deepEqual(d.messages, []);
    assert.equal(d.bad(), 0);
  });
});
