// nfnetlink_queue messages (pure): bind a queue, ask for packet metadata only, read the ids of
// queued packets, and accept every packet up to an id with one batch verdict.
import { attr, attrs, NLM_F_ACK, NLM_F_REQUEST, nfMessage, u32beAttr } from './codec.js';

const NFNL_SUBSYS_QUEUE = 3;
export const NFQNL_MSG_PACKET = (NFNL_SUBSYS_QUEUE << 8) | 0;
const NFQNL_MSG_CONFIG = (NFNL_SUBSYS_QUEUE << 8) | 2;
const NFQNL_MSG_VERDICT_BATCH = (NFNL_SUBSYS_QUEUE << 8) | 3;
const NFQA_CFG_CMD = 1;
const NFQA_CFG_PARAMS = 2;
const NFQA_CFG_QUEUE_MAXLEN = 3;
const NFQNL_CFG_CMD_BIND = 1;
const NFQNL_CFG_CMD_UNBIND = 2;
const NFQNL_COPY_META = 1;
const NFQA_PACKET_HDR = 1;
const NFQA_VERDICT_HDR = 2;
export const NF_ACCEPT = 1;
const AF_UNSPEC = 0;

/** NFQA_CFG_CMD: command, pad, protocol family (big-endian). */
function command(cmd: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(cmd, 0);
  b.writeUInt16BE(0, 2);
  return attr(NFQA_CFG_CMD, b);
}

/** Binds queue `queue` to the sending socket. Acknowledged. */
export function bindRequest(queue: number, seq: number): Buffer {
  return nfMessage(
    NFQNL_MSG_CONFIG,
    NLM_F_REQUEST | NLM_F_ACK,
    seq,
    AF_UNSPEC,
    command(NFQNL_CFG_CMD_BIND),
    queue,
  );
}

export function unbindRequest(queue: number, seq: number): Buffer {
  return nfMessage(
    NFQNL_MSG_CONFIG,
    NLM_F_REQUEST | NLM_F_ACK,
    seq,
    AF_UNSPEC,
    command(NFQNL_CFG_CMD_UNBIND),
    queue,
  );
}

/**
 * Metadata only (no packet bytes are copied to user space), and room for `maxLen` packets: the
 * packets of a flow held for a few milliseconds.
 */
export function paramsRequest(queue: number, seq: number, maxLen: number): Buffer {
  const params = Buffer.alloc(5);
  params.writeUInt32BE(0, 0); // copy range
  params.writeUInt8(NFQNL_COPY_META, 4);
  return nfMessage(
    NFQNL_MSG_CONFIG,
    NLM_F_REQUEST | NLM_F_ACK,
    seq,
    AF_UNSPEC,
    Buffer.concat([attr(NFQA_CFG_PARAMS, params), u32beAttr(NFQA_CFG_QUEUE_MAXLEN, maxLen)]),
    queue,
  );
}

/** The packet id of an NFQNL_MSG_PACKET body (after the nlmsghdr), or undefined. */
export function packetId(body: Buffer): number | undefined {
  for (const a of attrs(body.subarray(4))) {
    if (a.type === NFQA_PACKET_HDR && a.payload.length >= 4) return a.payload.readUInt32BE(0);
  }
  return undefined;
}

/** Accepts every packet of the queue whose id is at most `maxId` (in the order they came). */
export function acceptUpTo(queue: number, maxId: number, seq: number): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(NF_ACCEPT, 0);
  hdr.writeUInt32BE(maxId >>> 0, 4);
  return nfMessage(
    NFQNL_MSG_VERDICT_BATCH,
    NLM_F_REQUEST,
    seq,
    AF_UNSPEC,
    attr(NFQA_VERDICT_HDR, hdr),
    queue,
  );
}
