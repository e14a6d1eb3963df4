import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineReader } from '../../src/agent/protocol.js';

function collect(): { lines: string[]; feed: (chunk: Buffer | string) => void } {
  const lines: string[] = [];
  const read = lineReader((l) => lines.push(l));
  return { lines, feed: (c) => read(Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8')) };
}

describe('lineReader', () => {
  it('one complete line per chunk', () => {
    const { lines, feed } = collect();
    feed('{"id":1}\n');
    feed('{"id":2}\n');
    assert.deepEqual(lines, ['{"id":1}', '{"id":2}']);
  });

  it('several lines in one chunk, in order', () => {
    const { lines, feed } = collect();
    feed('a\nb\nc\n');
    assert.deepEqual(lines, ['a', 'b', 'c']);
  });

  it('a line split across chunks is delivered once, when its newline arrives', () => {
    const { lines, feed } = collect();
    feed('{"id":1,');
    assert.deepEqual(lines, []);
    feed('"op":"hel');
    assert.deepEqual(lines, []);
    feed('lo"}\n{"id"');
    assert.deepEqual(lines, ['{"id":1,"op":"hello"}']);
    feed(':2}\n');
    assert.deepEqual(lines, ['{"id":1,"op":"hello"}', '{"id":2}']);
  });

  it('byte by byte', () => {
    const { lines, feed } = collect();
    for (const ch of 'one\ntwo\n') feed(ch);
    assert.deepEqual(lines, ['one', 'two']);
  });

  it('an incomplete last line is held back', () => {
    const { lines, feed } = collect();
    feed('done\npartial');
    assert.deepEqual(lines, ['done']);
  });

  it('blank and whitespace-only lines are skipped', () => {
    const { lines, feed } = collect();
    feed('\n\na\n   \n\t\nb\n\n');
    assert.deepEqual(lines, ['a', 'b']);
  });

  it('keeps a line’s own spaces (only blank lines are dropped)', () => {
    const { lines, feed } = collect();
    feed('  x  \n');
    assert.deepEqual(lines, ['  x  ']);
  });

  it('a newline alone in a chunk completes the pending line', () => {
    const { lines, feed } = collect();
    feed('abc');
    feed('\n');
    assert.deepEqual(lines, ['abc']);
  });

  it('each reader keeps its own buffer', () => {
    const a = collect();
    const b = collect();
    a.feed('from-a');
    b.feed('from-b\n');
    a.feed('\n');
    assert.deepEqual(a.lines, ['from-a']);
    assert.deepEqual(b.lines, ['from-b']);
  });

  it('ASCII-only JSON round trips', () => {
    const { lines, feed } = collect();
    const msgs = [
      { id: 1, op: 'hello' },
      { id: 2, ok: true, deleted: 3 },
    ];
    const text = msgs.map((m) => `${JSON.stringify(m)}\n`).join('');
    feed(text.slice(0, 7));
    feed(text.slice(7));
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      msgs,
    );
  });

  it('a multi-byte UTF-8 character split across chunks arrives intact', () => {
    const { lines, feed } = collect();
    // Summaries contain '→' (e2 86 92); a socket may cut a chunk anywhere.
    const bytes = Buffer.from('{"summary":"fe00::1→fc02::2"}\n', 'utf8');
    const cut = bytes.indexOf(0x86);
    feed(bytes.subarray(0, cut));
    feed(bytes.subarray(cut));
    assert.deepEqual(lines, ['{"summary":"fe00::1→fc02::2"}']);
  });
});
