// The netlink renderer: a transaction's element verbs as one nf_tables batch (one atomic
// transaction), for the agent and the in-process path; and the dump of a set's elements, read
// back. Tables are declared with nft (text.ts).
import { addressBytes } from '../net/ipv6.js';
import {
  AF_INET6,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nfMessage,
  strAttr,
} from '../netlink/codec.js';
import type { Element } from './objects.js';
import type { Transaction } from './transaction.js';

const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFT_MSG_NEWSETELEM = (NFNL_SUBSYS_NFTABLES << 8) | 12;
const NFT_MSG_GETSETELEM = (NFNL_SUBSYS_NFTABLES << 8) | 13;
const NFT_MSG_DELSETELEM = (NFNL_SUBSYS_NFTABLES << 8) | 14;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_TIMEOUT = 4;
const NFTA_SET_ELEM_EXPIRATION = 5;
const NFTA_DATA_VALUE = 1;

/** Elements per message: keeps each message far below the socket's buffer limits. */
export const ELEMENTS_PER_MESSAGE = 500;

/** Bytes of one ipv6_addr (a multiple of 4: no padding between the parts of a key). */
const ADDRESS = 16;

/** Address bytes, remembered: bulk edits repeat the same few responder addresses. */
const bytesCache = new Map<string, Buffer>();
function bytesOf(address: string): Buffer {
  let b = bytesCache.get(address);
  if (!b) {
    b = addressBytes(address);
    if (bytesCache.size > 100_000) bytesCache.clear();
    bytesCache.set(address, b);
  }
  return b;
}

/**
 * NFTA_SET_ELEM_LIST_ELEMENTS with every element, written straight into one buffer: bulk edits
 * carry tens of thousands of elements, and an allocation per attribute would dominate their cost.
 * Every key part and value is an ipv6_addr.
 */
