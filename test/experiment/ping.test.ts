import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type PingSummary, parsePingSummary } from '../../src/experiment/ping.js';

const FLOOD = `PING fe00::1(fe00::1) 56 data bytes

--- fe00::1 ping statistics ---
229958 packets transmitted, 229958 received, 0% packet loss, time 2000ms
rtt min/avg/max/mdev = 0.005/0.006/0.153/0.001 ms, ipg/ewma 0.008/0.008 ms
`;

/** Captured from iputils ping on this machine (`ping -6 -c 3 -i 0.2 ::1`). */
const LOCALHOST = `PING ::1(::1) 56 data bytes
64 bytes from ::1: icmp_seq=1 ttl=64 time=0.029 ms
64 bytes from ::1: icmp_seq=2 ttl=64 time=0.064 ms
64 bytes from ::1: icmp_seq=3 ttl=64 time=0.047 ms

--- ::1 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 408ms
rtt min/avg/max/mdev = 0.029/0.046/0.064/0.014 ms
`;

const DUPLICATES = `PING fe00::1(fe00::1) 56 data bytes
64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.061 ms
64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.089 ms (DUP!)

--- fe00::1 ping statistics ---
10 packets transmitted, 10 received, +3 duplicates, 0% packet loss, time 9012ms
rtt min/avg/max/mdev = 0.041/0.070/0.112/0.019 ms
`;

const UNREACHABLE = `PING fe00::1(fe00::1) 56 data bytes
From fc00::2 icmp_seq=1 Destination unreachable: No route
From fc00::2 icmp_seq=2 Destination unreachable: No route
From fc00::2 icmp_seq=3 Destination unreachable: Address unreachable

--- fe00::1 ping statistics ---
12 packets transmitted, 0 received, +12 errors, 100% packet loss, time 11010ms

`;

const PARTIAL = `--- fe00::1 ping statistics ---
2000 packets transmitted, 1996 received, 0.2% packet loss, time 20ms, pipe 4
rtt min/avg/max/mdev = 0.004/0.005/0.050/0.002 ms, pipe 4, ipg/ewma 0.010/0.005 ms
`;

describe('parsePingSummary', () => {
  const cases: [string, string, PingSummary][] = [
    [
      'a flood ping',
      FLOOD,
      {
        transmitted: 229958,
        received: 229958,
        duplicates: 0,
        errors: 0,
        lossPercent: 0,
        timeMs: 2000,
        rttMs: { min: 0.005, avg: 0.006, max: 0.153, mdev: 0.001 },
      },
    ],
    [
      'a real ping of ::1',
      LOCALHOST,
      {
        transmitted: 3,
        received: 3,
        duplicates: 0,
        errors: 0,
        lossPercent: 0,
        timeMs: 408,
        rttMs: { min: 0.029, avg: 0.046, max: 0.064, mdev: 0.014 },
      },
    ],
    [
      'duplicates',
      DUPLICATES,
      {
        transmitted: 10,
        received: 10,
        duplicates: 3,
        errors: 0,
        lossPercent: 0,
        timeMs: 9012,
        rttMs: { min: 0.041, avg: 0.07, max: 0.112, mdev: 0.019 },
      },
    ],
    [
      'errors and total loss (no rtt line)',
      UNREACHABLE,
      {
        transmitted: 12,
        received: 0,
        duplicates: 0,
        errors: 12,
        lossPercent: 100,
        timeMs: 11010,
        rttMs: undefined,
      },
    ],
    [
      'fractional loss and a pipe count',
      PARTIAL,
      {
        transmitted: 2000,
        received: 1996,
        duplicates: 0,
        errors: 0,
        lossPercent: 0.2,
        timeMs: 20,
        rttMs: { min: 0.004, avg: 0.005, max: 0.05, mdev: 0.002 },
      },
    ],
  ];
  for (const [what, text, expected] of cases) {
    it(`reads ${what}`, () => {
      assert.deepEqual(parsePingSummary(text), expected);
    });
  }

  for (const [what, text] of [
    ['no output', ''],
    [
      'ping killed before its summary',
      'PING fe00::1(fe00::1) 56 data bytes\n64 bytes from fe00::1: icmp_seq=1 ttl=63 time=0.05 ms\n',
    ],
    ['an immediate failure', 'ping: connect: Network is unreachable\n'],
  ] as const) {
    it(`gives undefined for ${what}`, () => {
      assert.equal(parsePingSummary(text), undefined);
    });
  }

  it('reads a tiny loss that iputils prints in exponent notation (%g)', () => {
    // iputils prints the loss with printf("%g%%"): 1 lost of 2,300,000 is "4.34783e-05%".
    const text =
      '--- fe00::1 ping statistics ---\n' +
      '2300000 packets transmitted, 2299999 received, 4.34783e-05% packet loss, time 23000ms\n';
    const s = parsePingSummary(text);
    assert.ok(s);
    assert.ok(Math.abs(s.lossPercent - 4.34783e-5) < 1e-9, `lossPercent ${s.lossPercent}`);
  });
});
