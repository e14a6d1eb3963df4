// A JSON-lines RPC client over a Unix socket: connects within a timeout, numbers its requests,
// gives each call its own timeout and matches replies by id. Every call still waiting fails when
// the connection fails or closes, or when a reply with id null (an answer the peer could not tie
// to a request, e.g. one too large to read) arrives. The protocols' clients wrap it with types.
import { connect, type Socket } from 'node:net';
import { type Framing, jsonLines } from './framing.js';

/** The errors a client reports, in its protocol's words. */
export interface ClientErrors {
  /** Nothing accepted the connection within the connect timeout. */
  connectTimeout(path: string, timeoutMs: number): Error;
  /** The connection could not be made. */
  unreachable(path: string, error: Error): Error;
  /** The peer closed the connection. */
  closed(path: string): Error;
  /** No reply to `body` within `timeoutMs`. */
  timeout(path: string, body: Readonly<Record<string, unknown>>, timeoutMs: number): Error;
  /** A reply with id null: it ends every call. */
  unaddressed(reply: Readonly<Record<string, unknown>>): Error;
  /** A socket error, as the calls see it (default: the error itself). */
  failed?(error: Error): Error;
  /**
   * A reply that is not JSON. Given: every call fails and the connection is closed (the stream is
   * out of step). Absent: the line is skipped.
   */
  badReply?(path: string): Error;
  /** A reply over `maxReplyBytes`: every call fails. */
  oversize?(path: string, limit: number): Error;
}

export interface ClientOptions {
  readonly errors: ClientErrors;
  /** Default: one JSON object per line. */
  readonly framing?: Framing;
  /** Longest reply accepted (default: no bound; the peers are flowmig's own processes). */
  readonly maxReplyBytes?: number;
}

type Waiter = {
  resolve: (reply: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

export class RpcClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private failure: Error | undefined;
  private readonly framing: Framing;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly options: ClientOptions,
  ) {
    this.framing = options.framing ?? jsonLines;
    const { errors } = options;
    const limit = options.maxReplyBytes ?? Number.POSITIVE_INFINITY;
    const reader = this.framing.reader({
      limit,
      onMessage: (value) => this.onReply(value),
      onBadJson: () => {
        if (!errors.badReply) return;
        this.fail(errors.badReply(path));
        socket.destroy();
      },
      onOversize: () =>
        this.fail(
          errors.oversize?.(path, limit) ?? new Error(`${path}: reply over ${limit} bytes`),
        ),
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (e) => this.fail(errors.failed?.(e) ?? e));
    socket.on('close', () => this.fail(errors.closed(path)));
  }

  /** Connects to `path`; rejects when nothing accepts within `timeoutMs`. */
  static connect(path: string, timeoutMs: number, options: ClientOptions): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(options.errors.connectTimeout(path, timeoutMs));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RpcClient(socket, path, options));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(options.errors.unreachable(path, e));
      });
    });
  }

  /**
   * Sends `body` with the next id and resolves with the whole reply that carries that id (its
   * `ok`, `result` or `error` are the protocol's to read).
   */
  call<R = unknown>(body: Readonly<Record<string, unknown>>, timeoutMs: number): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    let frame: Buffer[];
    try {
      frame = this.framing.encode({ id, ...body });
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(this.options.errors.timeout(this.path, body, timeoutMs));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (reply: unknown) => void, reject, timer });
      this.socket.cork();
      for (const b of frame) this.socket.write(b);
      this.socket.uncork();
    });
  }

  /** False once the connection failed or closed. */
  get usable(): boolean {
    return this.failure === undefined && !this.socket.destroyed;
  }

  /** Lets the process exit while this connection is idle (a kept connection). */
  unref(): void {
    this.socket.unref();
  }

  /** Closes at once; calls still waiting fail. */
  close(): void {
    this.socket.destroy();
  }

  /** Ends this side after what was written (the peer then ends too). */
  end(): void {
    this.socket.end();
  }

  private onReply(reply: unknown): void {
    if (typeof reply !== 'object' || reply === null) return;
    const r = reply as Record<string, unknown>;
    if (r.id === null) {
      this.fail(this.options.errors.unaddressed(r));
      return;
    }
    const w = typeof r.id === 'number' ? this.waiting.get(r.id) : undefined;
    if (!w) return; // an answer to a call that timed out
    this.waiting.delete(r.id as number);
    clearTimeout(w.timer);
    w.resolve(reply);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiting.clear();
  }
}

/** Opens a connection, asks one thing, closes it (a probe, a one-off question). */
export async function withConnection<C extends { close(): void }, T>(
  open: () => Promise<C>,
  ask: (connection: C) => Promise<T>,
): Promise<T> {
  const c = await open();
  try {
    return await ask(c);
  } finally {
    c.close();
  }
}
