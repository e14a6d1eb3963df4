// Parses iputils ping's per-packet lines (`ping -D`): replies with RTT and (DUP!), ICMP errors, no-answer notes.
import { epochMs } from './epoch.js';
import { type LineSource, type ScanCounts, scanLines, scanText } from './lines.js';

export interface PingReply {
  readonly kind: 'reply';
  /** Receive time (epoch ms) from `-D`; undefined when ping ran without it. */
  readonly tMs?: number;
  /** icmp_seq as printed: 16 bits, it wraps after 65535 (see `unwrapSeq`). */
  readonly seq: number;
  /** Undefined when the payload is too small to carry a send time (`-s` below 16). */
  readonly rttMs?: number;
  readonly ttl?: number;
  readonly bytes: number;
  readonly from: string;
  readonly dup: boolean;
}

export interface PingError {
  readonly kind: 'error';
  readonly tMs?: number;
  readonly seq?: number;
  /** The node that reported the error (`From fc00::2 ...`); undefined for ping's own errors. */
  readonly from?: string;
  /** The text after icmp_seq, e.g. `Destination unreachable: No route`, or `sendmsg: ...`. */
  readonly error: string;
}

/** `ping -O` notes a request that got no answer before the next one was sent. */
export interface PingNoAnswer {
  readonly kind: 'no-answer';
  readonly tMs?: number;
  readonly seq: number;
}

export type PingLine = PingReply | PingError | PingNoAnswer;

const STAMP = /^\[(\d+)\.(\d+)\]\s*/;
const REPLY = /^(\d+) bytes from (\S+?):? icmp_seq=(\d+)(?: ttl=(\d+))?(?: time=([\d.]+) ms)?(.*)$/;
const FROM = /^From (\S+?):? icmp_seq=(\d+) (.+)$/;
const NO_ANSWER = /^no answer yet for icmp_seq=(\d+)/;
const OWN_ERROR = /^ping: (.+)$/;

/** One per-packet line, or undefined for anything else (header, statistics, unknown text). */
export function parsePingLine(line: string): PingLine | undefined {
  const stamp = STAMP.exec(line);
  const tMs = stamp ? epochMs(stamp[1] ?? '', stamp[2] ?? '') : undefined;
  const body = stamp ? line.slice(stamp[0].length) : line.trimStart();
  const at = tMs === undefined ? {} : { tMs };

  const reply = REPLY.exec(body);
  if (reply) {
    const [, bytes, from = '', seq, ttl, time, tail = ''] = reply;
    return {
      kind: 'reply',
      ...at,
      seq: Number(seq),
      ...(time === undefined ? {} : { rttMs: Number(time) }),
      ...(ttl === undefined ? {} : { ttl: Number(ttl) }),
      bytes: Number(bytes),
      from,
      dup: tail.includes('(DUP!)'),
    };
  }
  const from = FROM.exec(body);
  if (from) {
    return {
      kind: 'error',
      ...at,
      seq: Number(from[2]),
      from: from[1] ?? '',
      error: from[3] ?? '',
    };
  }
  const none = NO_ANSWER.exec(body);
  if (none) return { kind: 'no-answer', ...at, seq: Number(none[1]) };
  const own = OWN_ERROR.exec(body);
  if (own) return { kind: 'error', ...at, error: own[1] ?? '' };
  return undefined;
}

/** The header, the statistics block and its rtt line: not per-packet, not unknown either. */
function isChatter(line: string): boolean {
  return /^(PING |--- .* ping statistics ---|\d+ packets transmitted|rtt |round-trip |pipe \d)/.test(
    line.trimStart(),
  );
}

/** Every per-packet line of a ping output, in order, with the counts of what was skipped. */
export function parsePing(text: string): { lines: PingLine[]; counts: ScanCounts } {
  const { records, counts } = scanText(text, parsePingLine, isChatter);
  return { lines: records, counts };
}

/** Streams ping output (a flood prints hundreds of thousands of lines): each line goes to `visit`. */
export function scanPing(lines: LineSource, visit: (line: PingLine) => void): Promise<ScanCounts> {
  return scanLines(lines, parsePingLine, visit, isChatter);
}

/**
 * Turns 16-bit icmp_seq values met in order into a counter that keeps growing across wraps: a value
 * more than half the range below the last one starts the next round, one more than half above it
 * (a late packet from before a wrap) belongs to the previous round.
 */
export function seqUnwrapper(): (seq: number) => number {
  let round = 0;
  let last: number | undefined;
  return (seq) => {
    if (last !== undefined) {
      if (seq < last - 32768) round++;
      else if (seq > last + 32768) return (round - 1) * 65536 + seq;
    }
    last = seq;
    return round * 65536 + seq;
  };
}
