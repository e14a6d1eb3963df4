// TCP repair on real namespaces (root): a client in X talks to a server in Y over a veth pair; the
// server's connection is checkpointed, closed silently and restored by another process in Y, and
// the connection goes on byte-exact in both directions without the client noticing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlowmigError } from '../../src/errors.js';
import { ProcessRunner } from '../../src/exec/runner.js';
import { Background, sleep } from '../../src/experiment/process.js';
import { checkpoint, nativeAddon, restore, socketFd } from '../../src/tcp-repair/index.js';
import type { Answers } from './fixtures/peer.js';

const runner = new ProcessRunner();
const PEER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'peer.js');
const CLIENT = 'fd00:7::1';
const SERVER = 'fd00:7::2';
const MB = 1 << 20;

// This file's own namespaces, e.g. fmr3a9c-x and fmr3a9c-y, joined by the veth fmr3a9c-a/-b.
const tag = `fmr${randomBytes(2).toString('hex')}`;
const X = `${tag}-x`;
const Y = `${tag}-y`;
let dir = '';
let nextPort = 5555;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowmig-tcp-repair-'));
  for (const ns of [X, Y]) {
    await runner.run(['ip', 'netns', 'add', ns]);
    await runner.run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
  }
  const [a, b] = [`${tag}-a`, `${tag}-b`];
  await runner.run(['ip', 'link', 'add', a, 'netns', X, 'type', 'veth', 'peer', b, 'netns', Y]);
  for (const [ns, dev, address] of [
    [X, a, CLIENT],
    [Y, b, SERVER],
  ] as const) {
    await runner.run(['ip', 'addr', 'add', `${address}/64`, 'dev', dev, 'nodad'], { netns: ns });
    await runner.run(['ip', 'link', 'set', dev, 'up'], { netns: ns });
  }
});

