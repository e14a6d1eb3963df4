// Checkpoint and restore of one established TCP connection with the kernel's TCP repair mode: the
// order of the calls, and why each is there (pitfalls found in research/tcp-live-migration).
import { isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FlowmigError } from '../errors.js';
import { isNativeError, nativeAddon, type RepairOption, type TcpRepairAddon } from './native.js';
import type { Endpoint, RepairWindow, RestoredSocket, TcpSocketState } from './types.js';

// include/net/tcp_states.h, include/uapi/linux/tcp.h
const TCP_ESTABLISHED = 1;
const TCP_STATE_NAMES = [
  'unknown',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];
const TCP_REPAIR_ON = 1;
const TCP_REPAIR_OFF = 0;
const TCP_REPAIR_OFF_NO_WP = -1;
const TCP_NO_QUEUE = 0;
const TCP_RECV_QUEUE = 1;
const TCP_SEND_QUEUE = 2;
const TCPOPT_MSS = 2;
const TCPOPT_WINDOW = 3;
const TCPOPT_SACK_PERM = 4;
const TCPOPT_TIMESTAMP = 8;
const TCPI_OPT_TIMESTAMPS = 1;
const TCPI_OPT_SACK = 2;
const TCPI_OPT_WSCALE = 4;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const MAX_TCP_MAXSEG = 32_767;

/** Runs one kernel step; a failure becomes a one-line FlowmigError naming the step. */
function step<T>(context: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw stepFailed(context, what, e);
  }
}

function stepFailed(context: string, what: string, e: unknown): FlowmigError {
  if (e instanceof FlowmigError) return e;
  const why = isNativeError(e) ? e.reason : e instanceof Error ? e.message : String(e);
  return new FlowmigError(`${context}: ${what}: ${why}`, { cause: e });
}

/** Refuses anything but a TCP socket, saying what the fd is instead. */
function requireTcpSocket(n: TcpRepairAddon, fd: number, context: string): void {
  const read = (option: 'SO_DOMAIN' | 'SO_TYPE' | 'SO_PROTOCOL') => {
    try {
      return n.getsockoptInt(fd, option);
    } catch (e) {
      const code = isNativeError(e) ? e.code : '';
      if (code === 'EBADF') throw new FlowmigError(`${context}: not open`, { cause: e });
      if (code === 'ENOTSOCK') {
        throw new FlowmigError(`${context}: not a socket`, { cause: e });
      }
      throw stepFailed(context, `getsockopt(${option})`, e);
    }
  };
  const domain = read('SO_DOMAIN');
  const type = read('SO_TYPE');
  const protocol = read('SO_PROTOCOL');
  const inet = domain === AF_INET || domain === AF_INET6;
  if (inet && type === SOCK_STREAM && protocol === IPPROTO_TCP) return;
  const family =
    { [AF_UNIX]: 'Unix', [AF_INET]: 'IPv4', [AF_INET6]: 'IPv6' }[domain] ?? `family ${domain}`;
  const kind = type === SOCK_STREAM ? 'stream' : type === SOCK_DGRAM ? 'datagram' : `type ${type}`;
  throw new FlowmigError(
    `${context}: not a TCP socket (${family} ${kind} socket, protocol ${protocol})`,
  );
}

function requireEstablished(
  n: TcpRepairAddon,
  fd: number,
  context: string,
): ReturnType<TcpRepairAddon['tcpInfo']> {
  const info = step(context, 'getsockopt(TCP_INFO)', () => n.tcpInfo(fd));
  if (info.state !== TCP_ESTABLISHED) {
    const name = TCP_STATE_NAMES[info.state] ?? `state ${info.state}`;
    throw new FlowmigError(`${context}: not an established TCP connection (${name})`);
  }
  return info;
}

/**
 * Puts the socket in repair mode and reads everything needed to rebuild it. It stays in repair
 * mode: from now on close() sends nothing (no FIN, no RST), so its owner closes the fd, or calls
 * cancelCheckpoint() to keep using it. The connection's packets must be held meanwhile: a queue
 * that changes while it is read is an error.
 */
