import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressBytes } from '../../src/net/ipv6.js';
import {
  AF_INET6,
  attr,
  findAttr,
  messages,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nested,
  u8Attr,
  u16beAttr,
  u32beAttr,
} from '../../src/netlink/codec.js';
import {
  CT_DELETE,
  CT_GET,
  CT_NEW,
  deleteRequest,
  dumpRequest,
  isDestroyEvent,
  isNewEvent,
  parseEntry,
  topAttrTypes,
} from '../../src/netlink/conntrack.js';

const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_STATUS = 3;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1;
const CTA_IP_V4_DST = 2;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1;
const CTA_PROTO_SRC_PORT = 2;
const CTA_PROTO_DST_PORT = 3;

function tuple(
  type: number,
  src: string,
  dst: string,
  proto: { num: number; sport: number; dport: number },
): Buffer {
  return nested(
    type,
    nested(
      CTA_TUPLE_IP,
      attr(CTA_IP_V6_SRC, addressBytes(src)),
      attr(CTA_IP_V6_DST, addressBytes(dst)),
    ),
    nested(
      CTA_TUPLE_PROTO,
      u8Attr(CTA_PROTO_NUM, proto.num),
      u16beAttr(CTA_PROTO_SRC_PORT, proto.sport),
      u16beAttr(CTA_PROTO_DST_PORT, proto.dport),
    ),
  );
}

/** nfgenmsg (family, version 0, res_id) followed by the attributes. */
function body(family: number, ...parts: Buffer[]): Buffer {
  const h = Buffer.from([family, 0, 0, 0]);
  return Buffer.concat([h, ...parts]);
}

const UDP = { num: 17, sport: 40000, dport: 5555 };
const UDP_REPLY = { num: 17, sport: 5555, dport: 40000 };

/** A DNAT'ed and SNAT'ed UDP flow A → fe00::1 answered by C (fc01::1), as the kernel reports it. */
function translated(sport = UDP.sport, responder = 'fc01::1') {
  const orig = tuple(CTA_TUPLE_ORIG, 'fc00::1', 'fe00::1', { ...UDP, sport });
  const reply = tuple(CTA_TUPLE_REPLY, responder, 'fe00::1', { ...UDP_REPLY, dport: sport });
  return { orig, reply, body: body(AF_INET6, orig, reply, u32beAttr(CTA_STATUS, 0x1a8)) };
}

describe('parseEntry', () => {
  it('reads the original destination and the reply source (the responder)', () => {
    const e = parseEntry(translated().body);
    assert.ok(e);
    assert.equal(e.origDst, 'fe00::1');
    assert.equal(e.replySrc, 'fc01::1');
  });

  it('tuple is the raw CTA_TUPLE_ORIG attribute (header, NESTED flag and all)', () => {
    const t = translated();
    const e = parseEntry(t.body);
    assert.ok(e);
    assert.equal(e.tuple.toString('hex'), t.orig.toString('hex'));
    assert.equal(e.tuple.readUInt16LE(2), CTA_TUPLE_ORIG | NLA_F_NESTED);
  });

  it('tuple is a copy: reusing the receive buffer does not change it', () => {
    const t = translated();
    const e = parseEntry(t.body);
    assert.ok(e);
    const before = e.tuple.toString('hex');
    t.body.fill(0);
    assert.equal(e.tuple.toString('hex'), before);
  });

  it('key is the same for the same tuple and distinct for different tuples', () => {
    const one = parseEntry(translated(40000).body);
    const same = parseEntry(translated(40000, 'fc02::2').body);
    const other = parseEntry(translated(40001).body);
    assert.ok(one && same && other);
    assert.equal(one.key, same.key, 'the reply tuple does not enter the key');
    assert.notEqual(one.key, other.key);
    const otherDst = parseEntry(body(AF_INET6, tuple(CTA_TUPLE_ORIG, 'fc00::1', 'fe00::2', UDP)));
    assert.ok(otherDst);
    assert.notEqual(one.key, otherDst.key);
    assert.equal(Buffer.from(one.key, 'latin1').toString('hex'), one.tuple.toString('hex'));
  });

  it('the attribute order does not matter', () => {
    const t = translated();
    const e = parseEntry(body(AF_INET6, u32beAttr(CTA_STATUS, 1), t.reply, t.orig));
    assert.ok(e);
    assert.equal(e.origDst, 'fe00::1');
    assert.equal(e.replySrc, 'fc01::1');
    assert.equal(e.tuple.toString('hex'), t.orig.toString('hex'));
  });

  it('without a reply tuple, replySrc is undefined', () => {
    const e = parseEntry(body(AF_INET6, tuple(CTA_TUPLE_ORIG, 'fc00::1', 'fe00::1', UDP)));
    assert.ok(e);
    assert.equal(e.origDst, 'fe00::1');
    assert.equal(e.replySrc, undefined);
  });

  it('a non-IPv6 family gives undefined', () => {
    const t = translated();
    assert.equal(parseEntry(body(2, t.orig, t.reply)), undefined); // AF_INET
    assert.equal(parseEntry(body(0, t.orig, t.reply)), undefined);
  });

  it('a body without CTA_TUPLE_ORIG gives undefined', () => {
    const t = translated();
    assert.equal(parseEntry(body(AF_INET6, t.reply)), undefined);
    assert.equal(parseEntry(body(AF_INET6)), undefined);
  });

  it('a body shorter than nfgenmsg gives undefined', () => {
    assert.equal(parseEntry(Buffer.alloc(0)), undefined);
    assert.equal(parseEntry(Buffer.from([AF_INET6, 0, 0])), undefined);
  });

  it('an original tuple without an IPv6 destination gives undefined', () => {
    const noIp = nested(CTA_TUPLE_ORIG, nested(CTA_TUPLE_PROTO, u8Attr(CTA_PROTO_NUM, 17)));
    assert.equal(parseEntry(body(AF_INET6, noIp)), undefined);
    const v4 = nested(
      CTA_TUPLE_ORIG,
      nested(
        CTA_TUPLE_IP,
        attr(CTA_IP_V4_SRC, Buffer.from([10, 0, 0, 1])),
        attr(CTA_IP_V4_DST, Buffer.from([10, 0, 0, 2])),
      ),
    );
    assert.equal(parseEntry(body(AF_INET6, v4)), undefined);
    const shortDst = nested(
      CTA_TUPLE_ORIG,
      nested(CTA_TUPLE_IP, attr(CTA_IP_V6_DST, Buffer.alloc(8))),
    );
    assert.equal(parseEntry(body(AF_INET6, shortDst)), undefined);
  });

  it('a truncated reply source is left out rather than misread', () => {
    const orig = tuple(CTA_TUPLE_ORIG, 'fc00::1', 'fe00::1', UDP);
    const reply = nested(
      CTA_TUPLE_REPLY,
      nested(CTA_TUPLE_IP, attr(CTA_IP_V6_SRC, Buffer.alloc(4))),
    );
    const e = parseEntry(body(AF_INET6, orig, reply));
    assert.ok(e);
    assert.equal(e.replySrc, undefined);
  });

  it('canonical text for destinations that need compression', () => {
    const e = parseEntry(
      body(AF_INET6, tuple(CTA_TUPLE_ORIG, 'fc00::1', 'fe00:0:0:0:0:0:1:0', UDP)),
    );
    assert.equal(e?.origDst, 'fe00::1:0');
  });

  it('topAttrTypes lists the top-level attribute types, flags masked', () => {
    assert.deepEqual(topAttrTypes(translated().body), [
      CTA_TUPLE_ORIG,
      CTA_TUPLE_REPLY,
      CTA_STATUS,
    ]);
  });
});

