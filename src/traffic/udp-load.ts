// flowmig's UDP request/response load, run inside a client namespace: sends numbered datagrams to
// ADDRESS:PORT at a steady rate from one socket (one flow) and counts the echoes by number, so a
// reply that never came (lost) and one that came twice (duplicated) are both seen. Sends for
// --seconds (0: until SIGTERM/SIGINT), waits --settle-ms for late echoes, prints one JSON line:
// {sent, received, unique, lost, duplicates, ratePerS, seconds}. With --log FILE it also writes
// one line per datagram: `seq sentMs firstEchoMs copies` (epoch ms; `-` for no echo), for the
// experiment's per-swap loss, duplication and reordering.
// Usage: node udp-load.js --to fe00::1 [--port 5555] [--rate 20000] [--seconds 0] [--settle-ms 500]
//        [--size 64] [--log FILE]
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

export interface UdpLoadResult {
  readonly sent: number;
  readonly received: number;
  readonly unique: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly ratePerS: number;
  readonly seconds: number;
}

const { values } = parseArgs({
  options: {
    to: { type: 'string' },
    port: { type: 'string', default: '5555' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '0' },
    'settle-ms': { type: 'string', default: '500' },
    size: { type: 'string', default: '64' },
    log: { type: 'string' },
  },
});
const fail = (why: string) => {
  process.stderr.write(`udp-load: ${why}\n`);
  process.exit(2);
};
const to = values.to ?? fail('--to ADDRESS is required');
const port = Number(values.port);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const settleMs = Number(values['settle-ms']);
const size = Math.max(8, Number(values.size));
if (!Number.isInteger(port) || port < 1 || port > 65_535) fail(`bad port '${values.port}'`);
if (!(rate > 0 && rate <= 1_000_000)) fail(`bad rate '${values.rate}'`);
if (!(seconds >= 0)) fail(`bad seconds '${values.seconds}'`);

const now = () => performance.timeOrigin + performance.now();
/** Per sequence number (with --log): when it was sent, its first echo, and how many echoes came. */
let sentAt = new Float64Array(values.log ? 1 << 16 : 0);
let echoAt = new Float64Array(values.log ? 1 << 16 : 0);
let copies = new Uint16Array(values.log ? 1 << 16 : 0);
function grow<T extends Float64Array | Uint16Array>(a: T, need: number): T {
  if (need < a.length) return a;
  let n = a.length;
  while (n <= need) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
// One bit per sequence number seen, grown as needed.
let seen = new Uint8Array(1 << 16);
let sent = 0;
let received = 0;
let unique = 0;
let duplicates = 0;
const sock = createSocket({ type: 'udp6', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
sock.on('message', (data) => {
  if (data.length < 8) return;
  const seq = data.readUInt32BE(0) * 2 ** 32 + data.readUInt32BE(4);
  if (seq >= sent) return; // not ours
  received++;
  if (values.log) {
    if (copies[seq] === 0) echoAt[seq] = now();
    copies[seq] = Math.min(65_535, (copies[seq] ?? 0) + 1);
  }
  const byte = Math.floor(seq / 8);
  while (byte >= seen.length) {
    const bigger = new Uint8Array(seen.length * 2);
    bigger.set(seen);
    seen = bigger;
  }
  const bit = 1 << (seq % 8);
  if ((seen[byte] ?? 0) & bit) duplicates++;
  else {
    seen[byte] = (seen[byte] ?? 0) | bit;
    unique++;
  }
});
sock.on('error', (e) => fail(e.message));

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});

await new Promise<void>((resolve) => sock.connect(port, to, resolve));
const start = performance.now();
// Each millisecond, send what the rate owes by now (timers fire about every millisecond).
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const elapsed = (performance.now() - start) / 1000;
    if (stopping || (seconds > 0 && elapsed >= seconds)) {
      clearInterval(timer);
      resolve();
      return;
    }
    const due = Math.floor(elapsed * rate);
    while (sent < due) {
      // A buffer per datagram: a queued send still reads its buffer after send() returns.
      const payload = Buffer.alloc(size);
      payload.writeUInt32BE(Math.floor(sent / 2 ** 32), 0);
      payload.writeUInt32BE(sent % 2 ** 32, 4);
      if (values.log) {
        sentAt = grow(sentAt, sent);
        echoAt = grow(echoAt, sent);
        copies = grow(copies, sent);
        sentAt[sent] = now();
      }
      sock.send(payload);
      sent++;
    }
  }, 1);
});
const sendingS = (performance.now() - start) / 1000;
await new Promise((r) => setTimeout(r, settleMs));
sock.close();
if (values.log) {
  const out = createWriteStream(values.log);
  for (let i = 0; i < sent; i++) {
    const line = `${i} ${(sentAt[i] ?? 0).toFixed(3)} ${copies[i] ? (echoAt[i] ?? 0).toFixed(3) : '-'} ${copies[i] ?? 0}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  await new Promise<void>((resolve, reject) =>
    out.end((e?: Error | null) => (e ? reject(e) : resolve())),
  );
}
const result: UdpLoadResult = {
  sent,
  received,
  unique,
  lost: sent - unique,
  duplicates,
  ratePerS: Math.round(sent / Math.max(sendingS, 1e-9)),
  seconds: Number(sendingS.toFixed(3)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