export function checkpoint(fd: number): TcpSocketState {
  const n = nativeAddon();
  const context = `checkpoint of fd ${fd}`;
  requireTcpSocket(n, fd, context);
  requireEstablished(n, fd, context);
  step(context, 'turn repair mode on', () => n.setsockoptInt(fd, 'TCP_REPAIR', TCP_REPAIR_ON));
  let window: RepairWindow | undefined;
  try {
    // The state may have changed between the check and repair mode: check again, for good.
    const info = requireEstablished(n, fd, context);
    // Repair mode alone does not stop transmission: data queued behind TCP small queues or the
    // congestion window still goes out as the device frees room. A segment sent after the
    // sequence numbers are read reaches the peer, whose acknowledgements then cover data the
    // restored socket thinks unsent; it discards them, and every segment carrying them (an ACK
    // of unsent data), and the connection stalls for good. So the send window is closed first
    // (nothing new leaves), and the state keeps the window as it was.
    window = step(context, 'getsockopt(TCP_REPAIR_WINDOW)', () => n.getRepairWindow(fd));
    const open = window;
    step(context, 'close the send window', () => n.setRepairWindow(fd, { ...open, sndWnd: 0 }));
    const recvLength = step(context, 'ioctl(SIOCINQ)', () => n.ioctlInt(fd, 'SIOCINQ'));
    const sendLength = step(context, 'ioctl(SIOCOUTQ)', () => n.ioctlInt(fd, 'SIOCOUTQ'));
    const unsent = step(context, 'ioctl(SIOCOUTQNSD)', () => n.ioctlInt(fd, 'SIOCOUTQNSD'));
    const queue = (which: number, name: string, length: number) => {
      step(context, `select the ${name} queue`, () =>
        n.setsockoptInt(fd, 'TCP_REPAIR_QUEUE', which),
      );
      const seq = step(context, `read the ${name} queue sequence`, () =>
        n.getsockoptInt(fd, 'TCP_QUEUE_SEQ'),
      );
      // One byte more than expected: a queue that grew since the ioctl shows as a mismatch.
      const data =
        length === 0
          ? Buffer.alloc(0)
          : step(context, `peek the ${name} queue`, () => n.peek(fd, length + 1));
      if (data.length !== length) {
        throw new FlowmigError(
          `${context}: the ${name} queue changed while it was read (${length} bytes, then ${data.length}): hold the connection's packets first`,
        );
      }
      return { seq: seq >>> 0, data };
    };
    const send = queue(TCP_SEND_QUEUE, 'send', sendLength);
    const recv = queue(TCP_RECV_QUEUE, 'receive', recvLength);
    step(context, 'select no queue', () => n.setsockoptInt(fd, 'TCP_REPAIR_QUEUE', TCP_NO_QUEUE));
    // In repair mode TCP_MAXSEG reads the MSS clamp (what the peer announced), not mss_cache.
    const mss = step(context, 'getsockopt(TCP_MAXSEG)', () => n.getsockoptInt(fd, 'TCP_MAXSEG'));
    const timestamp = step(context, 'getsockopt(TCP_TIMESTAMP)', () =>
      n.getsockoptInt(fd, 'TCP_TIMESTAMP'),
    );
    return {
      version: 1,
      local: step(context, 'getsockname', () => n.getsockname(fd)),
      peer: step(context, 'getpeername', () => n.getpeername(fd)),
      sendSeq: send.seq,
      recvSeq: recv.seq,
      sendQueue: send.data.toString('base64'),
      unsent,
      recvQueue: recv.data.toString('base64'),
      mss,
      timestamp: timestamp >>> 0,
      window,
      options: info.options,
      sndWscale: info.sndWscale,
      rcvWscale: info.rcvWscale,
    };
  } catch (e) {
    // Give the socket back as it was; the first error is the one worth reporting.
    try {
      if (window) n.setRepairWindow(fd, window);
    } catch {}
    try {
      n.setsockoptInt(fd, 'TCP_REPAIR', TCP_REPAIR_OFF);
    } catch {}
    throw e;
  }
}

