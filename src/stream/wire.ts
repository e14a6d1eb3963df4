// The `stream` app's wire format, spoken by the server app (serve/apps.ts) and its client
// (traffic/tcp-duplex.ts): the client's header and the server's trailer around the pattern bytes.

/**
 * The client's header: magic, how many pattern bytes it wants, how many it will send (u64 BE).
 * Then both directions carry the pattern from offset 0; once the server has sent and received
 * everything it sends the trailer and ends its side.
 */
export const STREAM_MAGIC = 'FMS1';
export const STREAM_HEADER_BYTES = 20;
/** The server's trailer: magic, bytes received (u64), mismatches (u32), CRC-32 of them (u32). */
export const STREAM_TRAILER_MAGIC = 'FMSE';
export const STREAM_TRAILER_BYTES = 20;

export function encodeStreamHeader(wantBytes: number, sendBytes: number): Buffer {
  const b = Buffer.alloc(STREAM_HEADER_BYTES);
  b.write(STREAM_MAGIC, 0, 'latin1');
  b.writeBigUInt64BE(BigInt(wantBytes), 4);
  b.writeBigUInt64BE(BigInt(sendBytes), 12);
  return b;
}

export interface StreamTrailer {
  readonly received: number;
  readonly mismatches: number;
  readonly crc: number;
}

export function encodeStreamTrailer(t: StreamTrailer): Buffer {
  const b = Buffer.alloc(STREAM_TRAILER_BYTES);
  b.write(STREAM_TRAILER_MAGIC, 0, 'latin1');
  b.writeBigUInt64BE(BigInt(t.received), 4);
  b.writeUInt32BE(Math.min(t.mismatches, 0xffff_ffff), 12);
  b.writeUInt32BE(t.crc >>> 0, 16);
  return b;
}

export function decodeStreamTrailer(b: Buffer): StreamTrailer | undefined {
  if (b.length !== STREAM_TRAILER_BYTES || b.toString('latin1', 0, 4) !== STREAM_TRAILER_MAGIC)
    return undefined;
  return {
    received: Number(b.readBigUInt64BE(4)),
    mismatches: b.readUInt32BE(12),
    crc: b.readUInt32BE(16),
  };
}
