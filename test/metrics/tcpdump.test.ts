import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLines } from '../../src/metrics/lines.js';
import {
  parseTcpdump,
  parseTcpdumpLine,
  scanTcpdump,
  type TcpdumpPacket,
} from '../../src/metrics/tcpdump.js';
import { capture, tally } from './support.js';

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('parseTcpdump on real captures', () => {
  it('ping at C: 188 echo requests and 188 replies, seq 58-115 and 171-300, nothing skipped', () => {
    const { packets, counts } = parseTcpdump(capture('tcpdump-ping-c.txt'));
    assert.deepEqual(counts, {
      lines: 376,
      records: 376,
      ignored: 0,
      unparsed: 0,
      firstUnparsed: undefined,
    });
    assert.deepEqual(
      tally(packets.map((p) => p.kind)),
      new Map([
        ['echo-request', 188],
        ['echo-reply', 188],
      ]),
    );
    const requests = packets.filter((p) => p.kind === 'echo-request');
    assert.ok(requests.every((p) => p.src === 'fe00::1' && p.dst === 'fc01::1'));
    assert.ok(packets.every((p) => p.id === 5139 && p.length === 64 && p.iface === undefined));
    assert.deepEqual(
      requests.map((p) => p.seq),
      [...range(58, 115), ...range(171, 300)],
    );
    const replies = packets.filter((p) => p.kind === 'echo-reply');
    assert.ok(replies.every((p) => p.src === 'fc01::1' && p.dst === 'fe00::1'));
  });

  it('keeps every nanosecond in tNs and the epoch in ms in tMs', () => {
    const { packets } = parseTcpdump(capture('tcpdump-ping-c.txt'));
    const first = packets[0] as TcpdumpPacket;
    // 1795598461.188025896 IP6 fe00::1 > fc01::1: ICMP6, echo request, id 5139, seq 58, length 64
    assert.equal(first.tNs, 1795598461188025896n);
    assert.ok(Math.abs(first.tMs - 1_795_598_461_188 - 0.025896) < 0.0005);
    assert.equal(first.seq, 58);
    const last = packets[packets.length - 1] as TcpdumpPacket;
    assert.equal(last.tNs, 1795598462402990988n);
    assert.equal(last.kind, 'echo-reply');
    assert.equal(last.seq, 300);
    // In capture order, time never goes back.
    for (let i = 1; i < packets.length; i++) {
      assert.ok((packets[i] as TcpdumpPacket).tNs >= (packets[i - 1] as TcpdumpPacket).tNs);
    }
  });

  it('ping at D: 112 requests, 112 replies and a router solicitation', () => {
    const { packets, counts } = parseTcpdump(capture('tcpdump-ping-d.txt'));
    assert.equal(counts.records, 225);
    assert.equal(counts.unparsed, 0);
    assert.equal(packets.filter((p) => p.kind === 'echo-request').length, 112);
    assert.equal(packets.filter((p) => p.kind === 'echo-reply').length, 112);
    const other = packets.filter((p) => p.kind === 'other');
    assert.equal(other.length, 1);
    assert.deepEqual(
      { ...other[0], tNs: undefined, tMs: undefined },
      {
        tNs: undefined,
        tMs: undefined,
        src: 'fe80::44ef:8cff:fefa:dd5',
        dst: 'ff02::2',
        kind: 'other',
        icmp: 'router solicitation',
        length: 16,
      },
    );
    assert.deepEqual(
      packets.filter((p) => p.kind === 'echo-request').map((p) => p.seq),
      [...range(1, 57), ...range(116, 170)],
    );
  });

  it('micro precision: the same packets, the fraction padded with zeros', () => {
    const micro = parseTcpdump(capture('tcpdump-ping-c-micro.txt'));
    const nano = parseTcpdump(capture('tcpdump-ping-c.txt')).packets.slice(0, 40);
    assert.equal(micro.counts.records, 40);
    assert.equal(micro.counts.unparsed, 0);
    micro.packets.forEach((p, i) => {
      const n = nano[i] as TcpdumpPacket;
      assert.equal(p.tNs % 1000n, 0n);
      assert.equal(p.tNs, (n.tNs / 1000n) * 1000n);
      assert.ok(Math.abs(p.tMs - n.tMs) < 0.001);
      assert.equal(p.seq, n.seq);
      assert.equal(p.kind, n.kind);
    });
  });

  it('-i any at the translator: interface and direction per packet', () => {
    const { packets, counts } = parseTcpdump(capture('tcpdump-ping-b-any.txt'));
    assert.equal(counts.records, 64);
    assert.equal(counts.unparsed, 0);
    assert.deepEqual(
      tally(packets.map((p) => `${p.iface} ${p.direction}`)),
      new Map([
        ['B-A In', 16],
        ['B-D Out', 8],
        ['B-D In', 8],
        ['B-A Out', 16],
        ['B-C Out', 8],
        ['B-C In', 8],
      ]),
    );
    const first = packets[0] as TcpdumpPacket;
    assert.equal(first.iface, 'B-A');
    assert.equal(first.direction, 'In');
    assert.equal(first.src, 'fc00::1');
    assert.equal(first.dst, 'fe00::1');
    assert.equal(first.kind, 'echo-request');
    assert.equal(first.seq, 50);
    // Translated towards the servers: requests leave B-C / B-D from fe00::1.
    const out = packets.filter((p) => p.direction === 'Out' && p.iface !== 'B-A');
    assert.ok(out.every((p) => p.kind === 'echo-request' && p.src === 'fe00::1'));
    assert.deepEqual(
      [...new Set(out.map((p) => `${p.dst} ${p.seq}`))].length,
      16,
      'each of seq 50-65 left once, to C or D',
    );
  });

  it('UDP through ncat: ports, payload lengths, the flow split between C and D', () => {
    const c = parseTcpdump(capture('tcpdump-udp-c.txt'));
    const d = parseTcpdump(capture('tcpdump-udp-d.txt'));
    assert.equal(c.counts.records, 44);
    assert.equal(d.counts.records, 15);
    for (const [packets, server] of [
      [c.packets, 'fc01::1'],
      [d.packets, 'fc02::2'],
    ] as const) {
      assert.ok(
        packets.every(
          (p) =>
            p.kind === 'udp' &&
            p.src === 'fe00::1' &&
            p.sport === 41078 &&
            p.dst === server &&
            p.dport === 5555,
        ),
      );
    }
    const bytes = (ps: TcpdumpPacket[]) => ps.reduce((s, p) => s + (p.length ?? 0), 0);
    assert.equal(c.packets[0]?.length, 22);
    assert.equal(bytes(c.packets), 531);
    assert.equal(bytes(d.packets), 180);
  });

  it('TCP: flags of the connection at C, and the reset from D after the swap', () => {
    const c = parseTcpdump(capture('tcpdump-tcp-c.txt'));
    assert.equal(c.counts.records, 27);
    assert.ok(c.packets.every((p) => p.kind === 'tcp'));
    assert.deepEqual(
      tally(c.packets.map((p) => p.flags)),
      new Map([
        ['S', 1],
        ['S.', 1],
        ['.', 13],
        ['P.', 12],
      ]),
    );
    const toC = c.packets.filter((p) => p.dst === 'fc01::1');
    assert.equal(
      toC.reduce((s, p) => s + (p.length ?? 0), 0),
      147,
    );
    const d = parseTcpdump(capture('tcpdump-tcp-d.txt'));
    assert.deepEqual(
      d.packets.map((p) => [p.src, p.sport, p.dst, p.dport, p.flags, p.length]),
      [
        ['fe00::1', 57242, 'fc02::2', 5555, 'P.', 12],
        ['fc02::2', 5555, 'fe00::1', 57242, 'R', 0],
      ],
    );
  });

  it('failed pings: echo requests and destination-unreachable messages', () => {
    const { packets, counts } = parseTcpdump(capture('tcpdump-a-errors.txt'));
    assert.equal(counts.records, 14);
    assert.equal(packets.filter((p) => p.kind === 'echo-request').length, 7);
    const errors = packets.filter((p) => p.kind === 'other');
    assert.equal(errors.length, 7);
    assert.ok(
      errors.every(
        (p) =>
          p.icmp === 'destination unreachable' &&
          p.src === 'fc00::2' &&
          p.dst === 'fc00::1' &&
          p.length === 112,
      ),
    );
  });
});

