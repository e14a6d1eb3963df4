import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeFrame, parsePcapHeader, scanPcap } from '../../src/metrics/pcap.js';
import { parseTcpdump, type TcpdumpPacket } from '../../src/metrics/tcpdump.js';
import { FIXTURES } from '../kernel-support/lab.js';
import { removeDir, tempDir } from '../support/tmp.js';

const CAPTURES = join(FIXTURES, 'captures');

async function readPcap(path: string): Promise<{ packets: TcpdumpPacket[]; records: number }> {
  const packets: TcpdumpPacket[] = [];
  const r = await scanPcap(path, (p) => packets.push(p));
  return { packets, records: r.records };
}

/** The fields both readers know (tcpdump's text has the interface, the pcap reader does not). */
function core(p: TcpdumpPacket) {
  return {
    tNs: p.tNs,
    src: p.src,
    dst: p.dst,
    kind: p.kind,
    id: p.id,
    seq: p.seq,
    sport: p.sport,
    dport: p.dport,
    flags: p.flags,
    length: p.kind === 'other' ? undefined : p.length,
  };
}

describe('scanPcap agrees with tcpdump -r on real captures', () => {
  for (const name of ['ping-d', 'any-b', 'tcp-d', 'udp-load-c']) {
    it(`${name}.pcap`, async () => {
      const { packets, records } = await readPcap(join(CAPTURES, `${name}.pcap`));
      const text = await readFile(join(CAPTURES, `${name}.pcap.txt`), 'utf8');
      const expected = parseTcpdump(text).packets;
      assert.equal(records, text.trim().split('\n').length, 'one record per line tcpdump printed');
      assert.equal(packets.length, expected.length);
      packets.forEach((p, i) => {
        const e = expected[i];
        assert.ok(e);
        assert.deepEqual(core(p), core(e), `packet ${i + 1}`);
        assert.equal(p.tMs, Number(p.tNs) / 1e6);
      });
    });
  }

  it('reads the echo requests, their ids and sequence numbers (ping-d)', async () => {
    const { packets } = await readPcap(join(CAPTURES, 'ping-d.pcap'));
    const echo = packets.filter((p) => p.kind === 'echo-request');
    assert.ok(echo.length > 190);
    for (const p of echo) {
      assert.equal(p.src, 'fe00::1', 'the translator gives requests the abstract source');
      assert.equal(p.dst, 'fc02::2');
      assert.equal(p.length, 64);
    }
    const seqs = echo.map((p) => p.seq ?? -1);
    assert.ok(
      seqs.every((s, i) => i === 0 || s > (seqs[i - 1] ?? 0)),
      'ascending sequence',
    );
  });

  it('reads the reset D sends for a connection it has no socket for (tcp-d)', async () => {
    const { packets } = await readPcap(join(CAPTURES, 'tcp-d.pcap'));
    const reset = packets.find((p) => p.flags?.startsWith('R'));
    assert.ok(reset, 'a reset');
    assert.equal(reset.kind, 'tcp');
    assert.equal(reset.sport, 5555);
  });
});

describe('scanPcap on damaged input', () => {
  it('ignores half a record at the end (tcpdump stopped while writing)', async () => {
    const dir = await tempDir('pcap');
    try {
      const whole = await readFile(join(CAPTURES, 'ping-d.pcap'));
      const cut = join(dir, 'cut.pcap');
      await writeFile(cut, whole.subarray(0, whole.length - 10));
      const { packets } = await readPcap(cut);
      assert.equal(packets.length, 199);
    } finally {
      await removeDir(dir);
    }
  });

  it('refuses what is not a pcap file, naming it', async () => {
    const dir = await tempDir('pcap');
    try {
      const path = join(dir, 'x.pcap');
      await writeFile(path, 'this is text, not a capture, and long enough to read');
      await assert.rejects(
        scanPcap(path, () => {}),
        /x\.pcap: not a pcap file/,
      );
      await writeFile(path, 'short');
      await assert.rejects(
        scanPcap(path, () => {}),
        /shorter than its header/,
      );
    } finally {
      await removeDir(dir);
    }
  });

  it('reads both byte orders and both time precisions from the header', () => {
    const h = Buffer.alloc(24);
    h.writeUInt32BE(0xa1b23c4d, 0);
    h.writeUInt32BE(1, 20);
    assert.deepEqual(parsePcapHeader(h), { littleEndian: false, nano: true, linkType: 1 });
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt32LE(113, 20);
    assert.deepEqual(parsePcapHeader(h), { littleEndian: true, nano: false, linkType: 113 });
  });

  it('a frame that is not IPv6, or cut before its IPv6 header, is no packet', () => {
    const arp = Buffer.alloc(60);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(decodeFrame(arp, 1, 0n), undefined);
    const short = Buffer.alloc(30);
    short.writeUInt16BE(0x86dd, 12);
    assert.equal(decodeFrame(short, 1, 0n), undefined);
  });
});