/**
 * Leaves repair mode after a checkpoint, to keep using the socket. Leaving repair mode sends a
 * window probe (the peer answers with an ACK, resynchronising both ends) and, as always when
 * leaving it, clears SO_REUSEADDR.
 */
export function cancelCheckpoint(fd: number): void {
  const n = nativeAddon();
  step(`cancel the checkpoint of fd ${fd}`, 'turn repair mode off', () =>
    n.setsockoptInt(fd, 'TCP_REPAIR', TCP_REPAIR_OFF),
  );
}

export interface RestoreOptions {
  /** Bind to this address instead of state.local.address (the port stays state.local.port). */
  readonly localAddress?: string | undefined;
  readonly socketOptions?: { readonly noDelay?: boolean; readonly keepAlive?: boolean } | undefined;
}

/** An IPv6 socket reaches IPv4 peers through IPv4-mapped addresses. */
function v6(address: string): string {
  return isIPv4(address) ? `::ffff:${address}` : address;
}

function decodeQueues(state: TcpSocketState): { send: Buffer; recv: Buffer } {
  if (state.version !== 1) {
    throw new FlowmigError(`restore: unknown TCP socket state version ${String(state.version)}`);
  }
  const send = Buffer.from(state.sendQueue, 'base64');
  const recv = Buffer.from(state.recvQueue, 'base64');
  if (!Number.isInteger(state.unsent) || state.unsent < 0 || state.unsent > send.length) {
    throw new FlowmigError(
      `restore: the state says ${state.unsent} bytes were never sent, of a ${send.length}-byte send queue`,
    );
  }
  return { send, recv };
}

/**
 * Rebuilds a checkpointed connection in a new socket, silently: no SYN on connect (repair mode),
 * no window probe when leaving repair mode. The bytes the old socket never sent are returned, not
 * sent: the owner writes them once it may speak. On failure the new socket is closed.
 */
export function restore(state: TcpSocketState, options: RestoreOptions = {}): RestoredSocket {
  const n = nativeAddon();
  const started = performance.now();
  const { send, recv } = decodeQueues(state);
  const sent = send.subarray(0, send.length - state.unsent);
  const unsent = Buffer.from(send.subarray(send.length - state.unsent));
  const local: Endpoint = {
    address: v6(options.localAddress ?? state.local.address),
    port: state.local.port,
  };
  const peer: Endpoint = { address: v6(state.peer.address), port: state.peer.port };
  const context = 'restore';
  const fd = step(context, 'create a socket', () => n.socket());
  const set = (
    option: Parameters<TcpRepairAddon['setsockoptInt']>[1],
    value: number,
    what?: string,
  ) => step(context, what ?? `set ${option} to ${value}`, () => n.setsockoptInt(fd, option, value));
  try {
    set('TCP_REPAIR', TCP_REPAIR_ON, 'turn repair mode on');
    // Sequence numbers can only be set while the socket is CLOSED; each queue starts where its
    // restored data begins, so rcv_nxt and write_seq end up as the old socket's.
    set('TCP_REPAIR_QUEUE', TCP_RECV_QUEUE, 'select the receive queue');
    set('TCP_QUEUE_SEQ', (state.recvSeq - recv.length) >>> 0, 'set the receive queue sequence');
    set('TCP_REPAIR_QUEUE', TCP_SEND_QUEUE, 'select the send queue');
    set('TCP_QUEUE_SEQ', (state.sendSeq - send.length) >>> 0, 'set the send queue sequence');
    set('TCP_REPAIR_QUEUE', TCP_NO_QUEUE, 'select no queue');
    // Before connect: tcp_connect_init() sizes mss_cache from it, else an IPv6 socket starts at
    // the minimum and its segments shrink to 1208 bytes. (It takes at most MAX_TCP_WINDOW:
    // loopback's MSS of 65476 is more.)
    set('TCP_MAXSEG', Math.min(state.mss, MAX_TCP_MAXSEG));
    step(context, `bind to ${local.address} port ${local.port}`, () =>
      n.bind(fd, local.address, local.port),
    );
    step(context, `connect to ${peer.address} port ${peer.port}`, () =>
      n.connect(fd, peer.address, peer.port),
    );
    step(context, 'set TCP_REPAIR_OPTIONS', () => n.setRepairOptions(fd, repairOptions(state)));
    // The peer's PAWS check drops every segment whose timestamp went backwards: continue the
    // old socket's clock.
    set('TCP_TIMESTAMP', state.timestamp >>> 0, 'set TCP_TIMESTAMP');
    if (recv.length > 0) {
      set('TCP_REPAIR_QUEUE', TCP_RECV_QUEUE, 'select the receive queue');
      fillQueue(n, fd, recv, 'receive');
    }
    if (sent.length > 0) {
      // Data written to the send queue in repair mode counts as sent: it is not transmitted now,
      // only retransmitted if the peer does not acknowledge it.
      set('TCP_REPAIR_QUEUE', TCP_SEND_QUEUE, 'select the send queue');
      fillQueue(n, fd, sent, 'send');
    }
    set('TCP_REPAIR_QUEUE', TCP_NO_QUEUE, 'select no queue');
    // After the receive queue: the kernel refuses an rcv_wup beyond rcv_nxt.
    step(context, 'set TCP_REPAIR_WINDOW', () => n.setRepairWindow(fd, state.window));
    // Without the window probe TCP_REPAIR_OFF sends, the socket stays silent until written to.
    set('TCP_REPAIR', TCP_REPAIR_OFF_NO_WP, 'leave repair mode');
    // Leaving repair mode resets sk_reuse.
    set('SO_REUSEADDR', 1);
    const socketOptions = options.socketOptions ?? {};
    if (socketOptions.noDelay !== undefined) set('TCP_NODELAY', socketOptions.noDelay ? 1 : 0);
    if (socketOptions.keepAlive !== undefined) set('SO_KEEPALIVE', socketOptions.keepAlive ? 1 : 0);
    // Node's libuv expects non-blocking sockets; the queue writes above never block either way.
    step(context, 'make the socket non-blocking', () => n.setNonBlocking(fd, true));
  } catch (e) {
    try {
      n.close(fd);
    } catch {}
    throw e;
  }
  return { fd, unsent, restoreMs: performance.now() - started };
}

