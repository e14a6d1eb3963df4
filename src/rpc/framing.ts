// How messages become bytes and back: the Framing a client or server speaks, and its plain form,
// one JSON object per line (frames.ts is the other: long strings carried as raw bytes).
import { LineSplitter } from './lines.js';

export interface MessageHandlers {
  /** Longest line in bytes (and longest message with what follows its line). */
  readonly limit: number;
  readonly onMessage: (value: unknown) => void;
  /** A line that is not JSON (or announces what it cannot carry): it is skipped. */
  readonly onBadJson: () => void;
  /** A line over the limit: it is skipped up to its end. */
  readonly onOversize: () => void;
}

export interface MessageReader {
  push(chunk: Buffer): void;
  /** The stream ended: a last line without its newline is read too. */
  end(): void;
  /** Reads nothing more. */
  stop(): void;
}

export interface Framing {
  /** The message as buffers to write in order. */
  encode(value: unknown): Buffer[];
  reader(handlers: MessageHandlers): MessageReader;
}

/** Parses one line as JSON; blank lines are no message (undefined), bad ones are reported. */
export function parseLine(bytes: Buffer, onBadJson: () => void): { value: unknown } | undefined {
  const text = bytes.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    onBadJson();
    return undefined;
  }
}

/** One JSON object per line (a trailing CR is JSON whitespace: CRLF ends work too). */
export const jsonLines: Framing = {
  encode: (value) => [Buffer.from(`${JSON.stringify(value)}\n`)],
  reader: (h) =>
    new LineSplitter({
      limit: h.limit,
      onLine: (bytes) => {
        const parsed = parseLine(bytes, h.onBadJson);
        if (parsed) h.onMessage(parsed.value);
        return undefined;
      },
      onOversize: h.onOversize,
    }),
};
