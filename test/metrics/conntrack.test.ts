import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConntrackRecord,
  parseConntrack,
  parseConntrackLine,
  scanConntrack,
} from '../../src/metrics/conntrack.js';
import { readLines } from '../../src/metrics/lines.js';
import { capture, tally } from './support.js';

describe('parseConntrack on real listings', () => {
  it('conntrack -L -f ipv6 during traffic: icmpv6, udp and tcp entries towards D', () => {
    const { entries, counts } = parseConntrack(capture('conntrack-list.txt'));
    assert.equal(counts.records, 3);
    assert.equal(counts.unparsed, 0);
    assert.deepEqual(entries, [
      {
        protocol: 'icmpv6',
        protocolNumber: 58,
        timeout: 29,
        original: { src: 'fc00::1', dst: 'fe00::1', type: 128, code: 0, id: 8127 },
        reply: { src: 'fc02::2', dst: 'fe00::1', type: 129, code: 0, id: 8127 },
        flags: [],
        mark: 0,
        use: 1,
        extra: {},
      },
      {
        protocol: 'udp',
        protocolNumber: 17,
        timeout: 29,
        original: { src: 'fc00::1', dst: 'fe00::1', sport: 59618, dport: 5555 },
        reply: { src: 'fc02::2', dst: 'fe00::1', sport: 5555, dport: 59618 },
        flags: ['UNREPLIED'],
        mark: 0,
        use: 1,
        extra: {},
      },
      {
        protocol: 'tcp',
        protocolNumber: 6,
        timeout: 431999,
        state: 'ESTABLISHED',
        original: { src: 'fc00::1', dst: 'fe00::1', sport: 59552, dport: 5556 },
        reply: { src: 'fc02::2', dst: 'fe00::1', sport: 5556, dport: 59552 },
        flags: ['ASSURED'],
        mark: 0,
        use: 1,
        extra: {},
      },
    ]);
  });

  it('after the swap to C: two entries, the reset TCP connection gone', () => {
    const { entries } = parseConntrack(capture('conntrack-list-after.txt'));
    assert.deepEqual(
      entries.map((e) => [e.protocol, e.reply.src]),
      [
        ['icmpv6', 'fc01::1'],
        ['udp', 'fc01::1'],
      ],
    );
  });

  it('-o extended,id: the family prefix, and the entry id apart from the ICMP id', () => {
    const { entries, counts } = parseConntrack(capture('conntrack-list-extended.txt'));
    assert.equal(counts.unparsed, 0);
    const [icmp, udp] = entries as [ConntrackRecord, ConntrackRecord];
    assert.equal(icmp.family, 'ipv6');
    assert.equal(icmp.protocol, 'icmpv6');
    assert.equal(icmp.timeout, 22);
    assert.equal(icmp.original.id, 8127);
    assert.equal(icmp.reply.id, 8127);
    assert.equal(icmp.entryId, 1574294065);
    assert.equal(udp.family, 'ipv6');
    assert.equal(udp.entryId, 2596355656);
    assert.equal(udp.original.sport, 59618);
  });

  it('conntrack -E -o timestamp across a swap: 14 events, the swap deletes from userspace', () => {
    const { entries, counts } = parseConntrack(capture('conntrack-events.txt'));
    assert.equal(counts.records, 14);
    assert.equal(counts.unparsed, 0);
    assert.deepEqual(
      tally(entries.map((e) => e.event)),
      new Map([
        ['NEW', 6],
        ['UPDATE', 4],
        ['DESTROY', 4],
      ]),
    );
    // Events come in time order.
    for (let i = 1; i < entries.length; i++) {
      assert.ok((entries[i]?.tMs ?? 0) >= (entries[i - 1]?.tMs ?? 0));
    }
    const first = entries[0] as ConntrackRecord;
    assert.equal(first.tMs, 1795598558978.382);
    assert.equal(first.event, 'NEW');
    assert.deepEqual(first.flags, ['UNREPLIED']);
    assert.equal(first.reply.src, 'fc02::2');

    const deleted = entries.filter((e) => e.flags.includes('USERSPACE'));
    assert.deepEqual(
      deleted.map((e) => [e.event, e.protocol, e.reply.src, e.extra.progname, e.extra.portid]),
      [
        ['DESTROY', 'icmpv6', 'fc02::2', 'node', '134222013'],
        ['DESTROY', 'tcp', 'fc02::2', 'node', '134222013'],
        ['DESTROY', 'udp', 'fc02::2', 'node', '134222013'],
      ],
    );
    // The TCP connection's packet after the swap makes an entry towards C, which C resets.
    const tcpAfter = entries.filter((e) => e.protocol === 'tcp' && e.reply.src === 'fc01::1');
    assert.deepEqual(
      tcpAfter.map((e) => [e.event, e.state, e.flags]),
      [
        ['NEW', 'ESTABLISHED', ['UNREPLIED']],
        ['DESTROY', 'CLOSE', ['UNREPLIED']],
      ],
    );
    // The swap (flowmig's conntrack step) shows as the first DESTROY: issued just before it.
    const firstDestroy = entries.find((e) => e.event === 'DESTROY');
    assert.ok(firstDestroy?.tMs !== undefined);
    assert.ok(firstDestroy.tMs > 1795598560293 && firstDestroy.tMs < 1795598560295);
  });
});

