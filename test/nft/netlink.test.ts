// The netlink renderer: a transaction's element verbs as one nf_tables batch, decoded with the
// codec; map edits go through editTransaction first, as the agent sends them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { editTransaction } from '../../src/engines/edits.js';
import type { MapEdit } from '../../src/engines/engine.js';
import { addressBytes } from '../../src/net/ipv6.js';
import {
  AF_INET6,
  attr,
  attrs,
  findAttr,
  messages,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  nested,
  strAttr,
} from '../../src/netlink/codec.js';
import { ELEMENTS_PER_MESSAGE, transactionBatch } from '../../src/nft/netlink.js';
import type { Element, SetRef } from '../../src/nft/objects.js';
import { addElements, declareTable, deleteElements, flushSet } from '../../src/nft/transaction.js';

/** The edits as the agent sends them: their transaction (default table flowmig) rendered. */
const agentBatch = (edits: readonly MapEdit[], firstSeq: number) =>
  transactionBatch(editTransaction(edits, 'flowmig'), firstSeq);

const NFNL_SUBSYS_NFTABLES = 10;
const BATCH_BEGIN = 0x10;
const BATCH_END = 0x11;
const NEWSETELEM = (10 << 8) | 12;
const DELSETELEM = (10 << 8) | 14;

interface DecodedElement {
  key: string;
  value: string | undefined;
  /** NFTA_SET_ELEM_TIMEOUT in ms, only when the element carries one. */
  timeout?: number;
}

interface Decoded {
  type: number;
  flags: number;
  seq: number;
  family: number;
  version: number;
  resId: number;
  length: number;
  table?: string | undefined;
  set?: string | undefined;
  elements?: DecodedElement[];
}

const cstr = (b: Buffer | undefined) =>
  b === undefined ? undefined : b.toString('utf8').replace(/\0+$/, '');

/** Decodes a batch with the codec: every message, and the element list of element messages. */
function decode(data: Buffer): Decoded[] {
  const out: Decoded[] = [];
  let off = 0;
  for (const m of messages(data)) {
    const length = data.readUInt32LE(off);
    off += (length + 3) & ~3;
    const d: Decoded = {
      type: m.type,
      flags: m.flags,
      seq: m.seq,
      family: m.body.readUInt8(0),
      version: m.body.readUInt8(1),
      resId: m.body.readUInt16BE(2),
      length,
    };
    if (m.type === NEWSETELEM || m.type === DELSETELEM) {
      const body = m.body.subarray(4);
      d.table = cstr(findAttr(body, 1)?.payload);
      d.set = cstr(findAttr(body, 2)?.payload);
      const list = findAttr(body, 3);
      assert.ok(list, 'NFTA_SET_ELEM_LIST_ELEMENTS present');
      assert.equal(list.raw.readUInt16LE(2) & NLA_F_NESTED, NLA_F_NESTED, 'ELEMENTS is nested');
      d.elements = [];
      for (const el of attrs(list.payload)) {
        assert.equal(el.type, 1, 'NFTA_LIST_ELEM');
        assert.equal(el.raw.readUInt16LE(2) & NLA_F_NESTED, NLA_F_NESTED, 'LIST_ELEM is nested');
        const key = findAttr(el.payload, 1);
        assert.ok(key, 'NFTA_SET_ELEM_KEY');
        assert.equal(key.raw.readUInt16LE(2) & NLA_F_NESTED, NLA_F_NESTED, 'KEY is nested');
        const keyValue = findAttr(key.payload, 1);
        assert.ok(keyValue, 'NFTA_DATA_VALUE in KEY');
        const data = findAttr(el.payload, 2);
        const dataValue = data && findAttr(data.payload, 1);
        if (data) assert.equal(data.raw.readUInt16LE(2) & NLA_F_NESTED, NLA_F_NESTED);
        const timeout = findAttr(el.payload, 4);
        if (timeout) {
          assert.equal(timeout.raw.readUInt16LE(2) & NLA_F_NESTED, 0, 'TIMEOUT is not nested');
          assert.equal(timeout.payload.length, 8, 'TIMEOUT is a u64');
        }
        d.elements.push({
          key: keyValue.payload.toString('hex'),
          value: dataValue?.payload.toString('hex'),
          ...(timeout ? { timeout: Number(timeout.payload.readBigUInt64BE(0)) } : {}),
        });
      }
    }
    out.push(d);
  }
  assert.equal(off, data.length, 'the messages cover the whole batch');
  return out;
}

