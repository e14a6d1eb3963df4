// The TCP repair addon without root: the loader's one-line error when the addon is missing, the
// addon's error messages, and checkpoint's refusals of what is not an established TCP socket.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlowmigError } from '../../src/errors.js';
import {
  checkpoint,
  nativeAddon,
  restore,
  socketFd,
  socketFromFd,
  tcpRepairUnavailable,
} from '../../src/tcp-repair/index.js';
import { addonMissingMessage, loadAddon } from '../../src/tcp-repair/native.js';

const NATIVE_JS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'tcp-repair',
  'native.js',
);
const MISSING =
  /^live TCP migration needs the native TCP repair addon, which is not built \(.+\); run: npm run build:native$/;

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowmig-native-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `code` (ESM) in a fresh Node with the addon path overridden; returns its output. */
function withAddonAt(
  path: string,
  code: string,
): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, FLOWMIG_TCP_REPAIR_ADDON: path },
    encoding: 'utf8',
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('tcp repair addon: loading', () => {
  it('a missing addon: nativeAddon() throws one clear FlowmigError line, tcpRepairUnavailable() says why', () => {
    const path = join(dir, 'nowhere', 'flowmig_tcp_repair.node');
    const r = withAddonAt(
      path,
      `const m = await import(${JSON.stringify(NATIVE_JS)});
       console.log(JSON.stringify(m.tcpRepairUnavailable() ?? null));
       try { m.nativeAddon(); console.log('loaded'); }
       catch (e) { console.log(e.name); console.log(JSON.stringify(e.message)); }`,
    );
    assert.equal(r.status, 0, r.stderr);
    const [reason, name, message, ...rest] = r.stdout.trimEnd().split('\n');
    assert.deepEqual(rest, []);
    assert.equal(JSON.parse(reason ?? ''), `${path} is missing`);
    assert.equal(name, 'FlowmigError');
    const text = JSON.parse(message ?? '') as string;
    assert.match(text, MISSING);
    assert.ok(text.includes(`(${path} is missing)`), text);
    assert.ok(!text.includes('\n'), 'one line');
  });

  it('a file that is no addon: the reason is the first line of the load error', () => {
    const path = join(dir, 'garbage.node');
    writeFileSync(path, 'not an ELF file\n');
    const r = loadAddon(path);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.match(r.reason, new RegExp(`^${path.replace(/[.]/g, '\\.')} does not load: .+`));
    assert.ok(!r.reason.includes('\n'), 'one line');
    assert.match(addonMissingMessage(r.reason), MISSING);
  });

  it('a module that lacks functions is reported as out of date', () => {
    const path = join(dir, 'old.cjs');
    writeFileSync(path, 'module.exports = { socket() {}, close() {} };\n');
    const r = loadAddon(path);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /is out of date \(no setNonBlocking, bind, .*sendAll\)$/);
  });

  it('the built addon loads (npm install / npm run build:native built it)', () => {
    assert.equal(tcpRepairUnavailable(), undefined);
    const addon = nativeAddon();
    assert.equal(typeof addon.tcpInfo, 'function');
  });
});

describe('tcp repair addon: errors', () => {
  it('a failing call names the call, option, fd and errno, with code and syscall', () => {
    const fd = openSync(NATIVE_JS, 'r');
    try {
      assert.throws(
        () => nativeAddon().setsockoptInt(fd, 'TCP_REPAIR_QUEUE', 1),
        (e: unknown) => {
          const err = e as Error & { code?: string; syscall?: string; errno?: number };
          assert.equal(
            err.message,
            `setsockopt(TCP_REPAIR_QUEUE) on fd ${fd}: Socket operation on non-socket (ENOTSOCK)`,
          );
          assert.equal(err.code, 'ENOTSOCK');
          assert.equal(err.syscall, 'setsockopt');
          assert.equal(err.errno, 88);
          return true;
        },
      );
      assert.throws(
        () => nativeAddon().ioctlInt(fd, 'SIOCOUTQNSD'),
        /^Error: ioctl\(SIOCOUTQNSD\) on fd \d+: .* \(ENOTTY\)$/,
      );
    } finally {
      closeSync(fd);
    }
  });

  it('bad arguments are TypeErrors, not kernel calls', () => {
    const addon = nativeAddon();
    assert.throws(() => addon.setsockoptInt(-1, 'TCP_REPAIR', 1), TypeError);
    // @ts-expect-error an option the addon does not know
    assert.throws(() => addon.getsockoptInt(0, 'SO_NOTHING'), /unknown name SO_NOTHING/);
    assert.throws(() => addon.bind(0, 'fc02::zz', 1), /not an IPv6 address: fc02::zz/);
    assert.throws(() => addon.setsockoptInt(0, 'TCP_QUEUE_SEQ', 2 ** 32), TypeError);
  });
});

