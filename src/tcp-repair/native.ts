// Loads the native TCP repair addon (native/tcp_repair.c, built by node-gyp into build/Release)
// and describes its functions; says why it is unavailable when it was not built.
import { environment } from '../config.js';
import { FlowmigError } from '../errors.js';
import { addonPathFor, loadAddonAt, type LoadResult as NativeLoad } from '../native/addon.js';
import type { Endpoint, RepairWindow } from './types.js';

/** Integer socket options the addon knows by name (its errors name them too). */
export type IntOption =
  | 'TCP_REPAIR'
  | 'TCP_REPAIR_QUEUE'
  | 'TCP_QUEUE_SEQ'
  | 'TCP_TIMESTAMP'
  | 'TCP_MAXSEG'
  | 'TCP_NODELAY'
  | 'SO_REUSEADDR'
  | 'SO_KEEPALIVE'
  | 'SO_SNDBUF'
  | 'SO_RCVBUF'
  | 'SO_SNDBUFFORCE'
  | 'SO_BUF_LOCK'
  | 'SO_TYPE'
  | 'SO_DOMAIN'
  | 'SO_PROTOCOL';

/** Queue sizes: SIOCINQ unread bytes, SIOCOUTQ unacknowledged + unsent, SIOCOUTQNSD unsent. */
export type QueueIoctl = 'SIOCINQ' | 'SIOCOUTQ' | 'SIOCOUTQNSD';

/** The TCP_INFO fields the addon returns. */
export interface TcpInfo {
  /** TCP_ESTABLISHED 1, ..., TCP_CLOSE 7, TCP_LISTEN 10. */
  readonly state: number;
  /** TCPI_OPT_* bits. */
  readonly options: number;
  readonly sndWscale: number;
  readonly rcvWscale: number;
  readonly sndMss: number;
  readonly rcvMss: number;
  readonly unacked: number;
  readonly retrans: number;
  readonly totalRetrans: number;
  /** Smoothed RTT, µs. */
  readonly rtt: number;
}

export interface RepairOption {
  /** TCPOPT_MSS 2, TCPOPT_WINDOW 3, TCPOPT_SACK_PERM 4, TCPOPT_TIMESTAMP 8. */
  readonly code: number;
  readonly value: number;
}

/**
 * The addon: one function per kernel call. Every failing call throws a `NativeError` whose
 * message names the call, option and errno, e.g.
 * `setsockopt(TCP_REPAIR_QUEUE) on fd 23: Operation not permitted (EPERM)`.
 */
export interface TcpRepairAddon {
  /** A new blocking, close-on-exec AF_INET6 stream socket. */
  socket(): number;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  bind(fd: number, address: string, port: number): void;
  /** In repair mode no SYN is sent: the socket goes straight to ESTABLISHED. */
  connect(fd: number, address: string, port: number): void;
  getsockname(fd: number): Endpoint;
  getpeername(fd: number): Endpoint;
  /** Any 32-bit value: -1 (TCP_REPAIR_OFF_NO_WP) and unsigned sequence numbers alike. */
  setsockoptInt(fd: number, option: IntOption, value: number): void;
  /** Signed: apply `>>> 0` to the unsigned ones (TCP_QUEUE_SEQ, TCP_TIMESTAMP). */
  getsockoptInt(fd: number, option: IntOption): number;
  ioctlInt(fd: number, request: QueueIoctl): number;
  setRepairOptions(fd: number, options: readonly RepairOption[]): void;
  getRepairWindow(fd: number): RepairWindow;
  setRepairWindow(fd: number, window: RepairWindow): void;
  tcpInfo(fd: number): TcpInfo;
  /** recv(MSG_PEEK | MSG_DONTWAIT) of at most `length` bytes. */
  peek(fd: number, length: number): Buffer;
  /** send(MSG_DONTWAIT) until all is written or the kernel has no room; returns bytes written. */
  sendAll(fd: number, data: Buffer): number;
}

/** What the addon's errors carry besides the message. */
export interface NativeError extends Error {
  /** errno name, e.g. `EPERM`. */
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  /** `strerror (ENAME)`, for messages that name the step themselves. */
  readonly reason: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).reason === 'string';
}

const FUNCTIONS: readonly (keyof TcpRepairAddon)[] = [
  'socket',
  'close',
  'setNonBlocking',
  'bind',
  'connect',
  'getsockname',
  'getpeername',
  'setsockoptInt',
  'getsockoptInt',
  'ioctlInt',
  'setRepairOptions',
  'getRepairWindow',
  'setRepairWindow',
  'tcpInfo',
  'peek',
  'sendAll',
];

/** Where the addon is: FLOWMIG_TCP_REPAIR_ADDON, else build/Release in the package root. */
export function addonPath(): string {
  return addonPathFor('flowmig_tcp_repair.node', environment().tcpRepairAddon);
}

export type LoadResult = NativeLoad<TcpRepairAddon>;

/** Loads the addon at `path`; never throws. */
export function loadAddon(path: string): LoadResult {
  return loadAddonAt<TcpRepairAddon>(path, FUNCTIONS);
}

let cached: LoadResult | undefined;

function load(): LoadResult {
  cached ??= loadAddon(addonPath());
  return cached;
}

/** Why live TCP migration is unavailable, or undefined when the addon loads. */
export function tcpRepairUnavailable(): string | undefined {
  const r = load();
  return r.ok ? undefined : r.reason;
}

/** The message nativeAddon() throws when the addon is missing. */
export function addonMissingMessage(reason: string): string {
  return `live TCP migration needs the native TCP repair addon, which is not built (${reason}); run: npm run build:native`;
}

/** The addon, or a one-line FlowmigError saying how to build it. */
export function nativeAddon(): TcpRepairAddon {
  const r = load();
  if (!r.ok) throw new FlowmigError(addonMissingMessage(r.reason));
  return r.addon;
}
