import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPattern, fillPattern, patternByte } from '../../src/stream/pattern.js';

describe('pattern', () => {
  it('is deterministic and a byte', () => {
    for (const o of [0, 1, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3]) {
      const b = patternByte(o);
      assert.ok(Number.isInteger(b) && b >= 0 && b <= 255, `offset ${o}: ${b}`);
      assert.equal(patternByte(o), b);
    }
  });

  it('fillPattern matches patternByte at any offset, across block and 2^32 boundaries', () => {
    for (const offset of [0, 1, 200, 255, 65_530, 2 ** 24 - 3, 2 ** 32 - 700, 12_345_678_901]) {
      const buf = Buffer.alloc(1_500);
      fillPattern(buf, offset);
      for (let i = 0; i < buf.length; i++)
        assert.equal(buf[i], patternByte(offset + i), `offset ${offset + i}`);
    }
  });

  it('is not periodic at small or power-of-two periods', () => {
    const a = Buffer.alloc(4_096);
    fillPattern(a, 0);
    for (const period of [1, 2, 16, 255, 256, 257, 1_024, 65_536, 2 ** 24, 2 ** 31]) {
      const b = Buffer.alloc(a.length);
      fillPattern(b, period);
      assert.notDeepEqual(a, b, `period ${period}`);
    }
  });

  it('checkPattern counts mismatches and finds the first', () => {
    const buf = Buffer.alloc(200_000);
    fillPattern(buf, 1_000);
    assert.deepEqual(checkPattern(buf, 1_000), { mismatches: 0, first: null });
    buf[70_000] = (buf[70_000] as number) ^ 1;
    buf[150_001] = (buf[150_001] as number) ^ 0x80;
    assert.deepEqual(checkPattern(buf, 1_000), { mismatches: 2, first: 71_000 });
    // The same bytes, one byte late: nearly everything differs.
    assert.ok(checkPattern(buf.subarray(0, 1_000), 1_001).mismatches > 900);
  });
});