function elements(list: readonly Element[], from: number, to: number): Buffer {
  // LIST_ELEM { KEY { VALUE key } [DATA { VALUE value }] [TIMEOUT u64 ms] }
  const sizeOf = (e: Element) =>
    4 +
    (4 + 4 + ADDRESS * e.key.length) +
    (e.value !== undefined ? 4 + 4 + ADDRESS : 0) +
    (e.timeoutMs !== undefined ? 4 + 8 : 0);
  let total = 4;
  for (let i = from; i < to; i++) total += sizeOf(list[i] as Element);
  if (total > 0xffff) throw new Error(`too many elements for one attribute (${total} bytes)`);
  const b = Buffer.alloc(total);
  let o = 0;
  const header = (len: number, type: number) => {
    b.writeUInt16LE(len, o);
    b.writeUInt16LE(type, o + 2);
    o += 4;
  };
  header(total, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
  for (let i = from; i < to; i++) {
    const e = list[i] as Element;
    const start = o;
    header(0, NFTA_LIST_ELEM | NLA_F_NESTED);
    header(4 + 4 + ADDRESS * e.key.length, NFTA_SET_ELEM_KEY | NLA_F_NESTED);
    header(4 + ADDRESS * e.key.length, NFTA_DATA_VALUE);
    for (const part of e.key) {
      bytesOf(part).copy(b, o);
      o += ADDRESS;
    }
    if (e.value !== undefined) {
      header(4 + 4 + ADDRESS, NFTA_SET_ELEM_DATA | NLA_F_NESTED);
      header(4 + ADDRESS, NFTA_DATA_VALUE);
      bytesOf(e.value).copy(b, o);
      o += ADDRESS;
    }
    if (e.timeoutMs !== undefined) {
      header(4 + 8, NFTA_SET_ELEM_TIMEOUT);
      b.writeBigUInt64BE(BigInt(Math.round(e.timeoutMs)), o);
      o += 8;
    }
    b.writeUInt16LE(o - start, start); // the element's length, now that it is written
  }
  return b;
}

export interface Batch {
  readonly data: Buffer;
  /** Sequence numbers that must be acknowledged (one per element message). */
  readonly acks: readonly number[];
  readonly nextSeq: number;
}

/**
 * One nf_tables batch holding the transaction's verbs in order (each verb's elements in messages
 * of at most ELEMENTS_PER_MESSAGE). The kernel commits a batch as one transaction, so packets see
 * the old elements or the new ones, never neither. Only element verbs: anything else throws.
 */
export function transactionBatch(tx: Transaction, firstSeq: number): Batch {
  let seq = firstSeq;
  const parts: Buffer[] = [
    nfMessage(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, 0, undefined, NFNL_SUBSYS_NFTABLES),
  ];
  const acks: number[] = [];
  for (const op of tx) {
    if (op.object !== 'element')
      throw new Error(
        `the netlink renderer applies element changes only, not ${op.verb} ${op.object}`,
      );
    const type = op.verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM;
    const flags =
      op.verb === 'add' ? NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE : NLM_F_REQUEST | NLM_F_ACK;
    for (let i = 0; i < op.elements.length; i += ELEMENTS_PER_MESSAGE) {
      const payload = Buffer.concat([
        strAttr(NFTA_SET_ELEM_LIST_TABLE, op.set.name),
        strAttr(NFTA_SET_ELEM_LIST_SET, op.set.set),
        elements(op.elements, i, Math.min(i + ELEMENTS_PER_MESSAGE, op.elements.length)),
      ]);
      acks.push(seq);
      parts.push(nfMessage(type, flags, seq++, AF_INET6, payload));
    }
  }
  parts.push(
    nfMessage(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq++, 0, undefined, NFNL_SUBSYS_NFTABLES),
  );
  return { data: Buffer.concat(parts), acks, nextSeq: seq };
}

/** A dump request for every element of one set or map (answered by NFT_MSG_NEWSETELEM messages). */
export function setElementsDumpRequest(table: string, set: string, seq: number): Buffer {
  return nfMessage(
    NFT_MSG_GETSETELEM,
    NLM_F_REQUEST | NLM_F_DUMP,
    seq,
    AF_INET6,
    Buffer.concat([strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_ELEM_LIST_SET, set)]),
  );
}

/** One element as the kernel lists it; every key part and value an ipv6_addr. */
export interface DumpedElement {
  readonly key: readonly string[];
  readonly value?: string;
  /** The element's own timeout, ms (a set with timeouts). */
  readonly timeoutMs?: number;
  /** Time left before it expires, ms. */
  readonly expiresMs?: number;
}

export interface DumpedElements {
  readonly elements: DumpedElement[];
  /**
   * The ruleset generations the answer was read at (nfgenmsg's res_id: the low 16 bits of the
   * kernel's generation counter in every message of a dump). More than one, across the dumps of
   * one read: a transaction committed in between, and the read is not one moment's.
   */
  readonly generations: ReadonlySet<number>;
}

/**
 * RFC 5952 text of the 16 bytes at `o` (as canonicalAddress writes it: lower case, the first
 * longest run of two or more zero groups compressed). Written out rather than through the URL
 * parser: a dump of 100,000 flows holds half a million addresses.
 */
export function addressAt(b: Buffer, o: number): string {
  let best = -1;
  let bestLen = 1;
  let run = -1;
  for (let i = 0; i < 8; i++) {
    if (b.readUInt16BE(o + 2 * i) === 0) {
      if (run < 0) run = i;
      if (i - run + 1 > bestLen) {
        best = run;
        bestLen = i - run + 1;
      }
    } else run = -1;
  }
  const group = (i: number) => b.readUInt16BE(o + 2 * i).toString(16);
  if (best < 0) {
    let t = group(0);
    for (let i = 1; i < 8; i++) t += `:${group(i)}`;
    return t;
  }
  let head = '';
  for (let i = 0; i < best; i++) head += i ? `:${group(i)}` : group(i);
  let tail = '';
  for (let i = best + bestLen; i < 8; i++) tail += tail ? `:${group(i)}` : group(i);
  return `${head}::${tail}`;
}