function repairOptions(state: TcpSocketState): RepairOption[] {
  const options: RepairOption[] = [{ code: TCPOPT_MSS, value: state.mss }];
  if (state.options & TCPI_OPT_WSCALE) {
    options.push({ code: TCPOPT_WINDOW, value: state.sndWscale | (state.rcvWscale << 16) });
  }
  if (state.options & TCPI_OPT_SACK) options.push({ code: TCPOPT_SACK_PERM, value: 0 });
  if (state.options & TCPI_OPT_TIMESTAMPS) options.push({ code: TCPOPT_TIMESTAMP, value: 0 });
  return options;
}

/** Writes a whole queue in repair mode (the kernel takes it in pieces: sendAll loops). */
function fillQueue(n: TcpRepairAddon, fd: number, data: Buffer, name: 'send' | 'receive'): void {
  const what = `fill the ${name} queue (${data.length} bytes)`;
  let written = step('restore', what, () => n.sendAll(fd, data));
  if (written < data.length && name === 'send') {
    // A new socket's send buffer takes ~128 KiB, less than a fast flow has in flight, and in
    // repair mode no ACK ever frees room: raise it for these bytes (the kernel doubles the value),
    // then hand it back to autotuning (SO_BUF_LOCK clears the lock SO_SNDBUFFORCE set).
    const locks = step('restore', 'getsockopt(SO_BUF_LOCK)', () =>
      n.getsockoptInt(fd, 'SO_BUF_LOCK'),
    );
    step('restore', 'raise the send buffer', () =>
      n.setsockoptInt(fd, 'SO_SNDBUFFORCE', data.length + 65_536),
    );
    written += step('restore', what, () => n.sendAll(fd, data.subarray(written)));
    step('restore', 'restore SO_BUF_LOCK', () => n.setsockoptInt(fd, 'SO_BUF_LOCK', locks));
  }
  if (written < data.length) {
    throw new FlowmigError(
      `restore: ${what}: the kernel took only ${written} bytes (out of socket memory)`,
    );
  }
}
