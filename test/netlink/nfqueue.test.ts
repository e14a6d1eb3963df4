// The nfqueue codec, table-driven: the requests byte for byte as a real queue took them, and the
// kernel's answers (acknowledgements, a queued packet) read back with the codec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attrs, errorCode, messages, NLMSG_ERROR } from '../../src/netlink/codec.js';
import {
  acceptUpTo,
  bindRequest,
  NF_ACCEPT,
  NFQNL_MSG_PACKET,
  packetId,
  paramsRequest,
  unbindRequest,
} from '../../src/netlink/nfqueue.js';
import {
  ACCEPT_UP_TO_1_SEQ3,
  ACKS,
  BIND_7710_SEQ1,
  PACKET_ID_1,
  PARAMS_7710_SEQ2,
  UNBIND_7710_SEQ4,
} from './nfqueue-samples.js';

const hex = (b: Buffer) => b.toString('hex');
const bytes = (h: string) => Buffer.from(h, 'hex');

describe('nfqueue requests (captured from a real queue)', () => {
  const cases: [string, () => Buffer, string][] = [
    ['bind', () => bindRequest(7710, 1), BIND_7710_SEQ1],
    ['params: metadata only, 16384 packets', () => paramsRequest(7710, 2, 16384), PARAMS_7710_SEQ2],
    ['batch verdict: accept up to id 1', () => acceptUpTo(7710, 1, 3), ACCEPT_UP_TO_1_SEQ3],
    ['unbind', () => unbindRequest(7710, 4), UNBIND_7710_SEQ4],
  ];
  for (const [what, make, captured] of cases) it(what, () => assert.equal(hex(make()), captured));

  it('the header: length, type (subsystem 3), flags, seq, AF_UNSPEC, queue number big-endian', () => {
    const cases: [Buffer, number, number, number][] = [
      // [message, type, flags, seq]
      [bindRequest(1, 7), 0x0302, 0x5, 7],
      [unbindRequest(1, 8), 0x0302, 0x5, 8],
      [paramsRequest(1, 9, 10), 0x0302, 0x5, 9],
      // The verdict asks for no acknowledgement (NLM_F_REQUEST only).
      [acceptUpTo(1, 5, 10), 0x0303, 0x1, 10],
    ];
    for (const [m, type, flags, seq] of cases) {
      assert.equal(m.readUInt32LE(0), m.length);
      assert.equal(m.readUInt16LE(4), type);
      assert.equal(m.readUInt16LE(6), flags);
      assert.equal(m.readUInt32LE(8), seq);
      assert.equal(m.readUInt8(16), 0, 'AF_UNSPEC');
      assert.equal(m.readUInt16BE(18), 1, 'queue number');
    }
    assert.equal(bindRequest(65535, 1).readUInt16BE(18), 65535);
  });

  it('bind and unbind differ in their command only', () => {
    const attr = (m: Buffer) => [...attrs(m.subarray(20))];
    assert.deepEqual(
      attr(bindRequest(7, 1)).map((a) => [a.type, hex(a.payload)]),
      [[1, '01000000']],
    );
    assert.deepEqual(
      attr(unbindRequest(7, 1)).map((a) => [a.type, hex(a.payload)]),
      [[1, '02000000']],
    );
  });

  it('params: copy range 0 and mode META, then the queue length (u32 big-endian)', () => {
    const [params, maxLen] = [...attrs(paramsRequest(7, 1, 0x01020304).subarray(20))];
    assert.deepEqual([params?.type, hex(params?.payload ?? Buffer.alloc(0))], [2, '0000000001']);
    assert.deepEqual([maxLen?.type, hex(maxLen?.payload ?? Buffer.alloc(0))], [3, '01020304']);
  });

  it('the verdict: NF_ACCEPT and the highest id, both big-endian; ids use all 32 bits', () => {
    const [verdict] = [...attrs(acceptUpTo(7, 0xfffffffe, 1).subarray(20))];
    assert.equal(verdict?.type, 2);
    assert.equal(verdict?.payload.readUInt32BE(0), NF_ACCEPT);
    assert.equal(verdict?.payload.readUInt32BE(4), 0xfffffffe);
    // A negative number wraps as the kernel's u32 does.
    assert.equal(
      [...attrs(acceptUpTo(7, -1, 1).subarray(20))][0]?.payload.readUInt32BE(4),
      0xffffffff,
    );
  });
});

describe('nfqueue answers (captured from a real queue)', () => {
  it('each request that asked for one is acknowledged: NLMSG_ERROR with errno 0 and its seq', () => {
    const read = ACKS.map((h) => {
      const [m] = [...messages(bytes(h))];
      assert.ok(m);
      return [m.type, m.seq, errorCode(m.body)];
    });
    assert.deepEqual(read, [
      [NLMSG_ERROR, 1, 0],
      [NLMSG_ERROR, 2, 0],
      [NLMSG_ERROR, 4, 0],
    ]);
  });

  it('a queued packet: NFQNL_MSG_PACKET for the queue; its id read from NFQA_PACKET_HDR', () => {
    const [m] = [...messages(bytes(PACKET_ID_1))];
    assert.ok(m);
    assert.equal(m.type, NFQNL_MSG_PACKET);
    assert.equal(m.body.readUInt8(0), 10, 'AF_INET6');
    assert.equal(m.body.readUInt16BE(2), 7710, 'the queue');
    assert.equal(packetId(m.body), 1);
    // Metadata only: no NFQA_PAYLOAD (10) was copied.
    assert.deepEqual(
      [...attrs(m.body.subarray(4))].map((a) => a.type),
      [1, 6, 14],
    );
  });

  it('packetId: the header wherever it is among the attributes; undefined without one', () => {
    const body = (...parts: Buffer[]) => Buffer.concat([Buffer.from('0a001e1e', 'hex'), ...parts]);
    const attr = (type: number, payload: string) => {
      const p = bytes(payload);
      const a = Buffer.alloc((4 + p.length + 3) & ~3);
      a.writeUInt16LE(4 + p.length, 0);
      a.writeUInt16LE(type, 2);
      p.copy(a, 4);
      return a;
    };
    const cases: [string, Buffer, number | undefined][] = [
      ['the header first', body(attr(1, '0000002a86dd00')), 42],
      ['after another attribute', body(attr(6, '00000001'), attr(1, 'ffffffff86dd00')), 0xffffffff],
      ['no header', body(attr(6, '00000001')), undefined],
      ['a header too short for an id', body(attr(1, '0000')), undefined],
      ['no attributes at all', body(), undefined],
      ['a truncated attribute', Buffer.concat([body(), bytes('0b000100000000')]), undefined],
    ];
    for (const [what, b, id] of cases) assert.equal(packetId(b), id, what);
  });
});
