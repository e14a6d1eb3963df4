import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePingSummary } from '../../src/experiment/ping.js';
import { readLines } from '../../src/metrics/lines.js';
import {
  type PingLine,
  type PingReply,
  parsePing,
  parsePingLine,
  scanPing,
  seqUnwrapper,
} from '../../src/metrics/ping.js';
import { capture } from './support.js';

describe('parsePing on real outputs', () => {
  it('ping -D across 3 swaps: 300 replies in order, no duplicate, no error', () => {
    const text = capture('ping-swaps.txt');
    const { lines, counts } = parsePing(text);
    assert.deepEqual(counts, {
      lines: 305,
      records: 300,
      ignored: 5, // header, blank, statistics title, totals, rtt
      unparsed: 0,
      firstUnparsed: undefined,
    });
    assert.ok(lines.every((l) => l.kind === 'reply' && !l.dup && l.from === 'fe00::1'));
    const replies = lines as PingReply[];
    assert.deepEqual(
      replies.map((r) => r.seq),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    // [1795598460.895221] 64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.149 ms
    assert.deepEqual(replies[0], {
      kind: 'reply',
      tMs: 1795598460895.221,
      seq: 1,
      rttMs: 0.149,
      ttl: 63,
      bytes: 64,
      from: 'fe00::1',
      dup: false,
    });
    // The per-packet lines agree with ping's own summary.
    const summary = parsePingSummary(text);
    assert.equal(summary?.received, replies.length);
    const rtts = replies.map((r) => r.rttMs ?? Number.NaN);
    assert.equal(Math.min(...rtts), summary?.rttMs?.min);
    assert.equal(Math.max(...rtts), summary?.rttMs?.max);
  });

  it('no route: three errors from the translator', () => {
    const { lines, counts } = parsePing(capture('ping-no-route.txt'));
    assert.equal(counts.unparsed, 0);
    assert.deepEqual(lines, [
      {
        kind: 'error',
        tMs: 1795598578248.516,
        seq: 1,
        from: 'fc00::2',
        error: 'Destination unreachable: No route',
      },
      {
        kind: 'error',
        tMs: 1795598578452.234,
        seq: 2,
        from: 'fc00::2',
        error: 'Destination unreachable: No route',
      },
      {
        kind: 'error',
        tMs: 1795598578656.124,
        seq: 3,
        from: 'fc00::2',
        error: 'Destination unreachable: No route',
      },
    ]);
  });

  it('address unreachable: four errors that came at once', () => {
    const { lines } = parsePing(capture('ping-address-unreachable.txt'));
    assert.equal(lines.length, 4);
    assert.ok(
      lines.every(
        (l) =>
          l.kind === 'error' &&
          l.error === 'Destination unreachable: Address unreachable' &&
          l.tMs !== undefined &&
          l.tMs >= 1795598581712 &&
          l.tMs < 1795598581713,
      ),
    );
    assert.deepEqual(
      lines.map((l) => l.seq),
      [1, 2, 3, 4],
    );
  });
});

describe('parsePingLine edge cases', () => {
  const cases: [string, string, PingLine | undefined][] = [
    [
      'duplicate',
      '[1764063000.123456] 64 bytes from fe00::1: icmp_seq=12 ttl=63 time=0.045 ms (DUP!)',
      {
        kind: 'reply',
        tMs: 1764063000123.456,
        seq: 12,
        rttMs: 0.045,
        ttl: 63,
        bytes: 64,
        from: 'fe00::1',
        dup: true,
      },
    ],
    [
      'without -D',
      '64 bytes from ::1: icmp_seq=1 ttl=64 time=0.029 ms',
      { kind: 'reply', seq: 1, rttMs: 0.029, ttl: 64, bytes: 64, from: '::1', dup: false },
    ],
    [
      'a payload too small for a time',
      '[1.5] 8 bytes from fe00::1: icmp_seq=3 ttl=63',
      { kind: 'reply', tMs: 1500, seq: 3, ttl: 63, bytes: 8, from: 'fe00::1', dup: false },
    ],
    [
      'a slow reply',
      '[2.000001] 64 bytes from fe00::1: icmp_seq=4 ttl=63 time=1023 ms',
      {
        kind: 'reply',
        tMs: 2000.001,
        seq: 4,
        rttMs: 1023,
        ttl: 63,
        bytes: 64,
        from: 'fe00::1',
        dup: false,
      },
    ],
    [
      'time exceeded',
      'From fc00::2 icmp_seq=5 Time exceeded: Hop limit',
      { kind: 'error', seq: 5, from: 'fc00::2', error: 'Time exceeded: Hop limit' },
    ],
    ['ping -O', '[3.25] no answer yet for icmp_seq=6', { kind: 'no-answer', tMs: 3250, seq: 6 }],
    [
      "ping's own error",
      'ping: sendmsg: Network is unreachable',
      { kind: 'error', error: 'sendmsg: Network is unreachable' },
    ],
    ['header', 'PING fe00::1(fe00::1) 56 data bytes', undefined],
    ['garbage', 'hello', undefined],
  ];
  for (const [name, line, want] of cases) {
    it(name, () => assert.deepEqual(parsePingLine(line), want));
  }

  it('counts unknown lines, not the header or the statistics', () => {
    const { lines, counts } = parsePing(
      'PING fe00::1(fe00::1) 56 data bytes\n[1.0] 64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.1 ms\nWARNING: something\n\n--- fe00::1 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.1/0.1/0.1/0 ms\n',
    );
    assert.equal(lines.length, 1);
    assert.equal(counts.ignored, 5);
    assert.equal(counts.unparsed, 1);
    assert.equal(counts.firstUnparsed, 'WARNING: something');
  });
});

describe('scanPing (streaming)', () => {
  it('gives the same lines as parsePing', async () => {
    const text = capture('ping-swaps.txt');
    const seen: PingLine[] = [];
    const counts = await scanPing(readLines([text]), (l) => seen.push(l));
    const whole = parsePing(text);
    assert.deepEqual(seen, whole.lines);
    assert.deepEqual(counts, whole.counts);
  });
});

describe('seqUnwrapper', () => {
  it('keeps counting across the 16-bit wrap, and puts a late packet in its round', () => {
    const unwrap = seqUnwrapper();
    assert.deepEqual(
      [65534, 65535, 0, 1, 65535, 2, 65535, 0].map(unwrap),
      [65534, 65535, 65536, 65537, 65535, 65538, 65535, 65536],
    );
  });

  it('wraps again and again', () => {
    const unwrap = seqUnwrapper();
    let last = 0;
    for (let i = 0; i < 300_000; i += 1000) last = unwrap(i % 65536);
    assert.equal(last, 299_000);
  });
});