const a = (text: string) => addressBytes(text);
const key2 = (x: string, y: string) => Buffer.concat([a(x), a(y)]);
const hx = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Parts of a migration: fe00::1 from fc01::1 to fc02::2 (dnat), fe00::2 initiator change (snat). */
const DNAT: MapEdit = {
  table: 'flowmig',
  map: 'dnat_to',
  remove: [['fc00::1', 'fe00::1']],
  add: [['fc00::1', 'fe00::1', 'fc02::2']],
};
const SNAT: MapEdit = {
  table: 'flowmig',
  map: 'snat_from',
  remove: [['fc00::1', 'fe00::2']],
  add: [['fc03::1', 'fe00::2', 'fe00::2']],
};
/** The late set's part of fe00::1's move: fc01::1 for 5 s, fc02::2 absent. */
const LATE: MapEdit = {
  table: 'flowmig_late',
  map: 'late_from',
  set: true,
  remove: [],
  add: [['fc01::1', 'fe00::1']],
  timeoutMs: 5000,
  absent: [['fc02::2', 'fe00::1']],
};
/** The initiator of fe00::1 for late packets (a 16-byte key). */
const INITIATOR: MapEdit = {
  table: 'flowmig_late',
  map: 'initiator_of',
  remove: [['fe00::1']],
  add: [['fe00::1', 'fc03::1']],
};

describe('transactionBatch', () => {
  const set: SetRef = { family: 'ip6', name: 't', set: 's', kind: 'set' };

  it('renders the verbs in the transaction’s order, one message each (deletes need not come first)', () => {
    const d = decode(
      transactionBatch(
        [
          addElements(set, [{ key: ['fe00::1'] }]),
          deleteElements(set, [{ key: ['fe00::2'] }]),
          addElements(set, [{ key: ['fe00::3'] }]),
        ],
        1,
      ).data,
    );
    assert.deepEqual(
      d.map((m) => [m.type, m.elements?.[0]?.key]),
      [
        [BATCH_BEGIN, undefined],
        [NEWSETELEM, hx(a('fe00::1'))],
        [DELSETELEM, hx(a('fe00::2'))],
        [NEWSETELEM, hx(a('fe00::3'))],
        [BATCH_END, undefined],
      ],
    );
  });

  it('a verb with no elements sends no message', () => {
    const batch = transactionBatch([addElements(set, []), deleteElements(set, [])], 1);
    assert.deepEqual(
      decode(batch.data).map((m) => m.type),
      [BATCH_BEGIN, BATCH_END],
    );
    assert.deepEqual(batch.acks, []);
  });

  it('renders element verbs only: a table or a flush is nft’s job (text)', () => {
    assert.throws(
      () => transactionBatch([declareTable({ family: 'ip6', name: 't' })], 1),
      /element changes only, not add table/,
    );
    assert.throws(
      () => transactionBatch([flushSet({ ...set, kind: 'map' })], 1),
      /element changes only, not flush set/,
    );
  });

  it('keys and values are IPv6 addresses: 16 bytes each, any spelling, parts back to back', () => {
    const el: Element = { key: ['FE00:0:0::0001', 'fc00::1'], value: 'FC02::2' };
    const d = decode(transactionBatch([addElements({ ...set, kind: 'map' }, [el])], 1).data);
    assert.deepEqual(d[1]?.elements, [
      { key: hx(key2('fe00::1', 'fc00::1')), value: hx(a('fc02::2')) },
    ]);
  });

  it('refuses an invalid address', () => {
    assert.throws(
      () => transactionBatch([addElements(set, [{ key: ['fe00::g'] }])], 1),
      /not an IPv6 address/,
    );
  });

  it('every key byte is written (no leftovers of another buffer)', () => {
    for (let i = 0; i < 20; i++) {
      const d = decode(transactionBatch([deleteElements(set, [{ key: ['::', '::'] }])], 1).data);
      assert.equal(d[1]?.elements?.[0]?.key, '00'.repeat(32));
    }
  });

  it('ELEMENTS_PER_MESSAGE is 500', () => {
    assert.equal(ELEMENTS_PER_MESSAGE, 500);
  });
});

