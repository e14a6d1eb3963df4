// The deterministic test byte stream both ends of a duplex transfer agree on without storing it:
// byte `offset` of the stream is `patternByte(offset)`. Lost, repeated or reordered bytes show up
// as mismatches: a skip of 256·k bytes shifts the pattern (the 7·⌊x/256⌋ term), of 65,536·k or
// 2^24·k bytes too (the ⌊x/65536⌋ and ⌊x/2^24⌋ terms), so it is not periodic below 2^32 bytes.

const TWO_32 = 2 ** 32;

/** Byte `offset` (an integer ≥ 0, below 2^53) of the pattern stream. */
export function patternByte(offset: number): number {
  const x = offset % TWO_32;
  const high = Math.floor(offset / TWO_32);
  // 31·x < 2^37 and the other terms are small: the sum is an exact integer, `& 0xff` takes its low byte.
  return (x * 31 + (x >>> 8) * 7 + (x >>> 16) + (x >>> 24) * 3 + high * 13) & 0xff;
}

/**
 * Fills `buf` with the pattern bytes `offset … offset + buf.length - 1`. Within one aligned block
 * of 256 bytes only the 31·x term changes, so each next byte is the previous one plus 31.
 */
export function fillPattern(buf: Uint8Array, offset: number): void {
  let i = 0;
  while (i < buf.length) {
    const x = offset + i;
    const end = Math.min(buf.length, i + (256 - (x % 256)));
    let v = patternByte(x);
    for (; i < end; i++) {
      buf[i] = v;
      v = (v + 31) & 0xff;
    }
  }
}

const scratch = Buffer.alloc(64 * 1024);

/**
 * Compares `data` with the pattern at `offset`. Returns how many bytes differ and the stream
 * offset of the first one (null when none).
 */
export function checkPattern(
  data: Uint8Array,
  offset: number,
): { mismatches: number; first: number | null } {
  let mismatches = 0;
  let first: number | null = null;
  for (let start = 0; start < data.length; start += scratch.length) {
    const part = data.subarray(start, Math.min(data.length, start + scratch.length));
    const expected = scratch.subarray(0, part.length);
    fillPattern(expected, offset + start);
    if (Buffer.compare(part, expected) === 0) continue;
    for (let i = 0; i < part.length; i++) {
      if (part[i] !== expected[i]) {
        mismatches++;
        if (first === null) first = offset + start + i;
      }
    }
  }
  return { mismatches, first };
}
