// Netlink message and attribute encoding/decoding (pure): nlmsghdr + nfgenmsg + TLV attributes.

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_CREATE = 0x400;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLA_F_NESTED = 0x8000;
export const AF_INET6 = 10;
export const NETLINK_NETFILTER = 12;

const align = (n: number) => (n + 3) & ~3;

/** One attribute: 4-byte header (length, type) + payload, padded to 4 bytes. */
export function attr(type: number, payload: Uint8Array): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  b.set(payload, 4);
  return b;
}

export function nested(type: number, ...parts: Uint8Array[]): Buffer {
  return attr(type | NLA_F_NESTED, Buffer.concat(parts));
}

export function strAttr(type: number, value: string): Buffer {
  return attr(type, Buffer.from(`${value}\0`, 'utf8'));
}

export function u32beAttr(type: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return attr(type, b);
}

export function u8Attr(type: number, value: number): Buffer {
  return attr(type, Buffer.from([value]));
}

export function u16beAttr(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value, 0);
  return attr(type, b);
}

/** nlmsghdr (16 bytes) + nfgenmsg (family, version 0, res_id big-endian) + payload. */
export function nfMessage(
  type: number,
  flags: number,
  seq: number,
  family: number,
  payload: Uint8Array = Buffer.alloc(0),
  resId = 0,
): Buffer {
  const b = Buffer.alloc(20 + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt8(family, 16);
  b.writeUInt8(0, 17);
  b.writeUInt16BE(resId, 18);
  b.set(payload, 20);
  return b;
}

export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  /** Everything after the 16-byte nlmsghdr. */
  readonly body: Buffer;
}

/** Splits a datagram into netlink messages. */
export function* messages(data: Buffer): Generator<NlMessage> {
  let off = 0;
  while (off + 16 <= data.length) {
    const len = data.readUInt32LE(off);
    if (len < 16 || off + len > data.length) return;
    yield {
      type: data.readUInt16LE(off + 4),
      flags: data.readUInt16LE(off + 6),
      seq: data.readUInt32LE(off + 8),
      body: data.subarray(off + 16, off + len),
    };
    off += align(len);
  }
}

export interface NlAttr {
  /** Type without the NESTED/BYTEORDER flags. */
  readonly type: number;
  readonly payload: Buffer;
  /** The whole attribute, header included (to send it back verbatim). */
  readonly raw: Buffer;
}

export function* attrs(buf: Buffer): Generator<NlAttr> {
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) return;
    yield {
      type: buf.readUInt16LE(off + 2) & 0x3fff,
      payload: buf.subarray(off + 4, off + len),
      raw: buf.subarray(off, off + len),
    };
    off += align(len);
  }
}

export function findAttr(buf: Buffer, type: number): NlAttr | undefined {
  for (const a of attrs(buf)) if (a.type === type) return a;
  return undefined;
}

/** The errno of an NLMSG_ERROR body (0 = ACK), negated to a positive number. */
export function errorCode(body: Buffer): number {
  // 0 - x, not -x: an acknowledgement is 0, not -0.
  return 0 - body.readInt32LE(0);
}
