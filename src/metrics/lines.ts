// Splits text or a stream of chunks into lines and scans them with a line parser, counting what it skipped.

/** Text as it comes from a file or pipe: a Node Readable, an async generator, or an array of chunks. */
export type TextChunks = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** Lines already split (no line terminators), synchronous or not. */
export type LineSource = AsyncIterable<string> | Iterable<string>;

/** What a scan saw: every line is exactly one of record, ignored (blank or known chatter) or unparsed. */
export interface ScanCounts {
  readonly lines: number;
  readonly records: number;
  readonly ignored: number;
  readonly unparsed: number;
  /** The first line no parser understood, kept to make a format change easy to spot. */
  readonly firstUnparsed: string | undefined;
}

/** A line parser: a record, or undefined when the line is not one it knows. */
export type LineParser<T> = (line: string) => T | undefined;

/** Lines a format prints around its records (headers, summaries); they are not counted as unparsed. */
export type LineFilter = (line: string) => boolean;

/** Yields the lines of a chunk stream; a chunk may end mid-line or mid-character. `\r\n` counts as `\n`. */
export async function* readLines(chunks: TextChunks): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of chunks) {
    rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n', start)) {
      yield stripCr(rest.slice(start, nl));
      start = nl + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield stripCr(rest);
}

/** Lines of a whole text (a last empty line after the final newline is dropped). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n').map(stripCr);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Counts lines as a scan goes; shared by the synchronous and the streaming scans. */
class Counter<T> {
  lines = 0;
  records = 0;
  ignored = 0;
  unparsed = 0;
  firstUnparsed: string | undefined;

  constructor(
    private readonly parse: LineParser<T>,
    private readonly ignore: LineFilter | undefined,
  ) {}

  take(line: string): T | undefined {
    this.lines++;
    if (line.trim() === '' || this.ignore?.(line)) {
      this.ignored++;
      return undefined;
    }
    const record = this.parse(line);
    if (record === undefined) {
      this.unparsed++;
      this.firstUnparsed ??= line;
      return undefined;
    }
    this.records++;
    return record;
  }

  counts(): ScanCounts {
    const { lines, records, ignored, unparsed, firstUnparsed } = this;
    return { lines, records, ignored, unparsed, firstUnparsed };
  }
}

/** Parses every line of a text; returns the records in order and the counts. */
export function scanText<T>(
  text: string,
  parse: LineParser<T>,
  ignore?: LineFilter,
): { records: T[]; counts: ScanCounts } {
  const counter = new Counter(parse, ignore);
  const records: T[] = [];
  for (const line of splitLines(text)) {
    const r = counter.take(line);
    if (r !== undefined) records.push(r);
  }
  return { records, counts: counter.counts() };
}

/** Parses lines as they arrive and hands each record to `visit`, keeping none: for captures of millions. */
export async function scanLines<T>(
  lines: LineSource,
  parse: LineParser<T>,
  visit: (record: T) => void,
  ignore?: LineFilter,
): Promise<ScanCounts> {
  const counter = new Counter(parse, ignore);
  for await (const line of lines) {
    const r = counter.take(line);
    if (r !== undefined) visit(r);
  }
  return counter.counts();
}
