// The netlink renderer: a transaction's element verbs as one nf_tables batch (one atomic
// transaction), for the agent and the in-process path. Tables are declared with nft (text.ts).
import { addressBytes } from '../net/ipv6.js';
import {
  AF_INET6,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
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
const NFT_MSG_DELSETELEM = (NFNL_SUBSYS_NFTABLES << 8) | 14;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_SET_ELEM_DATA = 2;
const NFTA_SET_ELEM_TIMEOUT = 4;
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
