// Between Node sockets and file descriptors: the fd to checkpoint, and a Node socket for a
// restored fd.
import net from 'node:net';
import { FlowmigError } from '../errors.js';
import { isNativeError, nativeAddon } from './native.js';

const IPPROTO_TCP = 6;

/** The fd of a connected Node TCP socket (libuv's handle holds it). */
export function socketFd(socket: net.Socket): number {
  const fd: unknown = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    const why = socket.destroyed ? 'it is closed' : 'it is not a connected TCP socket';
    throw new FlowmigError(`the socket has no file descriptor: ${why}`);
  }
  return fd;
}

/**
 * A Node socket that owns `fd`, a connected TCP socket (a restored one): closing the Node socket
 * closes the fd. Checked before Node takes it, so a refused fd is left open for its owner.
 */
export function socketFromFd(fd: number): net.Socket {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new FlowmigError(`not a file descriptor: ${String(fd)}`);
  }
  const n = nativeAddon();
  try {
    const protocol = n.getsockoptInt(fd, 'SO_PROTOCOL');
    if (protocol !== IPPROTO_TCP) {
      throw new FlowmigError(`fd ${fd} is not a TCP socket (protocol ${protocol})`);
    }
    n.getpeername(fd);
  } catch (e) {
    if (e instanceof FlowmigError) throw e;
    const why = isNativeError(e) ? e.message : String(e);
    throw new FlowmigError(`fd ${fd} is not a connected TCP socket: ${why}`, { cause: e });
  }
  let socket: net.Socket;
  try {
    socket = new net.Socket({ fd, readable: true, writable: true });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new FlowmigError(`fd ${fd} cannot become a Node socket: ${why}`, { cause: e });
  }
  if (socket.remoteAddress === undefined) {
    socket.destroy();
    throw new FlowmigError(`fd ${fd} became a Node socket without a peer address`);
  }
  return socket;
}
