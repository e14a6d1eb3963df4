// flowmig's duplex TCP client for the `stream` serve app, run inside a client namespace: asks
// for BYTES of the pattern stream in a header, sends BYTES of the same pattern meanwhile, and
// checks every byte received against it and the server's trailer (bytes, mismatches, CRC-32 of
// what it received) against what was sent. Records how the connection ended (`complete`,
// `reset`, `closed`, `error`, or `open` when stopped), the longest stall (no byte received while
// incomplete) and received bytes per 10 ms. Prints one JSON line (epoch ms times) when the
// connection ends or on SIGTERM/SIGINT; exits 0 only when complete and intact.
// Usage: node tcp-duplex.js --to fe00::1 [--port 5555] --bytes N [--chunk 65536] [--rate BYTES/S]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import { checkPattern, fillPattern } from '../stream/pattern.js';
import {
  decodeStreamTrailer,
  encodeStreamHeader,
  STREAM_TRAILER_BYTES,
  type StreamTrailer,
} from '../stream/wire.js';

const fail = (why: string): never => {
  process.stderr.write(`tcp-duplex: ${why}\n`);
  process.exit(2);
};
let values: Record<string, string | undefined> = {};
try {
  ({ values } = parseArgs({
    options: {
      to: { type: 'string' },
      port: { type: 'string', default: '5555' },
      bytes: { type: 'string' },
      chunk: { type: 'string', default: '65536' },
      rate: { type: 'string' },
    },
  }));
} catch (e) {
  fail((e as Error).message.split('\n')[0] ?? 'bad arguments');
}
const to = values.to ?? fail('--to ADDRESS is required');
const port = Number(values.port);
const total = Number(values.bytes ?? fail('--bytes N is required'));
const chunkSize = Number(values.chunk);
const rate = values.rate === undefined ? undefined : Number(values.rate);
if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`bad port '${values.port}'`);
if (!Number.isSafeInteger(total) || total < 0) fail(`bad byte count '${values.bytes}'`);
if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 1 << 24)
  fail(`bad chunk size '${values.chunk}'`);
if (rate !== undefined && !(rate > 0)) fail(`bad rate '${values.rate}'`);

const BIN_MS = 10;
const now = () => performance.timeOrigin + performance.now();

type EndKind = 'complete' | 'reset' | 'closed' | 'error' | 'open';
let ended: { kind: EndKind; atMs: number | null; message: string } = {
  kind: 'open',
  atMs: null,
  message: '',
};
let connectedMs: number | null = null;
let startedAt = 0; // performance.now() at connect
let bytesSent = 0;
let bytesReceived = 0;
let mismatches = 0;
let firstMismatchAt: number | null = null;
let crcSent = 0;
let crcReceived = 0;
let trailerBytes: Buffer = Buffer.alloc(0);
let trailer: StreamTrailer | undefined;
let lastReceiptAt = 0;
let longestStall = { ms: 0, atMs: null as number | null };
const timeline: number[] = [];
let pacer: NodeJS.Timeout | undefined;
let finished = false;

const complete = (): boolean =>
  bytesSent === total && bytesReceived === total && trailer !== undefined;
const intact = (): boolean =>
  complete() &&
  mismatches === 0 &&
  trailer !== undefined &&
  trailer.mismatches === 0 &&
  trailer.received === total &&
  trailer.crc === crcSent;

function noteStall(at: number): void {
  const gap = at - lastReceiptAt;
  if (gap > longestStall.ms)
    longestStall = { ms: gap, atMs: performance.timeOrigin + lastReceiptAt };
}

