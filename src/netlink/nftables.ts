// nf_tables netlink messages: one batch (one atomic transaction) of map element deletes and adds.
import {
  AF_INET6,
  NLA_F_NESTED,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  nfMessage,
  strAttr,
} from './codec.js';

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
const CHUNK = 500;

export interface MapElement {
  /** Key bytes (a concatenation's fields, each padded to 4 bytes, back to back). */
  readonly key: Uint8Array;
  /** Value bytes; absent for deletes. */
  readonly value?: Uint8Array;
}

export interface MapEdit {
  readonly table: string;
  readonly map: string;
  readonly remove: readonly MapElement[];
  readonly add: readonly MapElement[];
  /** Added elements expire after this long (the set has the timeout flag). */
  readonly timeoutMs?: number;
  /** Elements added and deleted again at the end of the batch: gone whether or not they were there. */
  readonly absent?: readonly MapElement[];
}

const pad4 = (n: number) => (n + 3) & ~3;

/**
 * NFTA_SET_ELEM_LIST_ELEMENTS with every element, written straight into one buffer: bulk edits
 * carry tens of thousands of elements, and an allocation per attribute would dominate their cost.
 */
function elements(list: readonly MapElement[], timeoutMs?: number): Buffer {
  // LIST_ELEM { KEY { VALUE key } [DATA { VALUE value }] [TIMEOUT u64 ms] }
  const timeout = timeoutMs === undefined ? 0 : 4 + 8;
  const sizeOf = (e: MapElement) =>
    4 + (4 + 4 + pad4(e.key.length)) + (e.value ? 4 + 4 + pad4(e.value.length) : 0) + timeout;
  let total = 4;
  for (const e of list) total += sizeOf(e);
  if (total > 0xffff) throw new Error(`too many elements for one attribute (${total} bytes)`);
  const b = Buffer.alloc(total);
  let o = 0;
  const header = (len: number, type: number) => {
    b.writeUInt16LE(len, o);
    b.writeUInt16LE(type, o + 2);
    o += 4;
  };
  const value = (bytes: Uint8Array) => {
    header(4 + bytes.length, NFTA_DATA_VALUE);
    b.set(bytes, o);
    o += pad4(bytes.length);
  };
  header(total, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
  for (const e of list) {
    header(sizeOf(e), NFTA_LIST_ELEM | NLA_F_NESTED);
    header(4 + 4 + pad4(e.key.length), NFTA_SET_ELEM_KEY | NLA_F_NESTED);
    value(e.key);
    if (e.value) {
      header(4 + 4 + pad4(e.value.length), NFTA_SET_ELEM_DATA | NLA_F_NESTED);
      value(e.value);
    }
    if (timeoutMs !== undefined) {
      header(4 + 8, NFTA_SET_ELEM_TIMEOUT);
      b.writeBigUInt64BE(BigInt(Math.round(timeoutMs)), o);
      o += 8;
    }
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
 * One nf_tables batch: all deletes, then all adds, for every edit, then each `absent` element
 * added and deleted. The kernel commits a batch as one transaction, so packets see the old
 * elements or the new ones, never neither.
 */
export function mapEditBatch(edits: readonly MapEdit[], firstSeq: number): Batch {
  let seq = firstSeq;
  const parts: Buffer[] = [
    nfMessage(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, seq++, 0, undefined, NFNL_SUBSYS_NFTABLES),
  ];
  const acks: number[] = [];
  const emit = (
    type: number,
    flags: number,
    table: string,
    map: string,
    list: readonly MapElement[],
    timeoutMs?: number,
  ) => {
    for (let i = 0; i < list.length; i += CHUNK) {
      const payload = Buffer.concat([
        strAttr(NFTA_SET_ELEM_LIST_TABLE, table),
        strAttr(NFTA_SET_ELEM_LIST_SET, map),
        elements(list.slice(i, i + CHUNK), timeoutMs),
      ]);
      acks.push(seq);
      parts.push(nfMessage(type, flags, seq++, AF_INET6, payload));
    }
  };
  for (const e of edits)
    emit(NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, e.table, e.map, e.remove);
  const create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
  for (const e of edits) emit(NFT_MSG_NEWSETELEM, create, e.table, e.map, e.add, e.timeoutMs);
  for (const e of edits) {
    if (!e.absent?.length) continue;
    emit(NFT_MSG_NEWSETELEM, create, e.table, e.map, e.absent);
    emit(NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, e.table, e.map, e.absent);
  }
  parts.push(
    nfMessage(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq++, 0, undefined, NFNL_SUBSYS_NFTABLES),
  );
  return { data: Buffer.concat(parts), acks, nextSeq: seq };
}
