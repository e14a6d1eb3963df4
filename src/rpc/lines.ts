// Splits a byte stream into lines with a longest-line bound; a line may announce raw bytes that
// follow it (the binary framing, frames.ts, carries long strings that way).

export interface LineSplitterOptions {
  /** Longest line in bytes, its newline not counted; a longer one goes to `onOversize`. */
  readonly limit: number;
  /**
   * One complete line (its bytes, newline removed). May return a count of raw bytes that follow
   * it: those are read whole and handed to `onBytes` before the next line is looked for.
   */
  readonly onLine: (line: Buffer) => number | undefined;
  readonly onBytes?: (bytes: Buffer) => void;
  /** A line over the limit, reported once, as soon as it is known; skipped up to its newline. */
  readonly onOversize: () => void;
}

/**
 * Linear in the bytes read: a partial line or a partial run of raw bytes is kept as pieces and
 * joined once. Lines are cut at the byte 0x0a, so a UTF-8 character split across chunks arrives
 * whole (0x0a never occurs inside a multi-byte character).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Skipping the rest of an oversized line. */
  private skipping = false;
  /** Raw bytes still to read after the last line. */
  private rawLeft = 0;
  private stopped = false;

  constructor(private readonly o: LineSplitterOptions) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.stopped) {
      if (this.rawLeft > 0) {
        const n = Math.min(this.rawLeft, chunk.length - pos);
        this.parts.push(chunk.subarray(pos, pos + n));
        this.size += n;
        this.rawLeft -= n;
        pos += n;
        if (this.rawLeft === 0) this.o.onBytes?.(this.take());
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - pos) > this.o.limit) {
          this.parts = [];
          this.size = 0;
          this.skipping = true;
          this.o.onOversize();
          if (this.stopped) return;
        } else if (end > pos) {
          this.parts.push(chunk.subarray(pos, end));
          this.size += end - pos;
        }
      }
      if (nl < 0) return;
      pos = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      this.line(this.take());
    }
  }

  /**
   * The stream ended: a last line without its newline is a line too (a client may half-close
   * right after its last request). Raw bytes cut short are dropped.
   */
  end(): void {
    if (this.stopped) return;
    const last = this.rawLeft > 0 || this.skipping ? undefined : this.take();
    this.stop();
    if (last !== undefined && last.length > 0) this.line(last);
  }

  /** Reads nothing more (e.g. after an oversized line on a connection that is being closed). */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.size = 0;
  }

  private line(bytes: Buffer): void {
    const raw = this.o.onLine(bytes);
    if (raw !== undefined && raw > 0 && !this.stopped) this.rawLeft = raw;
  }

  private take(): Buffer {
    const b =
      this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return b;
  }
}

/**
 * Splits a stream into text lines, calling `onLine` for each complete one that is not blank
 * (no length bound: for peers that are flowmig's own processes).
 */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  const splitter = new LineSplitter({
    limit: Number.POSITIVE_INFINITY,
    onLine: (bytes) => {
      const line = bytes.toString('utf8');
      if (line.trim() !== '') onLine(line);
      return undefined;
    },
    onOversize: () => {},
  });
  return (chunk) => splitter.push(chunk);
}
