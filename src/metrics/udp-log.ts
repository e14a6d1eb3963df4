// Parses flowmig's UDP sender log (`udp-load --log FILE`): one line per datagram, `seq sentMs firstEchoMs|- copies`.
import { type LineSource, type ScanCounts, scanLines, scanText } from './lines.js';
import type { SendRecord } from './sequence.js';

const LINE = /^\s*(\d+)\s+(\d+(?:\.\d+)?)\s+(-|\d+(?:\.\d+)?)\s+(\d+)\s*$/;

/** One datagram's record, or undefined for any other line. */
export function parseUdpLogLine(line: string): SendRecord | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const echo = m[3] ?? '-';
  return {
    seq: Number(m[1]),
    sentMs: Number(m[2]),
    receivedMs: echo === '-' ? null : Number(echo),
    copies: Number(m[4]),
  };
}

/** Every record of a log, in order, with the counts of what was skipped. */
export function parseUdpLog(text: string): { records: SendRecord[]; counts: ScanCounts } {
  return scanText(text, parseUdpLogLine);
}

/** Streams a log (one line per datagram: millions at a high rate). */
export function scanUdpLog(
  lines: LineSource,
  visit: (record: SendRecord) => void,
): Promise<ScanCounts> {
  return scanLines(lines, parseUdpLogLine, visit);
}
