// ctnetlink messages (pure): dump and delete requests, and entries/events read back as tuples.
import { addressFromBytes } from '../net/ipv6.js';
import {
  AF_INET6,
  attrs,
  findAttr,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nfMessage,
} from './codec.js';

const NFNL_SUBSYS_CTNETLINK = 1;
export const CT_NEW = NFNL_SUBSYS_CTNETLINK << 8;
export const CT_GET = (NFNL_SUBSYS_CTNETLINK << 8) | 1;
export const CT_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | 2;
/** Multicast groups of conntrack events. */
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_DESTROY = 3;

const CTA_TUPLE_ORIG = 1;
const CTA_TUPLE_REPLY = 2;
const CTA_TUPLE_IP = 1;
const CTA_TUPLE_PROTO = 2;
const CTA_PROTO_NUM = 1;
const CTA_IP_V6_SRC = 3;
const CTA_IP_V6_DST = 4;

export interface CtEntry {
  /** Original destination (the flow's abstract address for translated flows). */
  readonly origDst: string;
  /** Reply source: the concrete address the connection was translated to (its responder). */
  readonly replySrc: string | undefined;
  /** The transport protocol number (6 TCP, 17 UDP, 58 ICMPv6), when the tuple has it. */
  readonly proto?: number | undefined;
  /** The raw CTA_TUPLE_ORIG attribute: sent back verbatim, it deletes exactly this entry. */
  readonly tuple: Buffer;
  /** A string key for the tuple (its bytes). */
  readonly key: string;
}

/** Reads the original tuple of a ctnetlink entry or event body (nfgenmsg + attributes). */
export function parseEntry(body: Buffer): CtEntry | undefined {
  if (body.length < 4 || body.readUInt8(0) !== AF_INET6) return undefined;
  const tuple = findAttr(body.subarray(4), CTA_TUPLE_ORIG);
  if (!tuple) return undefined;
  const ip = findAttr(tuple.payload, CTA_TUPLE_IP);
  const dst = ip && findAttr(ip.payload, CTA_IP_V6_DST);
  if (dst?.payload.length !== 16) return undefined;
  const reply = findAttr(body.subarray(4), CTA_TUPLE_REPLY);
  const rip = reply && findAttr(reply.payload, CTA_TUPLE_IP);
  const src = rip && findAttr(rip.payload, CTA_IP_V6_SRC);
  const raw = Buffer.from(tuple.raw);
  const l4 = findAttr(tuple.payload, CTA_TUPLE_PROTO);
  const num = l4 && findAttr(l4.payload, CTA_PROTO_NUM);
  return {
    origDst: addressFromBytes(dst.payload),
    replySrc: src?.payload.length === 16 ? addressFromBytes(src.payload) : undefined,
    proto: num?.payload.length ? num.payload.readUInt8(0) : undefined,
    tuple: raw,
    key: raw.toString('latin1'),
  };
}

/** Whether a ctnetlink message type/flags pair is a NEW event (entry created). */
export function isNewEvent(type: number, flags: number): boolean {
  return type === CT_NEW && (flags & NLM_F_CREATE) !== 0;
}

export function isDestroyEvent(type: number): boolean {
  return type === CT_DELETE;
}

export function dumpRequest(seq: number): Buffer {
  return nfMessage(CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, AF_INET6);
}

export function deleteRequest(tuple: Buffer, seq: number): Buffer {
  return nfMessage(CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, AF_INET6, tuple);
}

/** For tests and diagnostics: the attribute types at the top of an entry body. */
export function topAttrTypes(body: Buffer): number[] {
  return [...attrs(body.subarray(4))].map((a) => a.type);
}
