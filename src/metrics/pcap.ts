// Reads the pcap files tcpdump writes (`-w`), record by record, without running tcpdump again:
// an experiment's captures hold millions of packets, and `tcpdump -r` text is ~10× slower to
// produce and parse. Yields the same packet records as the text parser (tcpdump.ts).
import { createReadStream } from 'node:fs';
import { addressFromBytes } from '../net/ipv6.js';
import type { PacketKind, TcpdumpPacket } from './tcpdump.js';

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
/** Link types: Ethernet (a veth), Linux cooked v1 and v2 (`-i any`), raw IP. */
const LINK_ETHERNET = 1;
const LINK_RAW = 101;
const LINK_SLL = 113;
const LINK_SLL2 = 276;

export interface PcapHeader {
  readonly littleEndian: boolean;
  readonly nano: boolean;
  readonly linkType: number;
}

/** The 24-byte global header, or an Error saying what is wrong. */
export function parsePcapHeader(b: Uint8Array): PcapHeader | Error {
  if (b.length < 24) return new Error('not a pcap file: shorter than its header');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const littleEndian of [true, false]) {
    const magic = v.getUint32(0, littleEndian);
    if (magic === MAGIC_MICRO || magic === MAGIC_NANO)
      return { littleEndian, nano: magic === MAGIC_NANO, linkType: v.getUint32(20, littleEndian) };
  }
  return new Error('not a pcap file (pcapng is not read; capture with tcpdump -w)');
}

/** Offset of the IPv6 header in a frame of the link type, or -1 when the frame is not IPv6. */
function ipv6Offset(frame: Uint8Array, linkType: number): number {
  const at16 = (i: number) => ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
  const ETH_IPV6 = 0x86dd;
  switch (linkType) {
    case LINK_ETHERNET: {
      let off = 12;
      while (at16(off) === 0x8100 || at16(off) === 0x88a8) off += 4; // VLAN tags
      return at16(off) === ETH_IPV6 ? off + 2 : -1;
    }
    case LINK_SLL:
      return at16(14) === ETH_IPV6 ? 16 : -1;
    case LINK_SLL2:
      return at16(0) === ETH_IPV6 ? 20 : -1;
    case LINK_RAW:
      return (frame[0] ?? 0) >> 4 === 6 ? 0 : -1;
    default:
      return -1;
  }
}

const TCP_FLAGS: [number, string][] = [
  [0x02, 'S'],
  [0x01, 'F'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x20, 'U'],
];

/** tcpdump's spelling of TCP flags: S, F, R, P, U in that order, then `.` for ACK. */
function tcpFlags(byte: number): string {
  let s = '';
  for (const [bit, name] of TCP_FLAGS) if (byte & bit) s += name;
  if (byte & 0x10) s += '.';
  return s || 'none';
}

/** Address texts by their bytes: a capture holds millions of packets among a few addresses. */
const addressCache = new Map<string, string>();

function address(bytes: Uint8Array): string {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('latin1');
  let text = addressCache.get(key);
  if (text === undefined) {
    text = addressFromBytes(bytes);
    if (addressCache.size < 10_000) addressCache.set(key, text);
  }
  return text;
}

/** Decodes one captured frame (possibly cut at the snap length) into a packet record. */
export function decodeFrame(
  frame: Uint8Array,
  linkType: number,
  tNs: bigint,
): TcpdumpPacket | undefined {
  const ip = ipv6Offset(frame, linkType);
  if (ip < 0 || frame.length < ip + 40) return undefined;
  const payloadLength = ((frame[ip + 4] ?? 0) << 8) | (frame[ip + 5] ?? 0);
  const next = frame[ip + 6] ?? 0;
  const base = {
    tMs: Number(tNs) / 1e6,
    tNs,
    src: address(frame.subarray(ip + 8, ip + 24)),
    dst: address(frame.subarray(ip + 24, ip + 40)),
  };
  const l4 = ip + 40; // extension headers are not followed (flowmig's traffic has none)
  const u16 = (i: number) => ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0);
  const have = (n: number) => frame.length >= l4 + n;
  if (next === 58 && have(4)) {
    const type = frame[l4] ?? 0;
    const kind: PacketKind = type === 128 ? 'echo-request' : type === 129 ? 'echo-reply' : 'other';
    if (kind !== 'other' && have(8))
      return { ...base, kind, id: u16(l4 + 4), seq: u16(l4 + 6), length: payloadLength };
    return { ...base, kind: 'other', length: payloadLength, icmp: `type ${type}` };
  }
  if (next === 17 && have(8))
    return {
      ...base,
      kind: 'udp',
      sport: u16(l4),
      dport: u16(l4 + 2),
      length: Math.max(0, u16(l4 + 4) - 8),
    };
  if (next === 6 && have(14)) {
    const dataOffset = ((frame[l4 + 12] ?? 0) >> 4) * 4;
    return {
      ...base,
      kind: 'tcp',
      sport: u16(l4),
      dport: u16(l4 + 2),
      flags: tcpFlags(frame[l4 + 13] ?? 0),
      length: Math.max(0, payloadLength - dataOffset),
    };
  }
  return { ...base, kind: 'other', length: payloadLength };
}

/**
 * Calls `visit` for every IPv6 packet of a pcap file, in file order (tcpdump writes them in
 * capture order). Returns how many records were read and how many were not IPv6 or were cut
 * short. A file that tcpdump was stopped while writing may end in half a record: it is ignored.
 */
export async function scanPcap(
  path: string,
  visit: (packet: TcpdumpPacket) => void,
): Promise<{ records: number; skipped: number }> {
  let header: PcapHeader | undefined;
  let pending: Buffer = Buffer.alloc(0);
  let records = 0;
  let skipped = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    let buf = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
    let off = 0;
    if (!header) {
      if (buf.length < 24) {
        pending = buf;
        continue;
      }
      const h = parsePcapHeader(buf);
      if (h instanceof Error) throw new Error(`${path}: ${h.message}`);
      header = h;
      off = 24;
    }
    const le = header.littleEndian;
    while (off + 16 <= buf.length) {
      const sec = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
      const frac = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      const caplen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
      if (off + 16 + caplen > buf.length) break;
      const tNs = BigInt(sec) * 1_000_000_000n + BigInt(header.nano ? frac : frac * 1000);
      const p = decodeFrame(buf.subarray(off + 16, off + 16 + caplen), header.linkType, tNs);
      records++;
      if (p) visit(p);
      else skipped++;
      off += 16 + caplen;
    }
    pending = Buffer.from(buf.subarray(off));
    buf = pending;
  }
  if (!header) throw new Error(`${path}: not a pcap file: shorter than its header`);
  return { records, skipped };
}
