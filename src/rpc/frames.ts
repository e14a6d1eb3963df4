// The binary framing (the serve control protocol's): one JSON line per message, and its long
// strings (a checkpoint's socket queues, MiB of base64) carried after the line as raw bytes, not
// inside the JSON. JSON.stringify and JSON.parse of a 4 MiB string cost ~10 and ~6 ms each and a
// checkpoint crosses three processes; copying the string's bytes costs ~1 ms.
// (Counted in bytes: an attachment must not be cut in the middle of a character.)
// An extension of the plain JSON lines (framing.ts): a message without long strings is one line.
//
//   {"id":3,"ok":true,"result":{...,"sendQueue":{"$att":0},...},"$attachments":[5592408]}\n
//   <5592408 bytes: the string, UTF-8>

import { type Framing, type MessageHandlers, type MessageReader, parseLine } from './framing.js';
import { LineSplitter } from './lines.js';

/** Strings at least this long travel as attachments. */
export const ATTACH_FROM = 32 * 1024;

const MARK = '$att';
const LIST = '$attachments';

/**
 * The message as buffers to write in order: the JSON line, then each attachment (the string as
 * UTF-8: for ASCII such as base64, V8 copies it in one pass).
 */
export function encodeFrame(value: unknown): Buffer[] {
  const attachments: Buffer[] = [];
  const line = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'string' && v.length >= ATTACH_FROM) {
      attachments.push(Buffer.from(v, 'utf8'));
      return { [MARK]: attachments.length - 1 };
    }
    return v;
  });
  if (attachments.length === 0) return [Buffer.from(`${line}\n`)];
  const lengths = attachments.map((a) => a.length);
  // The line is an object (every message is): the list goes in as its last member.
  const head = `${line.slice(0, -1)}${line.length > 2 ? ',' : ''}"${LIST}":${JSON.stringify(lengths)}}\n`;
  return [Buffer.from(head), ...attachments];
}

/** Puts the attachments back where their marks are. */
function rehydrate(value: unknown, attachments: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => rehydrate(v, attachments));
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === MARK && typeof o[MARK] === 'number') {
    const s = attachments[o[MARK]];
    if (s === undefined) throw new Error(`attachment ${o[MARK]} is missing`);
    return s;
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k !== LIST) out[k] = rehydrate(o[k], attachments);
  return out;
}

/**
 * Splits a byte stream into messages: a line, then the attachments it lists, read as raw bytes.
 * Linear in the bytes read (LineSplitter keeps partial pieces and joins them once).
 */
export function frameReader(o: MessageHandlers): MessageReader {
  let pending: { value: unknown; lengths: number[] } | undefined;
  const finish = (value: unknown, attachments: readonly string[]): void => {
    let out: unknown;
    try {
      out = rehydrate(value, attachments);
    } catch {
      o.onBadJson();
      return;
    }
    o.onMessage(out);
  };
  return new LineSplitter({
    limit: o.limit,
    onLine: (bytes) => {
      const parsed = parseLine(bytes, o.onBadJson);
      if (!parsed) return undefined;
      const { value } = parsed;
      const list = (value as Record<string, unknown> | null)?.[LIST];
      if (list === undefined) {
        o.onMessage(value);
        return undefined;
      }
      const ok =
        Array.isArray(list) &&
        list.every((n) => Number.isInteger(n) && n >= 0) &&
        (list as number[]).reduce((a, b) => a + b, 0) <= o.limit;
      if (!ok) {
        // Its bytes cannot be skipped without trusting the list: the stream is out of step.
        o.onBadJson();
        return undefined;
      }
      const lengths = list as number[];
      const total = lengths.reduce((a, b) => a + b, 0);
      if (total === 0) {
        finish(
          value,
          lengths.map(() => ''),
        );
        return undefined;
      }
      pending = { value, lengths };
      return total;
    },
    onBytes: (bytes) => {
      const p = pending;
      pending = undefined;
      if (!p) return;
      let at = 0;
      const strings = p.lengths.map((n) => {
        const s = bytes.toString('utf8', at, at + n);
        at += n;
        return s;
      });
      finish(p.value, strings);
    },
    onOversize: o.onOversize,
  });
}

/** JSON lines whose long strings travel after their line as raw bytes. */
export const jsonFrames: Framing = { encode: encodeFrame, reader: frameReader };
