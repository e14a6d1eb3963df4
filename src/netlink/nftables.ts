// nf_tables netlink messages: one batch (one atomic transaction) of map element deletes and adds.
import {
  AF_INET6,
  attr,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_REQUEST,
  nested,
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
}

function elements(list: readonly MapElement[]): Buffer {
  return nested(
    NFTA_SET_ELEM_LIST_ELEMENTS,
    ...list.map((e) =>
      nested(
        NFTA_LIST_ELEM,
        nested(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, e.key)),
        ...(e.value ? [nested(NFTA_SET_ELEM_DATA, attr(NFTA_DATA_VALUE, e.value))] : []),
      ),
    ),
  );
}

export interface Batch {
  readonly data: Buffer;
  /** Sequence numbers that must be acknowledged (one per element message). */
  readonly acks: readonly number[];
  readonly nextSeq: number;
}

/**
 * One nf_tables batch: all deletes, then all adds, for every edit. The kernel commits a batch
 * as one transaction, so packets see the old elements or the new ones, never neither.
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
  ) => {
    for (let i = 0; i < list.length; i += CHUNK) {
      const payload = Buffer.concat([
        strAttr(NFTA_SET_ELEM_LIST_TABLE, table),
        strAttr(NFTA_SET_ELEM_LIST_SET, map),
        elements(list.slice(i, i + CHUNK)),
      ]);
      acks.push(seq);
      parts.push(nfMessage(type, flags, seq++, AF_INET6, payload));
    }
  };
  for (const e of edits)
    emit(NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, e.table, e.map, e.remove);
  for (const e of edits)
    emit(NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, e.table, e.map, e.add);
  parts.push(
    nfMessage(NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq++, 0, undefined, NFNL_SUBSYS_NFTABLES),
  );
  return { data: Buffer.concat(parts), acks, nextSeq: seq };
}
