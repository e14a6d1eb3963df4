// The server side of the JSON-lines RPC layer: a Unix socket only its owner may open (0600), each
// connection read with a bounded line size and its requests handed to a dispatcher, replies
// written as they are ready; a client that half-closes after its requests still gets every reply.
import { chmod, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { type Framing, jsonLines } from './framing.js';

/** Where a request's replies go. */
export interface Peer {
  /** Writes one reply (dropped once the connection is gone); `flushed` runs once it is sent. */
  send(reply: unknown, flushed?: () => void): void;
  /** Resolves when the connection is gone. */
  readonly closed: Promise<void>;
}

export interface ConnectionOptions {
  /** Default: one JSON object per line. */
  readonly framing?: Framing;
  /** Longest request line in bytes. */
  readonly maxRequestBytes: number;
  /**
   * One request (parsed JSON). Returns the work that answers it, if any: a half-closed
   * connection is ended once every such work has settled.
   */
  readonly onRequest: (value: unknown, peer: Peer) => Promise<unknown> | undefined;
  /** The reply to a line that is not JSON. */
  readonly badJson: () => unknown;
  /** The reply to a line over the limit. */
  readonly oversize: () => unknown;
  /** After an oversized line: `close` reads no further and ends the connection; `skip` reads on. */
  readonly afterOversize: 'close' | 'skip';
}

/** Serves one connection: reads its requests, dispatches each, writes the replies. */
export function serveConnection(socket: Socket, o: ConnectionOptions): void {
  const framing = o.framing ?? jsonLines;
  let pending = 0;
  let ended = false;
  const endIfDone = (): void => {
    if (ended && pending === 0 && !socket.writableEnded) socket.end();
  };
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const peer: Peer = {
    closed,
    send(reply, flushed) {
      if (socket.destroyed || socket.writableEnded) return;
      let frame: Buffer[];
      try {
        frame = framing.encode(reply);
      } catch (e) {
        // A reply JSON cannot carry (a BigInt, a cycle) still answers its request.
        const id = (reply as { id?: unknown } | null)?.id ?? null;
        frame = framing.encode({ id, ok: false, error: `reply not JSON: ${String(e)}` });
      }
      socket.cork();
      for (const [i, b] of frame.entries())
        socket.write(b, i === frame.length - 1 ? flushed : undefined);
      socket.uncork();
    },
  };
  const settled = (): void => {
    pending--;
    endIfDone();
  };
  const reader = framing.reader({
    limit: o.maxRequestBytes,
    onMessage: (value) => {
      const work = o.onRequest(value, peer);
      if (work === undefined) return;
      pending++;
      work.then(settled, settled);
    },
    onBadJson: () => peer.send(o.badJson()),
    onOversize: () => {
      peer.send(o.oversize());
      if (o.afterOversize === 'skip') return;
      reader.stop();
      socket.end();
    },
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('end', () => {
    ended = true;
    reader.end();
    endIfDone();
  });
  socket.on('error', () => socket.destroy()); // a client that goes away is not an error here
}

export interface ListenOptions {
  readonly path: string;
  /**
   * What may be at `path` already: `replace` removes it (the caller made sure no live server of
   * its kind is there); `refuse-live` replaces only a socket nobody answers on (left by a process
   * that died) and fails if something answers.
   */
  readonly existing: 'replace' | 'refuse-live';
  readonly connection: ConnectionOptions;
  readonly log?: (message: string) => void;
}

export class RpcServer {
  private readonly connections = new Set<Socket>();
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  /** Listens on `path` (mode 0600 from the start). */
  static async listen(o: ListenOptions): Promise<RpcServer> {
    if (o.existing === 'refuse-live' && (await answers(o.path)))
      throw new Error(`another server answers on ${o.path}`);
    await rm(o.path, { force: true });
    // Half-open: a client may shut its side down right after its requests (`printf ... | ncat -U`)
    // and still gets every reply; serveConnection ends the connection after the last one.
    const server = createServer({ allowHalfOpen: true });
    const rpc = new RpcServer(server, o.path);
    server.on('connection', (socket) => {
      rpc.connections.add(socket);
      socket.on('close', () => rpc.connections.delete(socket));
      serveConnection(socket, o.connection);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind() happens inside listen(): the umask makes the file 0600 from the start.
      const umask = process.umask(0o177);
      try {
        server.listen(o.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    try {
      await chmod(o.path, 0o600);
    } catch (e) {
      await rpc.close();
      throw e;
    }
    server.on('error', (e) => o.log?.(`socket ${o.path}: ${e.message}`));
    return rpc;
  }

  /** Stops serving: ends every connection, closes the listener, removes the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.path, { force: true });
  }
}

/** Whether something accepts connections on `path` (one that accepts and hangs counts). */
async function answers(path: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true); // something holds it and does not answer: leave it alone
    }, 500);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
