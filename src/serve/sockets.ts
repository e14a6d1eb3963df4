// What the serve runtime does to a connection's socket below Node's stream API: reading on and off
// at libuv's handle, bytes still queued in Node, send buffer sizes, closing in repair mode.
import { closeSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as repair from '../tcp-repair/index.js';

/** libuv's stream handle, as Node keeps it on `socket._handle`. */
interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  writeQueueSize?: number;
}

const handleOf = (socket: Socket): StreamHandle | null =>
  (socket as unknown as { _handle: StreamHandle | null })._handle;

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Stops reading from the kernel: Node's stream pauses, and libuv's handle stops reading (a paused
 * stream alone keeps reading into its buffer until the high-water mark).
 */
export function stopReading(s: Socket): void {
  s.pause();
  const h = handleOf(s);
  if (h?.reading) {
    h.reading = false;
    h.readStop();
  }
}

/** Reads from the kernel again (a failure to start destroys the socket). */
export function startReading(s: Socket): void {
  const h = handleOf(s);
  if (h && !h.reading) {
    h.reading = true;
    const err = h.readStart();
    if (err < 0) {
      s.destroy(new Error(`readStart failed (${err})`));
      return;
    }
  }
  s.resume();
}

/** Bytes the app wrote that Node has not yet handed to the kernel. */
export function pendingWrite(s: Socket): number {
  return s.writableLength + (handleOf(s)?.writeQueueSize ?? 0);
}

let wmemMax: number | undefined;
/** tcp_wmem's maximum in this namespace: how far send buffer autotuning goes. */
function tcpWmemMax(): number {
  if (wmemMax === undefined) {
    try {
      wmemMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    } catch {
      wmemMax = Number.NaN;
    }
    if (!Number.isFinite(wmemMax)) wmemMax = 4 * 1024 * 1024;
  }
  return wmemMax;
}

/** Sets a connection's send buffer (and so turns its autotuning off). Returns a warning, or undefined. */
export function capSendBuffer(fd: number, bytes: number): string | undefined {
  try {
    repair.nativeAddon().setsockoptInt(fd, 'SO_SNDBUF', bytes);
    return undefined;
  } catch (e) {
    return `send buffer left to the kernel: ${errorText(e)}`;
  }
}

/**
 * Gives a restored socket a send buffer that holds the queue it inherits. A new socket starts
 * small (sized from its initial congestion window) and the repaired queue already fills it, so
 * the old socket's unsent bytes would wait in Node until acknowledgements let autotuning grow it;
 * the next prepare would then find them there. SO_SNDBUFFORCE sets the size (the kernel doubles
 * the value given), SO_BUF_LOCK 0 lets autotuning go on growing it. Returns a warning, or
 * undefined.
 */
export function fitSendBuffer(fd: number, queued: number, cap?: number): string | undefined {
  try {
    const n = repair.nativeAddon();
    if (cap !== undefined) {
      // The configured size, or more if the inherited queue needs it (it shrinks back as sent).
      n.setsockoptInt(fd, 'SO_SNDBUFFORCE', Math.max(cap, Math.ceil((queued + 64 * 1024) / 2)));
      return undefined;
    }
    const current = n.getsockoptInt(fd, 'SO_SNDBUF');
    const want = Math.min(queued + (queued >> 2) + 64 * 1024, Math.max(tcpWmemMax(), current));
    if (want <= current) return undefined;
    n.setsockoptInt(fd, 'SO_SNDBUFFORCE', Math.ceil(want / 2));
    n.setsockoptInt(fd, 'SO_BUF_LOCK', 0);
    return undefined;
  } catch (e) {
    return `send buffer left as it is: ${errorText(e)}`;
  }
}

/** Closes a restored fd that never became a socket, in repair mode so nothing goes on the wire. */
export function closeSilently(fd: number): void {
  try {
    repair.checkpoint(fd);
  } catch {
    // not established any more: nothing to protect
  }
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