describe('map edits as netlink (editTransaction, then transactionBatch)', () => {
  it('frames the batch with BEGIN/END: family 0 (AF_UNSPEC), res_id 10 (nftables), request', () => {
    const batch = agentBatch([DNAT, SNAT], 100);
    const d = decode(batch.data);
    const first = d[0];
    const last = d[d.length - 1];
    assert.ok(first && last);
    for (const [m, type] of [
      [first, BATCH_BEGIN],
      [last, BATCH_END],
    ] as const) {
      assert.equal(m.type, type);
      assert.equal(m.flags, NLM_F_REQUEST);
      assert.equal(m.family, 0);
      assert.equal(m.version, 0);
      assert.equal(m.resId, NFNL_SUBSYS_NFTABLES);
      assert.equal(m.length, 20, 'no payload');
    }
    assert.equal(first.seq, 100);
  });

  it('all deletes (DELSETELEM) before all adds (NEWSETELEM, with CREATE), in edit order', () => {
    const d = decode(agentBatch([DNAT, SNAT], 1).data);
    assert.deepEqual(
      d.map((m) => [m.type, m.flags, m.set]),
      [
        [BATCH_BEGIN, NLM_F_REQUEST, undefined],
        [DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, 'dnat_to'],
        [DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, 'snat_from'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'dnat_to'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'snat_from'],
        [BATCH_END, NLM_F_REQUEST, undefined],
      ],
    );
  });

  it('element messages are ip6 family (10), res_id 0, name the table', () => {
    const d = decode(agentBatch([DNAT, SNAT], 1).data).slice(1, -1);
    assert.equal(d.length, 4);
    for (const m of d) {
      assert.equal(m.family, AF_INET6);
      assert.equal(m.resId, 0);
      assert.equal(m.table, 'flowmig');
    }
  });

  it('consecutive seqs from firstSeq; acks are exactly the element messages’ seqs; nextSeq follows', () => {
    const batch = agentBatch([DNAT, SNAT], 41);
    const d = decode(batch.data);
    assert.deepEqual(
      d.map((m) => m.seq),
      [41, 42, 43, 44, 45, 46],
    );
    assert.deepEqual(batch.acks, [42, 43, 44, 45]);
    assert.equal(batch.nextSeq, 47);
  });

  it('carries each element’s key and data bytes (16-byte and 32-byte keys)', () => {
    const d = decode(agentBatch([INITIATOR, SNAT], 1).data);
    assert.deepEqual(d[1]?.elements, [{ key: hx(a('fe00::1')), value: undefined }]);
    assert.deepEqual(d[2]?.elements, [{ key: hx(key2('fc00::1', 'fe00::2')), value: undefined }]);
    assert.deepEqual(d[3]?.elements, [{ key: hx(a('fe00::1')), value: hx(a('fc03::1')) }]);
    assert.deepEqual(d[4]?.elements, [
      { key: hx(key2('fc03::1', 'fe00::2')), value: hx(a('fe00::2')) },
    ]);
    assert.equal(d[3]?.table, 'flowmig_late');
    assert.equal(d[4]?.table, 'flowmig');
  });

  it('an element message is byte for byte what the codec’s attribute builders give', () => {
    const batch = agentBatch(
      [
        {
          table: 'flowmig',
          map: 'snat_from',
          remove: [],
          add: [
            ['fc00::1', 'fe00::1', 'fe00::1'],
            ['fc00::1', 'fe00::2', 'fe00::2'],
          ],
        },
      ],
      7,
    );
    const [, add] = [...messages(batch.data)];
    assert.ok(add);
    const elem = (k: Buffer, v: Buffer) => nested(1, nested(1, attr(1, k)), nested(2, attr(1, v)));
    const expected = Buffer.concat([
      strAttr(1, 'flowmig'),
      strAttr(2, 'snat_from'),
      nested(
        3,
        elem(key2('fc00::1', 'fe00::1'), a('fe00::1')),
        elem(key2('fc00::1', 'fe00::2'), a('fe00::2')),
      ),
    ]);
    assert.equal(hx(add.body.subarray(4)), hx(expected));
  });

  it('an edit with no removes emits no DELSETELEM (and vice versa)', () => {
    const addOnly = decode(agentBatch([{ ...DNAT, remove: [] }], 1).data);
    assert.deepEqual(
      addOnly.map((m) => m.type),
      [BATCH_BEGIN, NEWSETELEM, BATCH_END],
    );
    const removeOnly = decode(agentBatch([{ ...SNAT, add: [] }], 1).data);
    assert.deepEqual(
      removeOnly.map((m) => m.type),
      [BATCH_BEGIN, DELSETELEM, BATCH_END],
    );
  });

  it('no edits: BEGIN and END only, nothing to acknowledge', () => {
    const batch = agentBatch([], 5);
    assert.deepEqual(
      decode(batch.data).map((m) => [m.type, m.seq]),
      [
        [BATCH_BEGIN, 5],
        [BATCH_END, 6],
      ],
    );
    assert.deepEqual(batch.acks, []);
    assert.equal(batch.nextSeq, 7);
  });

  it('chunks at 500 elements per message, keeping every element once and in order', () => {
    const n = 1201;
    const addr = (i: number) => `fe00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
    const remove: string[][] = [];
    const add: string[][] = [];
    for (let i = 0; i < n; i++) {
      remove.push(['fc00::1', addr(i)]);
      add.push(['fc03::1', addr(i), addr(i)]);
    }
    const batch = agentBatch([{ table: 'flowmig', map: 'snat_from', remove, add }], 1000);
    const d = decode(batch.data);
    const dels = d.filter((m) => m.type === DELSETELEM);
    const adds = d.filter((m) => m.type === NEWSETELEM);
    assert.deepEqual(
      dels.map((m) => m.elements?.length),
      [500, 500, 201],
    );
    assert.deepEqual(
      adds.map((m) => m.elements?.length),
      [500, 500, 201],
    );
    assert.deepEqual(
      dels.flatMap((m) => m.elements?.map((e) => e.key) ?? []),
      remove.map(([x = '', y = '']) => hx(key2(x, y))),
    );
    assert.deepEqual(
      adds.flatMap((m) => m.elements?.map((e) => [e.key, e.value]) ?? []),
      add.map(([x = '', y = '', v = '']) => [hx(key2(x, y)), hx(a(v))]),
    );
    // 6 element messages, all acknowledged, all deletes first
    assert.deepEqual(batch.acks, [1001, 1002, 1003, 1004, 1005, 1006]);
    assert.deepEqual(
      d.map((m) => m.type),
      [
        BATCH_BEGIN,
        DELSETELEM,
        DELSETELEM,
        DELSETELEM,
        NEWSETELEM,
        NEWSETELEM,
        NEWSETELEM,
        BATCH_END,
      ],
    );
    assert.equal(batch.nextSeq, 1008);
  });

  it('exactly 500 elements fit in one message; 501 need two', () => {
    const elems = (count: number): string[][] =>
      Array.from({ length: count }, (_, i) => [`fe00::${(i + 1).toString(16)}`]);
    const count = (n: number) =>
      decode(agentBatch([{ table: 't', map: 'm', remove: elems(n), add: [] }], 1).data).filter(
        (m) => m.type === DELSETELEM,
      ).length;
    assert.equal(count(500), 1);
    assert.equal(count(501), 2);
  });

  it('deletes of every edit precede the adds of any edit, across chunks', () => {
    const keys = (prefix: string) =>
      Array.from({ length: 600 }, (_, i) => [`${prefix}::${(i + 1).toString(16)}`]);
    const many = (prefix: string) => keys(prefix).map((k) => [...k, 'fc01::1']);
    const batch = agentBatch(
      [
        { table: 'flowmig', map: 'dnat_to', remove: keys('fe00'), add: many('fe00') },
        { table: 'flowmig', map: 'other', remove: keys('fe01'), add: [] },
      ],
      1,
    );
    const d = decode(batch.data).slice(1, -1);
    const lastDel = d.map((m) => m.type).lastIndexOf(DELSETELEM);
    const firstAdd = d.map((m) => m.type).indexOf(NEWSETELEM);
    assert.ok(lastDel < firstAdd, `last delete at ${lastDel}, first add at ${firstAdd}`);
    assert.deepEqual(
      d.map((m) => `${m.type === DELSETELEM ? 'del' : 'add'}:${m.set}:${m.elements?.length}`),
      [
        'del:dnat_to:500',
        'del:dnat_to:100',
        'del:other:500',
        'del:other:100',
        'add:dnat_to:500',
        'add:dnat_to:100',
      ],
    );
  });

  it('the length of every message is consistent with its attributes', () => {
    const batch = agentBatch([DNAT, SNAT, LATE, INITIATOR], 1);
    for (const m of messages(batch.data)) {
      if (m.type !== NEWSETELEM && m.type !== DELSETELEM) continue;
      const top = [...attrs(m.body.subarray(4))];
      const used = top.reduce((n, x) => n + ((x.raw.length + 3) & ~3), 0);
      assert.equal(used, m.body.length - 4, 'attributes fill the body exactly');
    }
  });
});

describe('map edits as netlink: timeouts and absent elements', () => {
  it('a timeout is NFTA_SET_ELEM_TIMEOUT (4) in each added element: u64, big-endian, in ms', () => {
    const batch = agentBatch([{ ...LATE, absent: [] }], 1);
    const [, add] = [...messages(batch.data)];
    assert.ok(add);
    const timeout = Buffer.alloc(8);
    timeout.writeBigUInt64BE(5000n);
    const expected = Buffer.concat([
      strAttr(1, 'flowmig_late'),
      strAttr(2, 'late_from'),
      nested(3, nested(1, nested(1, attr(1, key2('fc01::1', 'fe00::1'))), attr(4, timeout))),
    ]);
    assert.equal(hx(add.body.subarray(4)), hx(expected));
    // The attribute itself: length 12, type 4, then 5000 = 0x1388.
    assert.ok(hx(add.body).endsWith('0c000400' + '0000000000001388'), hx(add.body));
  });

  it('a map element with a timeout: key, data, then the timeout', () => {
    const edit: MapEdit = { ...INITIATOR, remove: [], timeoutMs: 250 };
    const batch = agentBatch([edit], 1);
    const [, add] = [...messages(batch.data)];
    assert.ok(add);
    const timeout = Buffer.alloc(8);
    timeout.writeBigUInt64BE(250n);
    const elem = nested(
      1,
      nested(1, attr(1, a('fe00::1'))),
      nested(2, attr(1, a('fc03::1'))),
      attr(4, timeout),
    );
    const expected = Buffer.concat([
      strAttr(1, 'flowmig_late'),
      strAttr(2, 'initiator_of'),
      nested(3, elem),
    ]);
    assert.equal(hx(add.body.subarray(4)), hx(expected));
  });

  it('every added element of the edit carries it; deletes never do', () => {
    const edit: MapEdit = {
      table: 'flowmig_late',
      map: 'late_from',
      set: true,
      remove: [['fc09::9', 'fe00::9']],
      add: [
        ['fc01::1', 'fe00::1'],
        ['fc01::1', 'fe00::2'],
      ],
      timeoutMs: 60_000,
    };
    const d = decode(agentBatch([edit], 1).data);
    assert.deepEqual(d[1]?.elements, [{ key: hx(key2('fc09::9', 'fe00::9')), value: undefined }]);
    assert.deepEqual(
      d[2]?.elements?.map((e) => e.timeout),
      [60_000, 60_000],
    );
  });

  it('uses all 64 bits, and rounds a fractional timeout to whole ms', () => {
    const timeoutOf = (timeoutMs: number) =>
      decode(agentBatch([{ ...LATE, absent: [], timeoutMs }], 1).data)[1]?.elements?.[0]?.timeout;
    assert.equal(timeoutOf(3_600_000), 3_600_000);
    assert.equal(timeoutOf(2 ** 32 + 7), 2 ** 32 + 7);
    assert.equal(timeoutOf(2500.4), 2500);
    assert.equal(timeoutOf(0), 0);
  });

  it('without timeoutMs an element has no timeout attribute at all', () => {
    const d = decode(agentBatch([INITIATOR], 1).data);
    assert.deepEqual(d[2]?.elements, [{ key: hx(a('fe00::1')), value: hx(a('fc03::1')) }]);
  });

  it('absent elements are added then deleted after every other add, without a timeout', () => {
    const batch = agentBatch([DNAT, LATE, INITIATOR], 1);
    const d = decode(batch.data);
    assert.deepEqual(
      d.map((m) => [m.type, m.flags, m.set]),
      [
        [BATCH_BEGIN, NLM_F_REQUEST, undefined],
        [DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, 'dnat_to'],
        [DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, 'initiator_of'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'dnat_to'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'late_from'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'initiator_of'],
        [NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 'late_from'],
        [DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, 'late_from'],
        [BATCH_END, NLM_F_REQUEST, undefined],
      ],
    );
    const former = { key: hx(key2('fc01::1', 'fe00::1')), value: undefined, timeout: 5000 };
    const absent = { key: hx(key2('fc02::2', 'fe00::1')), value: undefined };
    assert.deepEqual(d[4]?.elements, [former]);
    assert.deepEqual(d[6]?.elements, [absent]);
    assert.deepEqual(d[7]?.elements, [absent]);
    for (const m of d.slice(4, 8)) assert.equal(m.table, 'flowmig_late');
    // Every element message is acknowledged, the absent pair too.
    assert.deepEqual(batch.acks, [2, 3, 4, 5, 6, 7, 8]);
    assert.equal(batch.nextSeq, 10);
  });

  it('absent pairs follow edit order, each add right before its delete', () => {
    const absentOnly = (map: string, addr: string): MapEdit => ({
      table: 't',
      map,
      set: true,
      remove: [],
      add: [],
      absent: [[addr]],
    });
    const d = decode(
      agentBatch(
        [absentOnly('a', 'fe00::1'), { ...INITIATOR, remove: [] }, absentOnly('b', 'fe00::2')],
        1,
      ).data,
    ).slice(1, -1);
    assert.deepEqual(
      d.map((m) => `${m.type === DELSETELEM ? 'del' : 'add'}:${m.set}:${m.elements?.[0]?.key}`),
      [
        `add:initiator_of:${hx(a('fe00::1'))}`,
        `add:a:${hx(a('fe00::1'))}`,
        `del:a:${hx(a('fe00::1'))}`,
        `add:b:${hx(a('fe00::2'))}`,
        `del:b:${hx(a('fe00::2'))}`,
      ],
    );
  });

  it('chunks added elements with timeouts at 500 per message like the others', () => {
    const add = Array.from({ length: 501 }, (_, i) => ['fc01::1', `fe00::${(i + 1).toString(16)}`]);
    const d = decode(
      agentBatch([{ table: 't', map: 's', set: true, remove: [], add, timeoutMs: 5000 }], 1).data,
    );
    const adds = d.filter((m) => m.type === NEWSETELEM);
    assert.deepEqual(
      adds.map((m) => m.elements?.length),
      [500, 1],
    );
    assert.ok(adds.every((m) => m.elements?.every((e) => e.timeout === 5000)));
  });
});
