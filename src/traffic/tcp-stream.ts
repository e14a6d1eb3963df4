// flowmig's TCP stream client, run inside a client namespace: sends numbered chunks, each with
// its CRC-32, to an echo server through ADDRESS:PORT at a steady rate and checks every echoed
// chunk. Counts the bytes that came back intact and records how the connection ended: `reset`
// (ECONNRESET, as when a swap sends the flow to a server without its socket), `closed`, `error`,
// or `open` (still up when told to stop). Prints one JSON line (epoch ms times) when the
// connection ends, or on SIGTERM/SIGINT once the chunks in flight are echoed (at most 1 s), then exits:
// {connectedMs, bytesSent, bytesIntact, chunksIntact, corrupt, ended: {kind, atMs, message},
//  longestStallMs, longestStallAtMs} (the longest time with no echo coming back, and its start)
// Usage: node tcp-stream.js --to fe00::1 [--port 7000] [--chunk 1024] [--rate 200]
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string', default: '7000' },
    chunk: { type: 'string', default: '1024' },
    rate: { type: 'string', default: '200' },
  },
});
const fail = (why: string) => {
  process.stderr.write(`tcp-stream: ${why}\n`);
  process.exit(2);
};
const to = values.to ?? fail('--to ADDRESS is required');
const port = Number(values.port);
const chunkSize = Number(values.chunk);
const rate = Number(values.rate);
if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`bad port '${values.port}'`);
if (!Number.isInteger(chunkSize) || chunkSize < 16 || chunkSize > 1 << 20)
  fail(`bad chunk size '${values.chunk}'`);
if (!(rate > 0 && rate <= 100_000)) fail(`bad rate '${values.rate}'`);

const HEADER = 12; // seq, length, crc32 of the payload
const now = () => performance.timeOrigin + performance.now();

/** Chunk `seq`: header then a payload derived from seq, so both ends agree without storing it. */
function makeChunk(seq: number): Buffer {
  const b = Buffer.alloc(chunkSize);
  for (let i = HEADER; i < chunkSize; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  b.writeUInt32BE(seq, 0);
  b.writeUInt32BE(chunkSize - HEADER, 4);
  b.writeUInt32BE(crc32(b.subarray(HEADER)), 8);
  return b;
}

let bytesSent = 0;
let bytesIntact = 0;
let chunksIntact = 0;
let corrupt = 0;
let expected = 0;
let connectedMs: number | null = null;
let ended: { kind: 'reset' | 'closed' | 'error' | 'open'; atMs: number | null; message: string } = {
  kind: 'open',
  atMs: null,
  message: '',
};
let pending: Buffer = Buffer.alloc(0);
// The longest time the echo stream stood still while bytes were outstanding (a migration's stall).
let lastData = 0;
let longestStallMs = 0;
let longestStallAtMs: number | null = null;
let timer: NodeJS.Timeout | undefined;

const finish = () => {
  if (timer) clearInterval(timer);
  process.stdout.write(
    `${JSON.stringify({ connectedMs, bytesSent, bytesIntact, chunksIntact, corrupt, ended, longestStallMs, longestStallAtMs })}\n`,
  );
  process.exit(0);
};

const sock = connect({ host: to, port, noDelay: true });
sock.on('connect', () => {
  connectedMs = now();
  const start = performance.now();
  lastData = start;
  let seq = 0;
  timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (seq < due && !sock.destroyed) {
      const c = makeChunk(seq++);
      sock.write(c);
      bytesSent += c.length;
    }
  }, 1);
});
sock.on('data', (d: Buffer) => {
  const t = performance.now();
  // Outstanding since the last data: the chunks written before it was received.
  if (lastData > 0 && t - lastData > longestStallMs) {
    longestStallMs = t - lastData;
    longestStallAtMs = now() - longestStallMs;
  }
  lastData = t;
  pending = pending.length ? Buffer.concat([pending, d]) : d;
  while (pending.length >= chunkSize) {
    const c = pending.subarray(0, chunkSize);
    pending = pending.subarray(chunkSize);
    const ok =
      c.readUInt32BE(0) === expected &&
      c.readUInt32BE(4) === chunkSize - HEADER &&
      c.readUInt32BE(8) === crc32(c.subarray(HEADER));
    expected++;
    if (ok) {
      chunksIntact++;
      bytesIntact += chunkSize;
    } else corrupt++;
  }
  if (stopping && allEchoed()) finish();
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
  finish(); // the connection is over: report it now
});
// Told to stop: no more chunks; the echoes of those in flight still count (up to 1 s), so a run
// that stops between a chunk and its echo does not report that chunk as missing.
let stopping = false;
const allEchoed = () => (chunksIntact + corrupt) * chunkSize >= bytesSent;
const stop = () => {
  if (timer) clearInterval(timer);
  timer = undefined;
  if (stopping) return;
  stopping = true;
  if (sock.destroyed || allEchoed()) finish();
  else setTimeout(finish, 1_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
