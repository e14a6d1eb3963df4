// Kernel test (root): serve processes in their own namespace hand live TCP connections (an
// unmodified ncat, the duplex pattern client, a slow reader) back and forth through TCP repair.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ProcessRunner } from '../../src/exec/runner.js';
import { echo } from '../../src/serve/apps.js';
import { ServeClient } from '../../src/serve/client.js';
import { ControlServer } from '../../src/serve/control.js';
import { MigratableServer } from '../../src/serve/runtime.js';
import { tcpRepairUnavailable } from '../../src/tcp-repair/index.js';
import { removeDir, tempDir } from '../support/tmp.js';

const runner = new ProcessRunner();
const MAIN = fileURLToPath(new URL('../../src/serve/main.js', import.meta.url));
const DUPLEX = fileURLToPath(new URL('../../src/traffic/tcp-duplex.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root' : tcpRepairUnavailable();

const CLIENT = 'fd00:f5::1';
const SERVER = 'fd00:f5::2';
const ECHO_PORT = 5555;
const STREAM_PORT = 6000;
const ROUND_TRIPS = 10;
// The duplex client reads at a fixed rate, so the stream server's send queue is full and Node
// holds a partly written chunk: Linux wakes a blocked writer only once half the queue is free,
// which at this rate takes up to ~(4 MiB / 2) / 12 MiB/s ≈ 170 ms. Prepare waits for it.
const PREPARE_TIMEOUT_MS = 1_000;
const DUPLEX_RATE = 12 * 1024 * 1024; // bytes per second, each direction
const DUPLEX_BYTES = 96 * 1024 * 1024; // 8 s at that rate: the 10 round trips take ~3.5 s

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `p`'s value, or 'timeout' after `ms` (the timer does not outlive the answer). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A long-running program: its PID, output so far, and its end. */
interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly closed: Promise<number | null>;
}

function start(name: string, argv: string[], netns: string): Proc {
  const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  const proc: Proc = {
    name,
    child,
    stdout: '',
    stderr: '',
    closed: new Promise((r) => child.on('close', (code) => r(code))),
  };
  child.stdout?.on('data', (d: Buffer) => {
    proc.stdout += d.toString('latin1');
  });
  child.stderr?.on('data', (d: Buffer) => {
    proc.stderr += d.toString('utf8');
  });
  child.stdin?.on('error', () => {});
  return proc;
}

/** Stops a program we started, by its PID: SIGTERM, then SIGKILL after a second. */
async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const killed = (await within(p.closed, 1_000)) !== 'timeout';
  if (!killed) {
    p.child.kill('SIGKILL');
    await p.closed;
  }
}