function finish(): void {
  if (finished) return;
  finished = true;
  if (pacer) clearInterval(pacer);
  if (connectedMs !== null && !complete()) noteStall(performance.now());
  const result = {
    to,
    port,
    bytes: total,
    connectedMs,
    bytesSent,
    bytesReceived,
    mismatches,
    firstMismatchAt,
    crcSent,
    crcReceived,
    server: trailer ?? null,
    complete: complete(),
    intact: intact(),
    ended,
    longestStall: { ms: Math.round(longestStall.ms * 1000) / 1000, atMs: longestStall.atMs },
    timeline: { binMs: BIN_MS, startMs: connectedMs, bytes: timeline },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(intact() ? 0 : 1));
}

const sock = connect({ host: to, port, noDelay: true });

/** Pattern bytes allowed out so far: all of them, or what the rate allows by now. */
const allowance = (): number =>
  rate === undefined
    ? total
    : Math.min(total, Math.floor(((performance.now() - startedAt) / 1000) * rate));

function send(): void {
  const limit = allowance();
  while (bytesSent < limit && !sock.destroyed) {
    const n = Math.min(chunkSize, limit - bytesSent);
    const b = Buffer.allocUnsafe(n);
    fillPattern(b, bytesSent);
    bytesSent += n;
    crcSent = crc32(b, crcSent);
    if (!sock.write(b)) return; // 'drain' calls again
  }
  maybeEnd();
}

function maybeEnd(): void {
  if (complete() && !sock.writableEnded) sock.end();
}

sock.on('connect', () => {
  connectedMs = now();
  startedAt = performance.now();
  lastReceiptAt = startedAt;
  sock.write(encodeStreamHeader(total, total));
  send();
  // With a rate, a timer lets bytes out as time passes and holds reading back to the same pace.
  if (rate !== undefined)
    pacer = setInterval(() => {
      send();
      if (sock.isPaused() && bytesReceived <= allowance()) sock.resume();
    }, 5);
});
sock.on('drain', send);
sock.on('data', (d: Buffer) => {
  const t = performance.now();
  noteStall(t);
  lastReceiptAt = t;
  const bin = Math.floor((t - startedAt) / BIN_MS);
  while (timeline.length <= bin) timeline.push(0);
  timeline[bin] = (timeline[bin] ?? 0) + d.length;

  const inPattern = d.subarray(0, Math.max(0, total - bytesReceived));
  if (inPattern.length > 0) {
    const check = checkPattern(inPattern, bytesReceived);
    mismatches += check.mismatches;
    firstMismatchAt ??= check.first;
    crcReceived = crc32(inPattern, crcReceived);
    bytesReceived += inPattern.length;
  }
  const rest = d.subarray(inPattern.length);
  if (rest.length > 0) {
    trailerBytes = Buffer.concat([trailerBytes, rest]);
    if (trailerBytes.length >= STREAM_TRAILER_BYTES && trailer === undefined) {
      trailer = decodeStreamTrailer(trailerBytes.subarray(0, STREAM_TRAILER_BYTES));
      if (trailer === undefined) {
        mismatches += trailerBytes.length;
        firstMismatchAt ??= total;
      }
    }
    if (trailerBytes.length > STREAM_TRAILER_BYTES) {
      mismatches += trailerBytes.length - STREAM_TRAILER_BYTES; // nothing may follow the trailer
      firstMismatchAt ??= total + STREAM_TRAILER_BYTES;
      trailerBytes = trailerBytes.subarray(0, STREAM_TRAILER_BYTES);
    }
  }
  if (complete() && ended.kind === 'open') ended = { kind: 'complete', atMs: now(), message: '' };
  maybeEnd();
  if (rate !== undefined && bytesReceived > allowance()) sock.pause();
});
sock.on('error', (e: NodeJS.ErrnoException) => {
  if (ended.kind !== 'open') return;
  ended = {
    kind: e.code === 'ECONNRESET' ? 'reset' : 'error',
    atMs: now(),
    message: e.code ? `${e.code}: ${e.message}` : e.message,
  };
});
sock.on('close', () => {
  if (ended.kind === 'open') ended = { kind: 'closed', atMs: now(), message: 'closed by the peer' };
  finish();
});
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