describe('parseTcpdumpLine edge cases', () => {
  const cases: [string, string, Partial<TcpdumpPacket> | undefined][] = [
    [
      'IPv4 echo',
      '1700000000.000001 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 9, length 64',
      { src: '10.0.0.1', dst: '10.0.0.2', kind: 'echo-request', id: 7, seq: 9, length: 64 },
    ],
    [
      'IPv4 UDP with ports',
      '1700000000.000001 IP 10.0.0.1.4000 > 10.0.0.2.53: UDP, length 20',
      { src: '10.0.0.1', sport: 4000, dst: '10.0.0.2', dport: 53, kind: 'udp', length: 20 },
    ],
    [
      'IPv4-mapped IPv6 with a port',
      '1700000000.000001 IP6 ::ffff:10.0.0.1.80 > ::1.9000: UDP, length 1',
      { src: '::ffff:10.0.0.1', sport: 80, dst: '::1', dport: 9000, kind: 'udp' },
    ],
    [
      'an address ending in ::',
      '1700000000.000001 IP6 fe00:: > fc01::1: ICMP6, echo reply, id 1, seq 2, length 8',
      { src: 'fe00::', dst: 'fc01::1', kind: 'echo-reply', seq: 2 },
    ],
    [
      'a port tcpdump decodes (no "UDP,"): other, with ports',
      '1700000000.000001 IP6 fe80::1.5353 > ff02::fb.5353: 0 PTR (QM)? _x._tcp.local. (35)',
      { src: 'fe80::1', sport: 5353, dst: 'ff02::fb', dport: 5353, kind: 'other' },
    ],
    [
      'cooked v1 capture: direction without interface',
      '1700000000.000001 Out IP6 fc00::1 > fe00::1: ICMP6, echo request, id 1, seq 1, length 64',
      { direction: 'Out', src: 'fc00::1', kind: 'echo-request' },
    ],
    [
      'ICMPv6 behind a hop-by-hop header, digits in its name',
      '1700000000.000001 IP6 fe80::1 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28',
      { kind: 'other', icmp: 'multicast listener report v2', length: 28 },
    ],
    [
      'TCP reset with ack',
      '1700000000.000001 IP6 fc02::2.5555 > fe00::1.40000: Flags [R.], seq 0, ack 1, win 0, length 0',
      { kind: 'tcp', flags: 'R.', length: 0, sport: 5555, dport: 40000 },
    ],
    ['ARP', '1700000000.000001 ARP, Request who-has 10.0.0.1 tell 10.0.0.2, length 28', undefined],
    [
      'no timestamp',
      'IP6 fe00::1 > fc01::1: ICMP6, echo request, id 1, seq 1, length 64',
      undefined,
    ],
    ['garbage', 'hello world', undefined],
  ];
  for (const [name, line, want] of cases) {
    it(name, () => {
      const p = parseTcpdumpLine(line);
      if (want === undefined) {
        assert.equal(p, undefined);
        return;
      }
      assert.ok(p, 'parsed');
      for (const [k, v] of Object.entries(want)) {
        assert.deepEqual(p[k as keyof TcpdumpPacket], v, k);
      }
    });
  }

  it('counts unparseable lines and ignores tcpdump chatter and blank lines', () => {
    const text = [
      'reading from file c.pcap, link-type EN10MB (Ethernet), snapshot length 128',
      '1700000000.000001 IP6 fe00::1 > fc01::1: ICMP6, echo request, id 1, seq 1, length 64',
      '',
      '1700000000.000002 ARP, Reply 10.0.0.1 is-at aa:bb:cc:dd:ee:ff, length 28',
      'garbage',
      '1700000000.000003 IP6 fc01::1 > fe00::1: ICMP6, echo reply, id 1, seq 1, length 64',
    ].join('\n');
    const { packets, counts } = parseTcpdump(text);
    assert.equal(packets.length, 2);
    assert.deepEqual(counts, {
      lines: 6,
      records: 2,
      ignored: 2,
      unparsed: 2,
      firstUnparsed: '1700000000.000002 ARP, Reply 10.0.0.1 is-at aa:bb:cc:dd:ee:ff, length 28',
    });
  });
});

