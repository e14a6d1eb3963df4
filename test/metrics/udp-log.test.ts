import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLines } from '../../src/metrics/lines.js';
import type { SendRecord } from '../../src/metrics/sequence.js';
import { parseUdpLog, parseUdpLogLine, scanUdpLog } from '../../src/metrics/udp-log.js';
import { capture } from './support.js';

describe("flowmig's UDP sender log", () => {
  it('the real log: 299 datagrams, seq 0-298, each echoed once after it was sent', () => {
    const { records, counts } = parseUdpLog(capture('udp-load-log.txt'));
    assert.equal(counts.records, 299);
    assert.equal(counts.unparsed, 0);
    assert.deepEqual(
      records.map((r) => r.seq),
      Array.from({ length: 299 }, (_, i) => i),
    );
    assert.ok(
      records.every((r) => r.copies === 1 && r.receivedMs !== null && r.receivedMs > r.sentMs),
    );
    // 0 1795599006101.436 1795599006116.742 1
    assert.deepEqual(records[0], {
      seq: 0,
      sentMs: 1795599006101.436,
      receivedMs: 1795599006116.742,
      copies: 1,
    });
  });

  const cases: [string, string, SendRecord | undefined][] = [
    ['no echo', '7 1000.5 - 0', { seq: 7, sentMs: 1000.5, receivedMs: null, copies: 0 }],
    [
      'three echoes',
      '8 1000.5 1001.25 3',
      { seq: 8, sentMs: 1000.5, receivedMs: 1001.25, copies: 3 },
    ],
    ['whole milliseconds', '9 1000 1002 1', { seq: 9, sentMs: 1000, receivedMs: 1002, copies: 1 }],
    ['a JSON summary line', '{"sent":299}', undefined],
    ['a missing field', '1 1000.5 -', undefined],
  ];
  for (const [name, line, want] of cases) {
    it(name, () => assert.deepEqual(parseUdpLogLine(line), want));
  }

  it('streams the same records', async () => {
    const text = capture('udp-load-log.txt');
    const seen: SendRecord[] = [];
    const counts = await scanUdpLog(readLines([text]), (r) => seen.push(r));
    assert.deepEqual(seen, parseUdpLog(text).records);
    assert.equal(counts.records, 299);
  });
});