after(async () => {
  for (const ns of [X, Y]) await runner.run(['ip', 'netns', 'delete', ns]).catch(() => {});
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A peer fixture process; every answer is checked for an error. */
class Peer {
  private constructor(private readonly proc: Background) {}

  static async start(netns: string, args: readonly string[]): Promise<Peer> {
    const peer = new Peer(
      Background.start([process.execPath, PEER, ...args], { netns, stdin: true }),
    );
    await peer.call('status'); // answers once it runs
    return peer;
  }

  async call<K extends keyof Answers>(
    cmd: K,
    args: Record<string, unknown> = {},
    timeoutMs = 20_000,
  ): Promise<Answers[K]> {
    const line = await this.proc.request(JSON.stringify({ cmd, ...args }), timeoutMs);
    const answer = JSON.parse(line) as Answers[K] & { error?: string };
    if (answer.error !== undefined) throw new Error(`${cmd}: ${answer.error}`);
    return answer;
  }

  stop(): Promise<unknown> {
    return this.proc.stop('SIGKILL');
  }
}

/** nft tables this file adds to its own namespaces, by name; each is deleted when done with. */
async function addTable(netns: string, name: string, rule: string): Promise<void> {
  const script = `table inet ${name} {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    ${rule}\n  }\n}\n`;
  await runner.run(['nft', '-f', '-'], { netns, stdin: script });
}

/** Packets the `counter` rule of table `name` has seen. */
async function counted(netns: string, name: string): Promise<number> {
  const text = (await runner.run(['nft', 'list', 'table', 'inet', name], { netns })).stdout;
  const m = /counter packets (\d+)/.exec(text);
  assert.ok(m, `a counter in ${text}`);
  return Number(m[1]);
}

async function deleteTable(netns: string, name: string): Promise<void> {
  await runner.run(['nft', 'delete', 'table', 'inet', name], { netns }).catch(() => {});
}

interface Scene {
  readonly port: number;
  readonly client: Peer;
  /** The server end: the original process until `handover`, then the restoring one. */
  server: Peer;
  readonly peers: Peer[];
}

/** A connected client (in X) and server (in Y) on a port of their own; all stopped afterwards. */
async function withConnection(fn: (scene: Scene) => Promise<void>): Promise<void> {
  const port = nextPort++;
  const peers: Peer[] = [];
  try {
    const server = await Peer.start(Y, ['server', SERVER, String(port)]);
    peers.push(server);
    const client = await Peer.start(X, ['client', SERVER, String(port)]);
    peers.push(client);
    await client.call('connect');
    await server.call('accept');
    await fn({ port, client, server, peers });
  } finally {
    for (const p of peers) await p.stop();
    await deleteTable(Y, 'fmrhold');
    await deleteTable(X, 'fmrloss');
    await deleteTable(X, 'fmrcount');
  }
}

/** Sends `bytes` each way and waits until both ends have everything. */
async function exchange(scene: Scene, bytes: number): Promise<void> {
  const c = await scene.client.call('send', { bytes });
  const s = await scene.server.call('send', { bytes });
  const r1 = await scene.server.call('waitReceived', { bytes: c.sent, timeoutMs: 10_000 });
  const r2 = await scene.client.call('waitReceived', { bytes: s.sent, timeoutMs: 10_000 });
  assert.ok(r1.ok && r2.ok, 'both ends received everything');
}

/**
 * Moves the server's connection to a second process in Y: the client's packets are held (dropped
 * in Y; TCP sends them again) from before the checkpoint until the restore, as the translator
 * would, so nothing reaches Y while no socket exists and Y's kernel answers with a reset.
 */
async function handover(
  scene: Scene,
  t: TestContext,
  betweenCheckpointAndRestore?: () => Promise<void>,
): Promise<{ cp: Answers['checkpoint']; rs: Answers['restore'] }> {
  const standby = await Peer.start(Y, ['standby']);
  scene.peers.push(standby);
  const file = join(dir, `state-${scene.port}.json`);
  await addTable(Y, 'fmrhold', `ip6 saddr ${CLIENT} tcp dport ${scene.port} drop`);
  const cp = await scene.server.call('checkpoint', { file });
  await betweenCheckpointAndRestore?.();
  const rs = await standby.call('restore', { file });
  await deleteTable(Y, 'fmrhold');
  await scene.server.stop(); // the old process is not needed any more: its listener goes too
  scene.server = standby;
  t.diagnostic(
    `checkpoint ${cp.ms.toFixed(3)} ms, restore ${rs.restoreMs.toFixed(3)} ms (send queue ${cp.state.sendQueue} B of which unsent ${cp.state.unsent} B, receive queue ${cp.state.recvQueue} B)`,
  );
  return { cp, rs };
}

/** Both directions byte-exact and complete; the client saw no error, end or close. */
async function assertIntact(scene: Scene): Promise<void> {
  const c = await scene.client.call('status');
  const s = await scene.server.call('status');
  const toServer = await scene.server.call('waitReceived', { bytes: c.sent, timeoutMs: 10_000 });
  const toClient = await scene.client.call('waitReceived', { bytes: s.sent, timeoutMs: 10_000 });
  const c2 = await scene.client.call('status');
  const s2 = await scene.server.call('status');
  assert.equal(toServer.received, c.sent, 'the server received all the client sent');
  assert.equal(toClient.received, s.sent, 'the client received all the server sent');
  assert.equal(s2.mismatchAt, null, 'client → server byte-exact');
  assert.equal(c2.mismatchAt, null, 'server → client byte-exact');
  assert.deepEqual(c2.events, [], 'the client saw no error, end or close');
  assert.deepEqual(s2.events, [], 'the restored server saw no error, end or close');
}

describe('tcp repair: checkpoint in one process, restore in another (namespaces)', () => {
  it('the connection goes on unnoticed: byte-exact both ways, MSS and timestamps kept, 10 MB at full speed', async (t) => {
    await withConnection(async (scene) => {
      await exchange(scene, MB);
      // Count what reaches the client from the server from the checkpoint on: closing the old
      // socket in repair mode sends nothing (no FIN, no RST), nor does the restored one until it
      // is written to (no window probe). The last delayed ACKs have gone by then.
      await sleep(250);
      await addTable(X, 'fmrcount', `ip6 saddr ${SERVER} tcp sport ${scene.port} counter`);
      const { cp, rs } = await handover(scene, t);
      await sleep(300);
      assert.equal(await counted(X, 'fmrcount'), 0, 'no packet from the server until it writes');
      await deleteTable(X, 'fmrcount');
      assert.equal(rs.info.reuseAddr, 1, 'SO_REUSEADDR set again after repair mode');
      assert.equal(cp.state.version, 1);
      assert.deepEqual(cp.state.local, { address: SERVER, port: scene.port });
      assert.equal(cp.state.peer.address, CLIENT);
      // TCP_MAXSEG before connect: else the restored socket's segments shrink (1208 bytes).
      assert.equal(rs.info.tcp.sndMss, cp.before.tcp.sndMss, 'snd_mss kept');
      assert.ok(cp.before.tcp.sndMss > 1300, `a full-size MSS (${cp.before.tcp.sndMss})`);
      assert.equal(rs.info.tcp.options, cp.before.tcp.options, 'TCP options kept');
      assert.equal(rs.info.tcp.sndWscale, cp.before.tcp.sndWscale);
      assert.equal(rs.info.tcp.rcvWscale, cp.before.tcp.rcvWscale);
      // The timestamp clock continues (the client's PAWS check would drop everything else).
      const ahead = (rs.info.timestamp - cp.state.timestamp) >>> 0;
      assert.ok(ahead < 10_000, `restored TCP_TIMESTAMP ${ahead} ticks after the checkpoint's`);

      await exchange(scene, 64 * 1024);
      const s = await scene.server.call('send', { bytes: 10 * MB });
      const down = await scene.client.call('waitReceived', { bytes: s.sent, timeoutMs: 5_000 });
      const c = await scene.client.call('send', { bytes: 10 * MB });
      const up = await scene.server.call('waitReceived', { bytes: c.sent, timeoutMs: 5_000 });
      t.diagnostic(
        `10 MB after restore: server → client ${down.ms.toFixed(0)} ms, client → server ${up.ms.toFixed(0)} ms`,
      );
      assert.ok(down.ok, '10 MB server → client within 5 s');
      assert.ok(up.ok, '10 MB client → server within 5 s');
      await assertIntact(scene);
    });
  });

  it('(a) data in flight and unacknowledged at the checkpoint is retransmitted by the restored socket', async (t) => {
    await withConnection(async (scene) => {
      await exchange(scene, 4 * MB); // a congestion window of hundreds of segments
      // Lose the server's segments at the client for a moment: what it sends stays unacked.
      await addTable(X, 'fmrloss', `ip6 saddr ${SERVER} tcp sport ${scene.port} drop`);
      await scene.server.call('fill');
      await sleep(100);
      // The loss ends before the restore: the restored socket's first retransmission gets through.
      const { cp, rs } = await handover(scene, t, () => deleteTable(X, 'fmrloss'));
      const unacked = cp.state.sendQueue - cp.state.unsent;
      assert.equal(cp.state.sendQueue, cp.before.outq);
      // More than a new socket's send buffer takes (~128 KiB): restore must make room.
      assert.ok(unacked > 200_000, `unacked bytes at the checkpoint: ${unacked}`);
      assert.equal(rs.unsent, cp.state.unsent, 'restore returns the never-sent tail');
      assert.equal(rs.info.outq, unacked, 'the unacked bytes requeued, as sent');
      assert.equal(rs.info.notSent, 0);
      await assertIntact(scene);
      await exchange(scene, MB);
      await assertIntact(scene);
    });
  });

  it('(b) data in the receive queue the server had not read is read by the restored socket', async (t) => {
    await withConnection(async (scene) => {
      await exchange(scene, 256 * 1024);
      await scene.server.call('pause');
      await scene.client.call('send', { bytes: 300_000 });
      await sleep(200);
      const { cp, rs } = await handover(scene, t);
      assert.ok(cp.state.recvQueue > 0, `unread bytes at the checkpoint (${cp.state.recvQueue})`);
      assert.equal(cp.state.recvQueue, cp.before.inq);
      assert.equal(rs.info.inq, cp.state.recvQueue, 'the receive queue restored whole');
      await assertIntact(scene);
      await exchange(scene, MB);
      await assertIntact(scene);
    });
  });

  it('(c) data the server had queued but never sent is written by its new owner', async (t) => {
    await withConnection(async (scene) => {
      await exchange(scene, 256 * 1024);
      // The client stops reading: its window closes and the server's queue stops moving.
      await scene.client.call('pause');
      // Fill until the client's window is shut and bytes wait unsent (its receive buffer may
      // autotune to hold a few MB first).
      // Shut means bytes wait unsent at two checks 100 ms apart (the window did not reopen);
      // one more fill just before the checkpoint keeps some waiting.
      let waited = 0;
      for (let i = 0; i < 30 && waited < 2; i++) {
        await scene.server.call('fill');
        await sleep(100);
        waited = (await scene.server.call('info')).notSent > 0 ? waited + 1 : 0;
      }
      await scene.server.call('fill');
      const { cp, rs } = await handover(scene, t);
      assert.ok(cp.state.unsent > 0, `unsent bytes at the checkpoint (${cp.state.unsent})`);
      assert.equal(cp.state.unsent, cp.before.notSent);
      assert.equal(rs.unsent, cp.state.unsent);
      // restore() does not send them: only the owner's write (done by the fixture) does.
      assert.equal(rs.info.notSent, 0, 'nothing unsent in the socket restore returns');
      await scene.client.call('resume');
      await assertIntact(scene);
      await exchange(scene, MB);
      await assertIntact(scene);
    });
  });

  it('checkpoint then cancelCheckpoint: the same socket goes on', async () => {
    await withConnection(async (scene) => {
      await exchange(scene, 256 * 1024);
      const r = await scene.server.call('checkpointCancel');
      assert.deepEqual(r.local, { address: SERVER, port: scene.port });
      await exchange(scene, MB);
      await assertIntact(scene);
    });
  });
});

describe('tcp repair: failures (this process, root namespace)', () => {
  it('a restore that cannot bind names the step and closes its socket', async () => {
    const state = {
      version: 1 as const,
      local: { address: 'fd00:99::9', port: 5555 },
      peer: { address: 'fd00:99::1', port: 40000 },
      sendSeq: 1000,
      recvSeq: 2000,
      sendQueue: '',
      unsent: 0,
      recvQueue: '',
      mss: 1440,
      timestamp: 12345,
      window: { sndWl1: 2000, sndWnd: 65535, maxWindow: 65535, rcvWnd: 65535, rcvWup: 2000 },
      options: 7,
      sndWscale: 7,
      rcvWscale: 7,
    };
    const fds = async () => (await readdir('/proc/self/fd')).length;
    const open = await fds();
    assert.throws(
      () => restore(state),
      (e: unknown) =>
        e instanceof FlowmigError &&
        e.message ===
          'restore: bind to fd00:99::9 port 5555: Cannot assign requested address (EADDRNOTAVAIL)',
    );
    assert.equal(await fds(), open, 'no descriptor left open');
  });

  it('checkpoint refuses a connection that is not established and leaves it out of repair mode', async () => {
    // allowHalfOpen: Node keeps the socket open after the peer's FIN.
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect(port, '127.0.0.1');
    const peer = await accepted;
    try {
      const fd = socketFd(peer);
      const ended = new Promise((r) => peer.once('end', r));
      client.end();
      await ended; // the FIN arrived: CLOSE_WAIT
      assert.throws(
        () => checkpoint(fd),
        (e: unknown) =>
          e instanceof FlowmigError &&
          e.message === `checkpoint of fd ${fd}: not an established TCP connection (CLOSE_WAIT)`,
      );
      // Out of repair mode: TCP_REPAIR_WINDOW is refused outside it.
      assert.throws(() => nativeAddon().getRepairWindow(fd), /EPERM/);
    } finally {
      client.destroy();
      peer.destroy();
      server.close();
    }
  });
});
