import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AF_INET6,
  attr,
  attrs,
  errorCode,
  findAttr,
  messages,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nested,
  nfMessage,
  strAttr,
  u8Attr,
  u16beAttr,
  u32beAttr,
} from '../../src/netlink/codec.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('attr', () => {
  const cases: [number, string][] = [
    [0, '04000700'],
    [1, '05000700aa000000'],
    [2, '06000700aaaa0000'],
    [3, '07000700aaaaaa00'],
    [4, '08000700aaaaaaaa'],
    [5, '09000700aaaaaaaaaa000000'],
  ];
  for (const [n, expected] of cases) {
    it(`a ${n}-byte payload: length ${4 + n} (unpadded), total padded to 4, zero fill`, () => {
      const a = attr(7, Buffer.alloc(n, 0xaa));
      assert.equal(hex(a), expected);
      assert.equal(a.length % 4, 0);
      assert.equal(a.readUInt16LE(0), 4 + n);
    });
  }

  it('writes the type little-endian as given (flags included)', () => {
    const a = attr(0x8123, Buffer.alloc(0));
    assert.equal(a.readUInt16LE(2), 0x8123);
  });

  it('copies the payload (later changes to the source do not show)', () => {
    const src = Buffer.from([1, 2, 3, 4]);
    const a = attr(1, src);
    src[0] = 9;
    assert.equal(hex(a), '0800010001020304');
  });
});

describe('nested', () => {
  it('sets NLA_F_NESTED and concatenates the parts as the payload', () => {
    const inner1 = u8Attr(1, 5);
    const inner2 = u16beAttr(2, 0x1234);
    const n = nested(3, inner1, inner2);
    assert.equal(n.readUInt16LE(2), 3 | NLA_F_NESTED);
    assert.equal(n.readUInt16LE(0), 4 + inner1.length + inner2.length);
    assert.equal(hex(n.subarray(4)), hex(Buffer.concat([inner1, inner2])));
  });

  it('with no parts is a bare 4-byte header', () => {
    assert.equal(hex(nested(2)), '04000280');
  });
});

describe('typed attributes', () => {
  it('strAttr: UTF-8 with a terminating NUL, length counts the NUL, padded to 4', () => {
    const a = strAttr(1, 'flowmig');
    // 4 + 7 + 1 = 12: no padding needed
    assert.equal(a.readUInt16LE(0), 12);
    assert.equal(a.length, 12);
    assert.equal(a.subarray(4).toString('latin1'), 'flowmig\0');
    const b = strAttr(2, 'dnat_to');
    assert.equal(b.readUInt16LE(0), 12);
    const c = strAttr(2, 'snat_from');
    assert.equal(c.readUInt16LE(0), 14);
    assert.equal(c.length, 16);
    assert.equal(hex(c.subarray(4)), `${Buffer.from('snat_from').toString('hex')}000000`);
    const empty = strAttr(3, '');
    assert.equal(hex(empty), '0500030000000000');
  });

  it('u32beAttr: 4 bytes big-endian', () => {
    assert.equal(hex(u32beAttr(5, 0x01020304)), '0800050001020304');
    assert.equal(hex(u32beAttr(5, 0xffffffff)), '08000500ffffffff');
  });

  it('u16beAttr: 2 bytes big-endian, padded', () => {
    assert.equal(hex(u16beAttr(6, 0xabcd)), '06000600abcd0000');
  });

  it('u8Attr: 1 byte, padded', () => {
    assert.equal(hex(u8Attr(9, 0x7f)), '050009007f000000');
  });
});