describe('scanTcpdump (streaming)', () => {
  it('gives the same packets as parseTcpdump from chunks cut anywhere, as bytes', async () => {
    const text = capture('tcpdump-ping-d.txt');
    const bytes = new TextEncoder().encode(text);
    // 7-byte chunks split lines and addresses at every possible place.
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) =>
      bytes.subarray(i * 7, i * 7 + 7),
    );
    const seen: TcpdumpPacket[] = [];
    const counts = await scanTcpdump(readLines(chunks), (p) => seen.push(p));
    const whole = parseTcpdump(text);
    assert.deepEqual(counts, whole.counts);
    assert.deepEqual(seen, whole.packets);
  });

  it('streams a large capture without keeping it', async () => {
    const n = 200_000;
    function* lines() {
      for (let i = 0; i < n; i++) {
        yield `1700000000.${String(i).padStart(9, '0')} IP6 fe00::1 > fc01::1: ICMP6, echo request, id 1, seq ${i % 65536}, length 64`;
      }
    }
    let requests = 0;
    let last = 0;
    const counts = await scanTcpdump(lines(), (p) => {
      requests++;
      last = p.tMs;
    });
    assert.equal(counts.records, n);
    assert.equal(requests, n);
    assert.ok(Math.abs(last - (1700000000000 + (n - 1) / 1e6)) < 0.001);
  });
});