async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 5_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function startServe(
  name: string,
  netns: string,
  dir: string,
  port: number,
  mode: string,
): Promise<{ proc: Proc; client: ServeClient }> {
  const control = join(dir, `${name}.sock`);
  const proc = start(
    name,
    [
      process.execPath,
      MAIN,
      '--address',
      SERVER,
      '--port',
      String(port),
      '--mode',
      mode,
      '--control',
      control,
      '--node',
      name,
    ],
    netns,
  );
  const line = await waitFor(`${name} to be ready`, () => {
    if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.child.exitCode}`);
    return proc.stdout.includes('\n') ? proc.stdout : undefined;
  });
  // `ip netns exec` execs the program: the PID it reports is the one we hold.
  assert.equal(line, `ready ${proc.child.pid}\n`);
  return { proc, client: await ServeClient.connect(control) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
}
const max = (xs: number[]) => Math.max(...xs);

describe('migratable serve runtime (kernel)', { skip }, () => {
  it('hands ncat and duplex connections back and forth 10 times, intact; a slow reader stays', async (t) => {
    const tag = randomBytes(2).toString('hex');
    const nsA = `fms${tag}-a`;
    const nsS = `fms${tag}-s`;
    const dir = await tempDir('serve-kernel');
    const procs: Proc[] = [];
    const clients: ServeClient[] = [];
    let made = false;
    try {
      // --- two namespaces, a veth between them --------------------------------------------
      await runner.run(['ip', 'netns', 'add', nsA]);
      made = true;
      await runner.run(['ip', 'netns', 'add', nsS]);
      await runner.run([
        'ip',
        'link',
        'add',
        `fms${tag}a0`,
        'netns',
        nsA,
        'type',
        'veth',
        'peer',
        'name',
        `fms${tag}s0`,
        'netns',
        nsS,
      ]);
      for (const [ns, dev, addr] of [
        [nsA, `fms${tag}a0`, CLIENT],
        [nsS, `fms${tag}s0`, SERVER],
      ] as const) {
        await runner.run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
        await runner.run(['ip', 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad'], { netns: ns });
        await runner.run(['ip', 'link', 'set', dev, 'up'], { netns: ns });
      }
      // Both servers share the namespace: between a checkpoint (old socket closed) and a restore,
      // a client segment would meet no socket (or only the listener) and draw a RST. There is no
      // translator to hold packets, so the client's link holds them: a token bucket filter on
      // its egress, switched to 1 byte/s, queues everything (a 1,600-byte bucket, which two
      // dummy datagrams empty at once, so no segment slips through) until it is switched back.
      const clientDev = `fms${tag}a0`;
      const tbf = (add: boolean, on: boolean) =>
        runner.run([
          'tc',
          '-n',
          nsA,
          'qdisc',
          add ? 'add' : 'change',
          'dev',
          clientDev,
          'root',
          'tbf',
          ...(on ? ['rate', '8bit', 'burst', '1600'] : ['rate', '100gbit', 'burst', '10mb']),
          'limit',
          '100mb',
        ]);
      await tbf(true, false);
      const burner = start(
        'burner',
        [process.execPath, '--input-type=module', '-e', burnerScript(SERVER)],
        nsA,
      );
      procs.push(burner);
      let burns = 0;
      const burn = async () => {
        burner.child.stdin?.write('burn\n');
        const want = ++burns;
        await waitFor('the dummy datagrams', () =>
          burner.stdout.split('\n').length > want ? true : undefined,
        );
      };
      const hold = async (on: boolean) => {
        await tbf(false, on);
        await burn(); // on: empties the bucket; off: a packet behind the queue sets it moving
      };

      // --- four serve processes: an echo pair and a stream pair ---------------------------
      const e1 = await startServe('e1', nsS, dir, ECHO_PORT, 'echo');
      const e2 = await startServe('e2', nsS, dir, ECHO_PORT + 1, 'echo');
      const s1 = await startServe('s1', nsS, dir, STREAM_PORT, 'stream');
      const s2 = await startServe('s2', nsS, dir, STREAM_PORT + 1, 'stream');
      for (const s of [e1, e2, s1, s2]) {
        procs.push(s.proc);
        clients.push(s.client);
      }
      assert.equal((await e2.client.hello()).mode, 'echo');

      // --- clients: ncat (lines in, the same lines out) and the duplex pattern client -----
      const ncat = start('ncat', ['ncat', SERVER, String(ECHO_PORT)], nsA);
      procs.push(ncat);
      const duplex = start(
        'duplex',
        [
          process.execPath,
          DUPLEX,
          '--to',
          SERVER,
          '--port',
          String(STREAM_PORT),
          '--bytes',
          String(DUPLEX_BYTES),
          '--rate',
          String(DUPLEX_RATE),
        ],
        nsA,
      );
      procs.push(duplex);
      await waitFor('both connections on the first servers', async () =>
        (await e1.client.status()).length === 1 && (await s1.client.status()).length === 1
          ? true
          : undefined,
      );
      let written = '';
      let lineNo = 0;
      const writeLine = () => {
        const l = `line ${lineNo++} ${randomBytes(6).toString('hex')} ${'.'.repeat(lineNo % 50)}\n`;
        written += l;
        ncat.child.stdin?.write(l);
      };
      const typing = setInterval(writeLine, 5);

      // --- 10 round trips: 1 → 2 → 1 ------------------------------------------------------
      const times = {
        prepare: [] as number[],
        checkpoint: [] as number[],
        restore: [] as number[],
        resume: [] as number[],
        /** Controller: checkpoint start → restore end (the client's link is held meanwhile). */
        gap: [] as number[],
        /** Controller: each call's round trip, JSON both ways included. */
        checkpointCallEcho: [] as number[],
        checkpointCallStream: [] as number[],
        restoreCallEcho: [] as number[],
        restoreCallStream: [] as number[],
        /** KiB: the stream connection's checkpointed send + receive queues. */
        queuesKiB: [] as number[],
      };
      const timed = async <T>(into: number[], f: () => Promise<T>): Promise<T> => {
        const t = performance.now();
        const r = await f();
        into.push(performance.now() - t);
        return r;
      };
      const handOffsStarted = performance.now();
      const pairs = [
        { name: 'echo', a: e1.client, b: e2.client },
        { name: 'stream', a: s1.client, b: s2.client },
      ];
      try {
        for (let n = 0; n < 2 * ROUND_TRIPS; n++) {
          const legs = pairs.map((p) =>
            n % 2 === 0
              ? { from: p.a, to: p.b, name: p.name }
              : { from: p.b, to: p.a, name: p.name },
          );
          const prepared = await Promise.all(
            legs.map((l) => l.from.prepare({ peerAddress: CLIENT }, PREPARE_TIMEOUT_MS)),
          );
          for (const [i, p] of prepared.entries())
            assert.equal(
              p.ready.length,
              1,
              `hand-off ${n} ${legs[i]?.name}: ${JSON.stringify(p.failed)}`,
            );
          await hold(true);
          const t0 = performance.now();
          const cps = await Promise.all(
            legs.map((l, i) =>
              timed(l.name === 'echo' ? times.checkpointCallEcho : times.checkpointCallStream, () =>
                l.from.checkpoint(prepared[i]?.ready ?? []),
              ),
            ),
          );
          const rs = await Promise.all(
            legs.map((l, i) =>
              timed(l.name === 'echo' ? times.restoreCallEcho : times.restoreCallStream, () =>
                l.to.restore(cps[i]?.connections ?? []),
              ),
            ),
          );
          const gap = performance.now() - t0;
          await hold(false);
          const res = await Promise.all(legs.map((l, i) => l.to.resume(rs[i]?.restored ?? [])));
          times.gap.push(gap);
          for (const [i, l] of legs.entries()) {
            assert.equal(
              cps[i]?.connections.length,
              1,
              `${l.name} checkpoint: ${JSON.stringify(cps[i]?.failed)}`,
            );
            assert.equal(
              rs[i]?.restored.length,
              1,
              `${l.name} restore: ${JSON.stringify(rs[i]?.failed)}`,
            );
            assert.equal(
              res[i]?.resumed.length,
              1,
              `${l.name} resume: ${JSON.stringify(res[i]?.failed)}`,
            );
            times.prepare.push(prepared[i]?.prepareMs ?? 0);
            times.checkpoint.push(cps[i]?.checkpointMs ?? 0);
            times.restore.push(rs[i]?.restoreMs ?? 0);
            times.resume.push(res[i]?.resumeMs ?? 0);
            const q = cps[i]?.connections[0]?.socket;
            if (l.name === 'stream' && q)
              times.queuesKiB.push(
                (Buffer.byteLength(q.sendQueue, 'base64') +
                  Buffer.byteLength(q.recvQueue, 'base64')) /
                  1024,
              );
          }
          if (n === 0) {
            // Process 2 listens on another port; the restored socket has its own, the one
            // process 1 still listens on: repair mode's forced reuse lets it bind there.
            const [moved] = await e2.client.status();
            assert.equal(moved?.local.port, ECHO_PORT);
            assert.equal((await e2.client.hello()).port, ECHO_PORT + 1);
          }
          await sleep(50); // data flows on the new server before the next hand-off
        }
      } finally {
        clearInterval(typing);
      }
      assert.equal(
        duplex.child.exitCode,
        null,
        'the duplex transfer ended before the hand-offs did',
      );
      const summary = Object.fromEntries(
        Object.entries(times).map(([k, v]) => [
          k,
          { median: +median(v).toFixed(3), max: +max(v).toFixed(3) },
        ]),
      );
      t.diagnostic(
        `hand-offs: ${2 * ROUND_TRIPS} × 2 connections in ${Math.round(performance.now() - handOffsStarted)} ms; ms (queues KiB) ${JSON.stringify(summary)}`,
      );

      // Back on the first servers, nothing left on the second ones.
      assert.equal((await e2.client.status()).length, 0);
      assert.equal((await s2.client.status()).length, 0);
      const [echoConn] = await e1.client.status();
      assert.equal(echoConn?.state, 'active');

      // --- ncat: every line back, byte for byte, and ncat still running --------------------
      await waitFor(
        'ncat to get every line back',
        () => (ncat.stdout.length >= written.length ? true : undefined),
        10_000,
      );
      assert.equal(ncat.stdout, written);
      assert.equal(ncat.child.exitCode, null, 'ncat must not have exited');
      t.diagnostic(`ncat: ${lineNo} lines, ${written.length} bytes echoed intact`);

      // --- abort: a prepared connection carries on where it is ----------------------------
      const p = await e1.client.prepare({ ids: [echoConn?.id ?? ''] });
      assert.deepEqual(p.ready, [echoConn?.id]);
      assert.equal((await e1.client.status())[0]?.state, 'prepared');
      for (let i = 0; i < 5; i++) writeLine(); // read by nobody while prepared: waits in the kernel
      await sleep(30);
      assert.notEqual(ncat.stdout.length, written.length);
      assert.deepEqual((await e1.client.abort(p.ready)).aborted, p.ready);
      await waitFor('lines written while prepared to come back', () =>
        ncat.stdout.length >= written.length ? true : undefined,
      );
      assert.equal(ncat.stdout, written);

      // --- duplex: completes intact ------------------------------------------------------
      const code = await within(duplex.closed, 60_000);
      const report = JSON.parse(duplex.stdout.trim().split('\n').at(-1) ?? '{}');
      const { timeline: _timeline, ...brief } = report;
      t.diagnostic(`duplex: ${JSON.stringify(brief)}`);
      assert.equal(code, 0, duplex.stdout.slice(0, 2_000));
      assert.equal(report.ended.kind, 'complete');
      assert.equal(report.mismatches, 0);
      assert.equal(report.server.mismatches, 0);
      assert.equal(report.bytesReceived, DUPLEX_BYTES);

      // --- a slow reader: prepare fails with the reason, the connection stays and works ----
      const before = new Set((await e1.client.status()).map((c) => c.id));
      const slowTotal = 16 * 1024 * 1024;
      const slow = start(
        'slow',
        [
          process.execPath,
          '--input-type=module',
          '-e',
          slowReaderScript(SERVER, ECHO_PORT, slowTotal),
        ],
        nsA,
      );
      procs.push(slow);
      const slowId = await waitFor(
        'the slow reader connection',
        async () => (await e1.client.status()).find((c) => !before.has(c.id))?.id,
      );
      // Wait until the echo has stalled: its output no longer grows.
      let last = -1;
      await waitFor('the echo to stall', async () => {
        const out = (await e1.client.status()).find((c) => c.id === slowId)?.bytesOut ?? 0;
        const stalled = out > 0 && out === last;
        last = out;
        await sleep(100);
        return stalled ? true : undefined;
      });
      const sp = await e1.client.prepare({ ids: [slowId] }, 100);
      assert.deepEqual(sp.ready, []);
      assert.equal(sp.failed[0]?.id, slowId);
      assert.match(
        sp.failed[0]?.reason ?? '',
        /KiB still queued by the application \(slow reader\)/,
      );
      t.diagnostic(`slow reader: ${sp.failed[0]?.reason}`);
      assert.equal((await e1.client.status()).find((c) => c.id === slowId)?.state, 'active');
      slow.child.stdin?.write('read\n');
      const slowCode = await within(slow.closed, 20_000);
      assert.equal(slowCode, 0, slow.stdout);
      assert.deepEqual(JSON.parse(slow.stdout), { received: slowTotal, bad: 0 });

      // The servers logged every step and no failure of their own.
      for (const s of [e1, e2, s1, s2]) {
        assert.doesNotMatch(
          s.proc.stderr,
          /unexpected|the app failed|cannot put it back|send buffer left/,
        );
        assert.match(s.proc.stderr, /restore: 1 in, 0 failed/);
      }
    } catch (e) {
      for (const p of procs)
        if (p.stderr !== '')
          t.diagnostic(`${p.name} stderr: ${p.stderr.trim().split('\n').slice(-12).join(' | ')}`);
      throw e;
    } finally {
      for (const c of clients) c.close();
      for (const p of procs) await stop(p);
      if (made) {
        await runner.run(['ip', 'netns', 'del', nsA], { okExitCodes: [0, 1, 2] });
        await runner.run(['ip', 'netns', 'del', nsS], { okExitCodes: [0, 1, 2] });
      }
      await removeDir(dir);
    }
  });

  it('handOff moves a connection to a peer server in-process and back (loopback)', async () => {
    const dir = await tempDir('serve-handoff');
    const port = 30_000 + Math.floor(Math.random() * 10_000);
    const a = new MigratableServer({ address: '::1', port, app: echo });
    const b = new MigratableServer({ address: '::1', port: port + 1, app: echo });
    const controls: ControlServer[] = [];
    let peerA: ServeClient | undefined;
    let peerB: ServeClient | undefined;
    let sock: Socket | undefined;
    try {
      await a.listen();
      await b.listen();
      for (const [name, target] of [
        ['a', a],
        ['b', b],
      ] as const)
        controls.push(
          await ControlServer.start({
            path: join(dir, `${name}.sock`),
            target,
            mode: 'echo',
            onShutdown: () => {},
          }),
        );
      peerA = await ServeClient.connect(join(dir, 'a.sock'));
      peerB = await ServeClient.connect(join(dir, 'b.sock'));
      const s = connect({ host: '::1', port });
      sock = s;
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
      });
      await new Promise((r) => s.once('connect', r));
      const roundTrip = async (text: string, expected: string) => {
        s.write(text);
        await waitFor(`echo of ${text.trim()}`, () => (got === expected ? true : undefined));
      };
      await roundTrip('one\n', 'one\n');
      // The client is idle during each hand-off: no segment can meet the gap and draw a RST.
      const there = await a.handOff({ peerAddress: '::1' }, peerB);
      assert.equal(there.checkpoint.connections.length, 1);
      assert.deepEqual(there.resume?.resumed, [there.checkpoint.connections[0]?.id]);
      assert.equal(a.connections().length, 0);
      assert.equal(b.connections().length, 1);
      await roundTrip('two\n', 'one\ntwo\n');
      const back = await b.handOff({ ids: [b.connections()[0]?.id ?? ''] }, peerA);
      assert.equal(back.keptHere.length + (back.resume?.resumed.length ?? 0), 1);
      await roundTrip('three\n', 'one\ntwo\nthree\n');
      assert.equal(a.connections()[0]?.bytesIn, 14);
    } finally {
      sock?.destroy();
      peerA?.close();
      peerB?.close();
      for (const c of controls) await c.close();
      await a.close();
      await b.close();
      await removeDir(dir);
    }
  });
});

/** Sends two datagrams (1,462 + 122 bytes on the wire) to the discard port per stdin line. */
function burnerScript(host: string): string {
  return `
import { createSocket } from 'node:dgram';
const s = createSocket('udp6');
process.stdin.on('data', (d) => {
  for (const _ of d.toString().split('\\n').slice(1)) {
    s.send(Buffer.alloc(1400), 9, '${host}', () =>
      s.send(Buffer.alloc(60), 9, '${host}', () => process.stdout.write('ok\\n')));
  }
});
`;
}

/** A client that sends `total` bytes but reads nothing until a line arrives on its stdin. */
function slowReaderScript(host: string, port: number, total: number): string {
  return `
import { connect } from 'node:net';
const total = ${total};
const expected = (i) => (i * 7 + (i >> 10)) & 0xff;
const data = Buffer.alloc(total);
for (let i = 0; i < total; i++) data[i] = expected(i);
const s = connect({ host: '${host}', port: ${port} });
s.pause();
s.on('connect', () => s.write(data));
let received = 0, bad = 0;
s.on('data', (d) => {
  for (let j = 0; j < d.length; j++) if (d[j] !== expected(received + j)) bad++;
  received += d.length;
  if (received >= total) { process.stdout.write(JSON.stringify({ received, bad })); process.exit(bad ? 1 : 0); }
});
s.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.message, received })); process.exit(1); });
process.stdin.once('data', () => s.resume());
`;
}