describe('nfMessage', () => {
  it('lays out nlmsghdr (LE) and nfgenmsg (res_id BE) then the payload', () => {
    const payload = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const m = nfMessage(0x0a0c, NLM_F_REQUEST | NLM_F_ACK, 0x01020304, AF_INET6, payload, 0x0a0b);
    assert.equal(m.length, 24);
    assert.equal(m.readUInt32LE(0), 24);
    assert.equal(m.readUInt16LE(4), 0x0a0c);
    assert.equal(m.readUInt16LE(6), NLM_F_REQUEST | NLM_F_ACK);
    assert.equal(m.readUInt32LE(8), 0x01020304);
    assert.equal(m.readUInt32LE(12), 0, 'port id 0');
    assert.equal(m[16], AF_INET6);
    assert.equal(m[17], 0, 'nfgenmsg version 0');
    assert.equal(m[18], 0x0a, 'res_id high byte first');
    assert.equal(m[19], 0x0b);
    assert.equal(hex(m.subarray(20)), 'deadbeef');
  });

  it('exact bytes of an empty message', () => {
    assert.equal(
      hex(nfMessage(0x10, NLM_F_REQUEST, 7, 0, undefined, 10)),
      ['14000000', '1000', '0100', '07000000', '00000000', '00', '00', '000a'].join(''),
    );
  });

  it('defaults: no payload, res_id 0', () => {
    const m = nfMessage(3, 0, 1, AF_INET6);
    assert.equal(m.length, 20);
    assert.equal(m.readUInt16BE(18), 0);
  });

  it('wraps a negative or oversized seq to 32 bits', () => {
    assert.equal(nfMessage(1, 0, -1, 0).readUInt32LE(8), 0xffffffff);
    assert.equal(nfMessage(1, 0, 2 ** 32 + 5, 0).readUInt32LE(8), 5);
  });
});

describe('messages', () => {
  it('splits concatenated messages and gives type, flags, seq and the body after nlmsghdr', () => {
    const a = nfMessage(0x100, NLM_F_REQUEST | NLM_F_DUMP, 1, AF_INET6, u8Attr(1, 1));
    const b = nfMessage(0x102, NLM_F_CREATE, 2, AF_INET6);
    const c = nfMessage(3, 0, 3, 0, strAttr(2, 'x'));
    const out = [...messages(Buffer.concat([a, b, c]))];
    assert.deepEqual(
      out.map((m) => [m.type, m.flags, m.seq, m.body.length]),
      [
        [0x100, NLM_F_REQUEST | NLM_F_DUMP, 1, a.length - 16],
        [0x102, NLM_F_CREATE, 2, 4],
        [3, 0, 3, c.length - 16],
      ],
    );
    assert.equal(hex(out[0]?.body ?? Buffer.alloc(0)), hex(a.subarray(16)));
    assert.equal(out[1]?.body[0], AF_INET6);
  });

  it('steps over the alignment padding of a message whose length is not a multiple of 4', () => {
    // A hand-made message with a declared length of 18 (2 body bytes), padded to 20.
    const odd = Buffer.alloc(20);
    odd.writeUInt32LE(18, 0);
    odd.writeUInt16LE(0x55, 4);
    odd.writeUInt32LE(9, 8);
    odd[16] = 0xab;
    odd[17] = 0xcd;
    const next = nfMessage(0x66, 0, 10, 0);
    const out = [...messages(Buffer.concat([odd, next]))];
    assert.deepEqual(
      out.map((m) => [m.type, m.seq, hex(m.body)]),
      [
        [0x55, 9, 'abcd'],
        [0x66, 10, '00000000'],
      ],
    );
  });

  it('yields nothing for an empty buffer or one shorter than a header', () => {
    assert.deepEqual([...messages(Buffer.alloc(0))], []);
    assert.deepEqual([...messages(Buffer.alloc(15))], []);
  });

  it('stops cleanly at a truncated message, keeping the complete ones before it', () => {
    const a = nfMessage(1, 0, 1, 0);
    const b = nfMessage(2, 0, 2, 0, Buffer.alloc(40));
    const data = Buffer.concat([a, b.subarray(0, b.length - 1)]);
    assert.deepEqual(
      [...messages(data)].map((m) => m.seq),
      [1],
    );
  });

  it('stops at a declared length below the header size (no endless loop on length 0)', () => {
    const a = nfMessage(1, 0, 1, 0);
    const zero = Buffer.alloc(32); // length 0
    const tiny = Buffer.alloc(32);
    tiny.writeUInt32LE(8, 0);
    assert.deepEqual(
      [...messages(Buffer.concat([a, zero, nfMessage(2, 0, 2, 0)]))].map((m) => m.seq),
      [1],
    );
    assert.deepEqual([...messages(tiny)], []);
  });

  it('stops at a length larger than the data', () => {
    const big = Buffer.alloc(64);
    big.writeUInt32LE(0xffffffff, 0);
    assert.deepEqual([...messages(big)], []);
  });

  it('ignores trailing garbage shorter than a header', () => {
    const a = nfMessage(1, 0, 1, 0);
    assert.deepEqual(
      [...messages(Buffer.concat([a, Buffer.from([1, 2, 3])]))].map((m) => m.seq),
      [1],
    );
  });

  it('the body is a view of the input (no copy)', () => {
    const data = nfMessage(1, 0, 1, AF_INET6, Buffer.from([1, 2, 3, 4]));
    const [m] = [...messages(data)];
    assert.ok(m);
    data[20] = 0x99;
    assert.equal(m.body[4], 0x99);
  });
});