/** A bound UDP socket's fd (dgram's handle is deprecated as API: quiet its warning here). */
function udpFd(socket: dgram.Socket): number {
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    return (socket as unknown as { _handle: { fd: number } })._handle.fd;
  } finally {
    process.noDeprecation = quiet;
  }
}

describe('tcp repair: checkpoint refuses what is not an established TCP connection', () => {
  it('a listening socket', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      assert.throws(
        () => checkpoint(fd),
        (e: unknown) =>
          e instanceof FlowmigError &&
          e.message === `checkpoint of fd ${fd}: not an established TCP connection (LISTEN)`,
      );
    } finally {
      server.close();
    }
  });

  it('a Unix socket', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(join(dir, 'unix.sock'), r));
    try {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      assert.throws(
        () => checkpoint(fd),
        new FlowmigError(
          `checkpoint of fd ${fd}: not a TCP socket (Unix stream socket, protocol 0)`,
        ),
      );
    } finally {
      server.close();
    }
  });

  it('a UDP socket, a file and a closed descriptor', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const file = openSync(NATIVE_JS, 'r');
    try {
      const fd = udpFd(udp);
      assert.throws(
        () => checkpoint(fd),
        new FlowmigError(
          `checkpoint of fd ${fd}: not a TCP socket (IPv4 datagram socket, protocol 17)`,
        ),
      );
      assert.throws(
        () => checkpoint(file),
        new FlowmigError(`checkpoint of fd ${file}: not a socket`),
      );
    } finally {
      udp.close();
      closeSync(file);
    }
    assert.throws(() => checkpoint(file), new FlowmigError(`checkpoint of fd ${file}: not open`));
  });

  it('restore refuses a state whose unsent count does not fit its send queue', () => {
    const state = {
      version: 1 as const,
      local: { address: 'fd00::2', port: 1 },
      peer: { address: 'fd00::1', port: 2 },
      sendSeq: 0,
      recvSeq: 0,
      sendQueue: Buffer.from('abc').toString('base64'),
      unsent: 4,
      recvQueue: '',
      mss: 1440,
      timestamp: 0,
      window: { sndWl1: 0, sndWnd: 0, maxWindow: 0, rcvWnd: 0, rcvWup: 0 },
      options: 0,
      sndWscale: 0,
      rcvWscale: 0,
    };
    assert.throws(
      () => restore(state),
      new FlowmigError('restore: the state says 4 bytes were never sent, of a 3-byte send queue'),
    );
  });
});

describe('tcp repair: Node sockets and descriptors', () => {
  it('socketFd needs a connected socket; socketFromFd refuses a file and leaves it open', () => {
    assert.throws(() => socketFd(new net.Socket()), FlowmigError);
    const file = openSync(NATIVE_JS, 'r');
    try {
      assert.throws(
        () => socketFromFd(file),
        (e: unknown) =>
          e instanceof FlowmigError &&
          e.message.startsWith(`fd ${file} is not a connected TCP socket: getsockopt(SO_PROTOCOL)`),
      );
      closeSync(openSync(`/proc/self/fd/${file}`, 'r')); // still open
    } finally {
      closeSync(file);
    }
  });

  it('socketFromFd refuses an unconnected socket and leaves its fd open', () => {
    const addon = nativeAddon();
    const fd = addon.socket();
    try {
      assert.throws(
        () => socketFromFd(fd),
        new FlowmigError(
          `fd ${fd} is not a connected TCP socket: getpeername() on fd ${fd}: Transport endpoint is not connected (ENOTCONN)`,
        ),
      );
    } finally {
      addon.close(fd); // throws EBADF if socketFromFd had closed it
    }
  });

  it('socketFromFd gives a working Node socket that owns the fd; socketFd finds it', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const addon = nativeAddon();
    const fd = addon.socket();
    addon.connect(fd, '::ffff:127.0.0.1', port); // blocking: the descriptor is still plain
    const peer = await accepted;
    const socket = socketFromFd(fd);
    try {
      assert.equal(socketFd(socket), fd);
      assert.equal(socket.remotePort, port);
      const got = new Promise<string>((r) => peer.once('data', (b: Buffer) => r(b.toString())));
      socket.write('hello');
      assert.equal(await got, 'hello');
      const back = new Promise<string>((r) => socket.once('data', (b: Buffer) => r(b.toString())));
      peer.write('world');
      assert.equal(await back, 'world');
    } finally {
      socket.destroy();
      peer.destroy();
      server.close();
    }
    await new Promise((r) => setImmediate(r));
    assert.throws(() => addon.getsockoptInt(fd, 'SO_TYPE'), /EBADF/, 'destroy closed the fd');
  });
});