describe('parseConntrackLine edge cases', () => {
  it('zone, mark, secctx and an unknown protocol', () => {
    const e = parseConntrackLine(
      'unknown  41 599 src=fc00::1 dst=fe00::1 src=fe00::1 dst=fc00::1 mark=7 zone=3 secctx=system_u use=2',
    );
    assert.deepEqual(e, {
      protocol: 'unknown',
      protocolNumber: 41,
      timeout: 599,
      original: { src: 'fc00::1', dst: 'fe00::1' },
      reply: { src: 'fe00::1', dst: 'fc00::1' },
      flags: [],
      mark: 7,
      zone: 3,
      use: 2,
      extra: { secctx: 'system_u' },
    });
  });

  it('a destroy event without timeout, with timestamps that hold spaces inside brackets', () => {
    const e = parseConntrackLine(
      ' [DESTROY] udp      17 src=fc00::1 dst=fe00::1 sport=1 dport=2 src=fc01::1 dst=fe00::1 sport=2 dport=1 delta-time=12 [start=Tue Nov 25 09:22:40 2026] [stop=Tue Nov 25 09:22:52 2026]',
    );
    assert.ok(e);
    assert.equal(e.event, 'DESTROY');
    assert.equal(e.tMs, undefined);
    assert.equal(e.timeout, undefined);
    assert.equal(e.original.sport, 1);
    assert.equal(e.reply.src, 'fc01::1');
    assert.deepEqual(e.flags, []);
    assert.deepEqual(e.extra, {
      'delta-time': '12',
      start: 'Tue Nov 25 09:22:40 2026',
      stop: 'Tue Nov 25 09:22:52 2026',
    });
  });

  const rejected: [string, string][] = [
    ['the summary line', 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.'],
    ['one tuple only', 'udp 17 29 src=fc00::1 dst=fe00::1 sport=1 dport=2'],
    ['an empty line', ''],
    ['a stray word after the tuples', 'udp 17 29 src=a dst=b src=c dst=d junk'],
  ];
  for (const [name, line] of rejected) {
    it(`rejects ${name}`, () => assert.equal(parseConntrackLine(line), undefined));
  }

  it('does not count the summary line as unparsed', () => {
    const { counts } = parseConntrack(
      `${capture('conntrack-list.txt')}conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n`,
    );
    assert.equal(counts.records, 3);
    assert.equal(counts.ignored, 1);
    assert.equal(counts.unparsed, 0);
  });
});

describe('scanConntrack (streaming)', () => {
  it('gives the same events as parseConntrack', async () => {
    const text = capture('conntrack-events.txt');
    const seen: ConntrackRecord[] = [];
    const counts = await scanConntrack(readLines([text]), (e) => seen.push(e));
    assert.deepEqual(seen, parseConntrack(text).entries);
    assert.equal(counts.records, 14);
  });
});
