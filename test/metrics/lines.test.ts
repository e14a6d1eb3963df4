import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readLines, scanLines, scanText, splitLines } from '../../src/metrics/lines.js';

async function collect(chunks: Parameters<typeof readLines>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(chunks)) out.push(line);
  return out;
}

describe('readLines', () => {
  const cases: [string, (string | Uint8Array)[], string[]][] = [
    ['nothing', [], []],
    ['one line without newline', ['abc'], ['abc']],
    ['lines across chunks', ['a\nb', 'c\n', '\nd'], ['a', 'bc', '', 'd']],
    ['CRLF', ['a\r\nb\r', '\n'], ['a', 'b']],
    ['a final newline adds no empty line', ['a\n'], ['a']],
  ];
  for (const [name, chunks, want] of cases) {
    it(name, async () => assert.deepEqual(await collect(chunks), want));
  }

  it('joins a multi-byte character split between byte chunks', async () => {
    const bytes = new TextEncoder().encode('µs\n→\n');
    const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 5), bytes.subarray(5)];
    assert.deepEqual(await collect(chunks), ['µs', '→']);
  });

  it('reads a Node Readable', async () => {
    const stream = Readable.from([Buffer.from('x 1\ny'), Buffer.from(' 2\n')]);
    assert.deepEqual(await collect(stream), ['x 1', 'y 2']);
  });
});

describe('scanText / scanLines', () => {
  const parse = (line: string) => (/^\d+$/.test(line) ? Number(line) : undefined);
  const ignore = (line: string) => line.startsWith('#');

  it('sorts every line into record, ignored or unparsed, keeping the first unparsed', () => {
    const { records, counts } = scanText('# head\n1\n\nx\n2\ny\n', parse, ignore);
    assert.deepEqual(records, [1, 2]);
    assert.deepEqual(counts, { lines: 6, records: 2, ignored: 2, unparsed: 2, firstUnparsed: 'x' });
  });

  it('the streaming scan counts the same and keeps nothing', async () => {
    const seen: number[] = [];
    const counts = await scanLines(
      splitLines('# head\n1\n\nx\n2\ny\n'),
      parse,
      (r) => seen.push(r),
      ignore,
    );
    assert.deepEqual(seen, [1, 2]);
    assert.equal(counts.unparsed, 2);
  });
});
