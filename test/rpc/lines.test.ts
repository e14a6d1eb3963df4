import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, lineReader } from '../../src/rpc/lines.js';

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

/** A splitter that records what it saw: lines as text, raw runs, oversize reports. */
function splitter(limit: number, raw: (line: string) => number | undefined = () => undefined) {
  const seen: string[] = [];
  const s = new LineSplitter({
    limit,
    onLine: (b) => {
      const line = b.toString('utf8');
      seen.push(`line ${line}`);
      return raw(line);
    },
    onBytes: (b) => seen.push(`bytes ${b.toString('utf8')}`),
    onOversize: () => seen.push('oversize'),
  });
  return { seen, push: (t: string) => s.push(Buffer.from(t, 'utf8')), s };
}

describe('LineSplitter', () => {
  it('a line of exactly the limit is a line; one byte more is oversize', () => {
    const { seen, push } = splitter(4);
    push('abcd\nabcde\nok\n');
    assert.deepEqual(seen, ['line abcd', 'oversize', 'line ok']);
  });

  it('reports an oversized line once, as soon as it is too long, and skips it to its newline', () => {
    const { seen, push } = splitter(4);
    push('abc');
    push('de');
    assert.deepEqual(seen, ['oversize'], 'known before its newline arrives');
    push('fghij');
    push('klm\nnext\n');
    assert.deepEqual(seen, ['oversize', 'line next']);
  });

  it('counts bytes, not characters', () => {
    const { seen, push } = splitter(4);
    push('éé\nééé\n'); // 4 and 6 bytes
    assert.deepEqual(seen, ['line éé', 'oversize']);
  });

  it('end() reads a last line without its newline; a partial oversized line is dropped', () => {
    const a = splitter(10);
    a.push('one\ntwo');
    a.s.end();
    assert.deepEqual(a.seen, ['line one', 'line two']);
    a.push('three\n');
    assert.deepEqual(a.seen, ['line one', 'line two'], 'nothing is read after the end');

    const b = splitter(3);
    b.push('toolong');
    b.s.end();
    assert.deepEqual(b.seen, ['oversize']);
  });

  it('stop() reads nothing more, also from the rest of the chunk', () => {
    const seen: string[] = [];
    const s: LineSplitter = new LineSplitter({
      limit: 100,
      onLine: (b) => {
        seen.push(b.toString());
        if (seen.length === 1) s.stop();
        return undefined;
      },
      onOversize: () => {},
    });
    s.push(Buffer.from('a\nb\nc\n'));
    assert.deepEqual(seen, ['a']);
  });

  it('raw bytes a line announces are read whole, across chunks, newlines included', () => {
    const { seen, push } = splitter(20, (line) =>
      line.startsWith('raw') ? Number(line.slice(3)) : undefined,
    );
    push('raw5\nab');
    push('\nde');
    push('after\n');
    assert.deepEqual(seen, ['line raw5', 'bytes ab\nde', 'line after']);
  });
});