/** The ipv6_addr parts of a key or value (a concatenation is its parts back to back). */
function addressesIn(b: Buffer, from: number, to: number): string[] | undefined {
  if ((to - from) % ADDRESS !== 0 || to === from) return undefined;
  const out: string[] = [];
  for (let o = from; o < to; o += ADDRESS) out.push(addressAt(b, o));
  return out;
}

/** The payload span of the first NFTA_DATA_VALUE inside the nested attribute at [from, to). */
function dataValue(b: Buffer, from: number, to: number): [number, number] | undefined {
  for (let o = from; o + 4 <= to; ) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > to) return undefined;
    if ((b.readUInt16LE(o + 2) & 0x3fff) === NFTA_DATA_VALUE) return [o + 4, o + len];
    o += (len + 3) & ~3;
  }
  return undefined;
}

/** One NFTA_LIST_ELEM's attributes at [from, to): its key, value, timeout and expiry. */
function elementAt(b: Buffer, from: number, to: number): DumpedElement | undefined {
  let key: string[] | undefined;
  let value: string | undefined;
  let timeoutMs: number | undefined;
  let expiresMs: number | undefined;
  for (let o = from; o + 4 <= to; ) {
    const len = b.readUInt16LE(o);
    if (len < 4 || o + len > to) break;
    const type = b.readUInt16LE(o + 2) & 0x3fff;
    if (type === NFTA_SET_ELEM_KEY) {
      const v = dataValue(b, o + 4, o + len);
      key = v && addressesIn(b, v[0], v[1]);
    } else if (type === NFTA_SET_ELEM_DATA) {
      const v = dataValue(b, o + 4, o + len);
      value = v && v[1] - v[0] === ADDRESS ? addressAt(b, v[0]) : undefined;
    } else if (type === NFTA_SET_ELEM_TIMEOUT && len >= 12) {
      timeoutMs = Number(b.readBigUInt64BE(o + 4));
    } else if (type === NFTA_SET_ELEM_EXPIRATION && len >= 12) {
      expiresMs = Number(b.readBigUInt64BE(o + 4));
    }
    o += (len + 3) & ~3;
  }
  if (!key) return undefined;
  return {
    key,
    ...(value !== undefined ? { value } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(expiresMs !== undefined ? { expiresMs } : {}),
  };
}

/**
 * The elements in the answer to setElementsDumpRequest: `bodies` are its messages' bodies after
 * the nlmsghdr (nfgenmsg, then NFTA_SET_ELEM_LIST_* attributes), as NetfilterSocket.dump returns
 * them. Elements whose key or value is not made of ipv6_addr are left out.
 */
export function parseSetElements(bodies: readonly Buffer[]): DumpedElements {
  const elements: DumpedElement[] = [];
  const generations = new Set<number>();
  for (const body of bodies) {
    if (body.length < 4) continue;
    generations.add(body.readUInt16BE(2));
    for (let o = 4; o + 4 <= body.length; ) {
      const len = body.readUInt16LE(o);
      if (len < 4 || o + len > body.length) break;
      if ((body.readUInt16LE(o + 2) & 0x3fff) === NFTA_SET_ELEM_LIST_ELEMENTS) {
        for (let e = o + 4; e + 4 <= o + len; ) {
          const elen = body.readUInt16LE(e);
          if (elen < 4 || e + elen > o + len) break;
          if ((body.readUInt16LE(e + 2) & 0x3fff) === NFTA_LIST_ELEM) {
            const el = elementAt(body, e + 4, e + elen);
            if (el) elements.push(el);
          }
          e += (elen + 3) & ~3;
        }
      }
      o += (len + 3) & ~3;
    }
  }
  return { elements, generations };
}