describe('attrs and findAttr', () => {
  const payload = Buffer.concat([
    u8Attr(1, 0x11),
    nested(2, u32beAttr(1, 7), strAttr(2, 'ab')),
    attr(3 | 0x4000, Buffer.from([1, 2])), // NLA_F_NET_BYTEORDER
    strAttr(4, 'hello'),
  ]);

  it('walks the attributes in order, NESTED and BYTEORDER flags masked off', () => {
    const list = [...attrs(payload)];
    assert.deepEqual(
      list.map((a) => a.type),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      list.map((a) => a.payload.length),
      [1, 8 + 8, 2, 6],
    );
  });

  it('payload excludes the header and padding; raw is the header plus payload', () => {
    const list = [...attrs(payload)];
    const u8 = list[0];
    assert.ok(u8);
    assert.equal(hex(u8.payload), '11');
    assert.equal(hex(u8.raw), '0500010011');
    const n = list[1];
    assert.ok(n);
    assert.equal(n.raw.readUInt16LE(2), 2 | NLA_F_NESTED, 'raw keeps the flag');
    assert.equal(n.raw.length, 4 + n.payload.length);
    assert.equal(hex(n.raw.subarray(4)), hex(n.payload));
    assert.equal(list[3]?.payload.toString('latin1'), 'hello\0');
  });

  it('nested attributes decode through the payload', () => {
    const n = findAttr(payload, 2);
    assert.ok(n);
    const inner = [...attrs(n.payload)];
    assert.deepEqual(
      inner.map((a) => [a.type, hex(a.payload)]),
      [
        [1, '00000007'],
        [2, '616200'],
      ],
    );
  });

  it('findAttr returns the first attribute of the type, or undefined', () => {
    const twice = Buffer.concat([u8Attr(5, 1), u8Attr(5, 2)]);
    assert.equal(findAttr(twice, 5)?.payload[0], 1);
    assert.equal(findAttr(payload, 9), undefined);
    assert.equal(findAttr(Buffer.alloc(0), 1), undefined);
  });

  it('findAttr matches a nested attribute by its type without the flag', () => {
    assert.ok(findAttr(payload, 2));
    assert.equal(findAttr(payload, 2 | NLA_F_NESTED), undefined);
  });

  it('stops at a truncated attribute, a length below 4, or trailing bytes', () => {
    const ok = u8Attr(1, 1);
    const cut = u32beAttr(2, 5).subarray(0, 6);
    assert.deepEqual(
      [...attrs(Buffer.concat([ok, cut]))].map((a) => a.type),
      [1],
    );
    const zero = Buffer.alloc(8); // length 0
    assert.deepEqual(
      [...attrs(Buffer.concat([ok, zero, u8Attr(3, 3)]))].map((a) => a.type),
      [1],
    );
    assert.deepEqual(
      [...attrs(Buffer.concat([ok, Buffer.from([9, 9])]))].map((a) => a.type),
      [1],
    );
  });

  it('an attribute whose last padding is missing at the end of the buffer is still read', () => {
    // The kernel may leave out the final padding; the declared length fits.
    const a = u8Attr(1, 0x42).subarray(0, 5);
    assert.deepEqual(
      [...attrs(a)].map((x) => hex(x.payload)),
      ['42'],
    );
  });
});

describe('errorCode', () => {
  const body = (n: number) => {
    const b = Buffer.alloc(20);
    b.writeInt32LE(n, 0);
    return b;
  };

  it('is 0 for an ACK (== 0: callers compare with ===)', () => {
    // It is -0 (the negation of 0); === and Map keys treat it as 0.
    assert.ok(errorCode(body(0)) === 0);
    assert.equal(new Map([[0, 'ack']]).get(errorCode(body(0))), 'ack');
  });

  it('negates the kernel’s negative errno', () => {
    assert.equal(errorCode(body(-2)), 2); // ENOENT
    assert.equal(errorCode(body(-17)), 17); // EEXIST
    assert.equal(errorCode(body(-105)), 105); // ENOBUFS
  });
});