describe('event classification', () => {
  it('isNewEvent: CT_NEW with NLM_F_CREATE only', () => {
    assert.equal(CT_NEW, 1 << 8);
    assert.equal(isNewEvent(CT_NEW, NLM_F_CREATE), true);
    assert.equal(isNewEvent(CT_NEW, NLM_F_CREATE | 0x200), true);
    assert.equal(isNewEvent(CT_NEW, 0), false, 'an update of an existing entry');
    assert.equal(isNewEvent(CT_DELETE, NLM_F_CREATE), false);
    assert.equal(isNewEvent(CT_GET, NLM_F_CREATE), false);
  });

  it('isDestroyEvent: CT_DELETE only', () => {
    assert.equal(CT_DELETE, (1 << 8) | 2);
    assert.equal(isDestroyEvent(CT_DELETE), true);
    assert.equal(isDestroyEvent(CT_NEW), false);
    assert.equal(isDestroyEvent(CT_GET), false);
    assert.equal(isDestroyEvent(2), false, 'NLMSG_ERROR');
  });
});

describe('requests', () => {
  it('dumpRequest: CT_GET, REQUEST|DUMP, the seq, AF_INET6, no attributes', () => {
    const data = dumpRequest(77);
    const [m, more] = [...messages(data)];
    assert.equal(more, undefined);
    assert.ok(m);
    assert.equal(CT_GET, (1 << 8) | 1);
    assert.equal(m.type, CT_GET);
    assert.equal(m.flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert.equal(m.seq, 77);
    assert.equal(m.body.toString('hex'), '0a000000');
    assert.equal(data.length, 20);
  });

  it('deleteRequest: CT_DELETE, REQUEST|ACK, AF_INET6, payload = the tuple verbatim', () => {
    const t = translated();
    const e = parseEntry(t.body);
    assert.ok(e);
    const data = deleteRequest(e.tuple, 0xfffffffe);
    const [m] = [...messages(data)];
    assert.ok(m);
    assert.equal(m.type, CT_DELETE);
    assert.equal(m.flags, NLM_F_REQUEST | NLM_F_ACK);
    assert.equal(m.seq, 0xfffffffe);
    assert.equal(m.body[0], AF_INET6);
    assert.equal(m.body.subarray(4).toString('hex'), t.orig.toString('hex'));
    assert.equal(data.readUInt32LE(0), data.length);
    // The kernel finds the entry by this attribute.
    const orig = findAttr(m.body.subarray(4), CTA_TUPLE_ORIG);
    assert.equal(orig?.raw.toString('hex'), t.orig.toString('hex'));
  });

  it('requests for several entries concatenate into one datagram that splits back', () => {
    const tuples = [40000, 40001, 40002].map((p) => translated(p).orig);
    const data = Buffer.concat(tuples.map((t, i) => deleteRequest(t, 10 + i)));
    const out = [...messages(data)];
    assert.deepEqual(
      out.map((m) => m.seq),
      [10, 11, 12],
    );
    assert.deepEqual(
      out.map((m) => m.body.subarray(4).toString('hex')),
      tuples.map((t) => t.toString('hex')),
    );
  });
});
