// Framing of the serve control protocol: one JSON line per message, and the message's long strings
// (a checkpoint's socket queues, MiB of base64) carried after the line as raw bytes instead of
// inside the JSON. JSON.stringify and JSON.parse of a 4 MiB string cost ~10 and ~6 ms each and a
// checkpoint crosses three processes; copying the string's bytes costs ~1 ms.
// (Counted in bytes: an attachment must not be cut in the middle of a character.)
//
//   {"id":3,"ok":true,"result":{...,"sendQueue":{"$att":0},...},"$attachments":[5592408]}\n
//   <5592408 bytes: the string, UTF-8>

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

export interface FrameReaderOptions {
  /** Longest line, and longest message with its attachments. */
  readonly limit: number;
  readonly onMessage: (value: unknown) => void;
  /** A line that is not JSON (or whose attachment list is malformed): the line is skipped. */
  readonly onBadJson: () => void;
  /** A line or message over the limit: it is skipped up to its end. */
  readonly onOversize: () => void;
}

/**
 * Splits a byte stream into messages. Linear in the bytes read: a partial line or attachment is
 * kept as pieces and joined once.
 */
export function frameReader(o: FrameReaderOptions): (chunk: Buffer) => void {
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  // While reading attachments: the message, the lengths left, the strings read so far.
  let pending: { value: unknown; lengths: number[]; done: string[] } | undefined;
  let skipBytes = 0;

  const takeLine = (text: string): void => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      o.onBadJson();
      return;
    }
    const list = (value as Record<string, unknown> | null)?.[LIST];
    if (list === undefined) {
      o.onMessage(value);
      return;
    }
    const ok =
      Array.isArray(list) &&
      list.every((n) => Number.isInteger(n) && n >= 0) &&
      (list as number[]).reduce((a, b) => a + b, 0) <= o.limit;
    if (!ok) {
      // Its bytes cannot be skipped without trusting the list: the stream is out of step.
      o.onBadJson();
      return;
    }
    pending = { value, lengths: [...(list as number[])], done: [] };
    finishIfDone();
  };

  const finishIfDone = (): void => {
    if (!pending || pending.lengths.length > pending.done.length) return;
    const { value, done } = pending;
    pending = undefined;
    let out: unknown;
    try {
      out = rehydrate(value, done);
    } catch {
      o.onBadJson();
      return;
    }
    o.onMessage(out);
  };

  return (chunk) => {
    let pos = 0;
    while (pos < chunk.length) {
      if (skipBytes > 0) {
        const n = Math.min(skipBytes, chunk.length - pos);
        skipBytes -= n;
        pos += n;
        continue;
      }
      if (pending) {
        const want = pending.lengths[pending.done.length] ?? 0;
        const n = Math.min(want - size, chunk.length - pos);
        if (n > 0) parts.push(chunk.subarray(pos, pos + n));
        size += n;
        pos += n;
        if (size === want) {
          const b = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
          pending.done.push(b.toString('utf8'));
          parts = [];
          size = 0;
          finishIfDone();
        }
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        if (size + (end - pos) > o.limit) {
          parts = [];
          size = 0;
          skipping = true;
          o.onOversize();
        } else if (end > pos) {
          parts.push(chunk.subarray(pos, end));
          size += end - pos;
        }
      }
      if (nl < 0) return;
      pos = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      const line = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
      parts = [];
      size = 0;
      takeLine(line.toString('utf8'));
    }
  };
}
