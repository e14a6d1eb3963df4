import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePingSummary } from '../../src/experiment/ping.js';
import { arrivalTimes } from '../../src/metrics/arrivals.js';
import { parsePing } from '../../src/metrics/ping.js';
import { analyzePing } from '../../src/metrics/ping-analysis.js';
import { parseTcpdump } from '../../src/metrics/tcpdump.js';
import { capture, captureSwaps } from './support.js';

const requests = (file: string) =>
  arrivalTimes(parseTcpdump(capture(file)).packets, { kind: 'echo-request', id: 5139 });

describe('analyzePing on the real experiment', () => {
  const text = capture('ping-swaps.txt');
  const summary = parsePingSummary(text);
  const result = analyzePing({
    lines: parsePing(text).lines,
    transmitted: summary?.transmitted,
    serverArrivals: { C: requests('tcpdump-ping-c.txt'), D: requests('tcpdump-ping-d.txt') },
    swaps: captureSwaps('swaps-ping.txt'),
    maxPoints: 50,
  });

  it('counts: 300 sent, 300 answered, no duplicate, no error', () => {
    assert.equal(result.sent, 300);
    assert.equal(result.received, 300);
    assert.equal(result.duplicates, 0);
    assert.equal(result.errors, 0);
    assert.equal(result.noAnswer, 0);
    assert.equal(result.lost, 0);
    assert.deepEqual(result.errorKinds, {});
  });

  it('every request reached exactly one server: 188 at C, 112 at D', () => {
    assert.deepEqual(result.serverRequests, { C: 188, D: 112 });
  });

  it("the RTT distribution agrees with ping's own summary", () => {
    assert.equal(result.rttMs.count, 300);
    assert.equal(result.rttMs.min, summary?.rttMs?.min);
    assert.equal(result.rttMs.max, summary?.rttMs?.max);
    assert.ok(Math.abs(result.rttMs.mean - (summary?.rttMs?.avg ?? 0)) < 0.001);
    assert.ok(result.rttMs.p50 <= result.rttMs.p90 && result.rttMs.p90 <= result.rttMs.p99);
  });

  it('the RTT series is thinned to 50 points and keeps the largest RTT', () => {
    assert.ok(result.rttSeries.length <= 50 && result.rttSeries.length > 40);
    assert.ok(result.rttSeries.some((p) => p.value === result.rttMs.max));
    for (let i = 1; i < result.rttSeries.length; i++) {
      assert.ok((result.rttSeries[i]?.tMs ?? 0) > (result.rttSeries[i - 1]?.tMs ?? 0));
    }
  });

  it('a gap per swap, about one ping interval each', () => {
    assert.equal(result.gaps.length, 3);
    assert.ok(result.gaps.every((g) => g.gapMs !== null && g.gapMs > 4.9 && g.gapMs < 5.1));
  });
});

describe('analyzePing, other outputs', () => {
  it('no route: 3 sent (the highest icmp_seq), 3 errors, all lost', () => {
    const r = analyzePing({ lines: parsePing(capture('ping-no-route.txt')).lines });
    assert.equal(r.sent, 3);
    assert.equal(r.received, 0);
    assert.equal(r.errors, 3);
    assert.equal(r.lost, 3);
    assert.deepEqual(r.errorKinds, { 'Destination unreachable: No route': 3 });
    assert.equal(r.rttMs.count, 0);
    assert.deepEqual(r.rttSeries, []);
    assert.deepEqual(r.serverRequests, {});
    assert.deepEqual(r.gaps, []);
  });

  it('duplicates are counted apart and left out of the RTTs', () => {
    const r = analyzePing({
      lines: parsePing(
        [
          '[1.000] 64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.1 ms',
          '[1.001] 64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.9 ms (DUP!)',
          '[1.010] 64 bytes from fe00::1: icmp_seq=2 ttl=63 time=0.2 ms',
          '[1.030] no answer yet for icmp_seq=3',
        ].join('\n'),
      ).lines,
      transmitted: 4,
    });
    assert.equal(r.received, 2);
    assert.equal(r.duplicates, 1);
    assert.equal(r.noAnswer, 1);
    assert.equal(r.lost, 2);
    assert.equal(r.rttMs.max, 0.2);
  });

  it('without the summary, sent follows icmp_seq across its 16-bit wrap', () => {
    const lines = Array.from({ length: 70_000 }, (_, i) => ({
      kind: 'reply' as const,
      tMs: i,
      seq: (i + 1) % 65536,
      rttMs: 0.01,
      bytes: 64,
      from: 'fe00::1',
      dup: false,
    }));
    const r = analyzePing({ lines });
    assert.equal(r.sent, 70_000);
    assert.equal(r.received, 70_000);
    assert.equal(r.lost, 0);
    assert.ok(r.rttSeries.length <= 1000);
  });
});
