// The daemon's server: owns one lab through the controller, serves the local API on a Unix socket
// that only root can open (and, if asked, over HTTP on 127.0.0.1 with a bearer token), and applies
// changes one at a time in arrival order.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, rename, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { Flowmig } from '../control/flowmig.js';
import { CommandError, FlowmigError, InputError } from '../errors.js';
import { writePrivateFile } from '../state/store.js';
import {
  type DaemonReply,
  type DaemonRequest,
  type HelloReply,
  MAX_REQUEST_BYTES,
  MUTATING,
  parseRequest,
} from './protocol.js';

export interface DaemonHooks {
  /** Called after a `down` request tore the lab down and its reply was sent. */
  readonly onDown?: () => void;
}

/**
 * Invalid: bad input (an unknown flow or node, a bad argument), the CLI's exit code 2. Refused: the
 * request cannot be done now (lab not up, daemon shutting down). Failed: it was tried and something
 * broke (a program failed, a bug).
 */
function errorCode(error: unknown): 'invalid' | 'refused' | 'failed' {
  if (error instanceof InputError) return 'invalid';
  return error instanceof FlowmigError && !(error instanceof CommandError) ? 'refused' : 'failed';
}

/** The HTTP status of an API reply: by its code (docs/http-api.md lists them). */
export function httpStatusOf(reply: DaemonReply): number {
  if (reply.ok) return 200;
  switch (reply.code) {
    case 'unauthorized':
      return 401;
    case 'too-large':
      return 413;
    case 'failed':
      return 500;
    default:
      return 400; // bad-request, invalid, refused: the request cannot be done as sent
  }
}

/**
 * Whether an Authorization header carries `Bearer <token>`. The comparison takes the same time
 * wherever the first differing byte is (timingSafeEqual); only the length, which is public (32
 * hex digits), is compared first, as timingSafeEqual needs equal lengths.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const scheme = 'Bearer ';
  if (header === undefined || !header.startsWith(scheme)) return false;
  const given = Buffer.from(header.slice(scheme.length), 'utf8');
  const expected = Buffer.from(token, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class DaemonServer {
  private queue: Promise<unknown> = Promise.resolve();
  private changes = 0;
  private queued = 0;
  private readonly startedAt = new Date().toISOString();
  private readonly sockets = new Set<Socket>();
  private closed = false;
  private http: HttpServer | undefined;
  private httpInfo: { url: string; tokenFile: string } | undefined;
  private drainTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly fm: Flowmig,
    readonly lab: string,
    readonly socketPath: string,
    private readonly server: Server,
    private readonly hooks: DaemonHooks,
  ) {}

  /** Listens on `socketPath` (a stale socket file there is replaced), mode 0600. */
  static async start(
    fm: Flowmig,
    lab: string,
    socketPath: string,
    hooks: DaemonHooks = {},
  ): Promise<DaemonServer> {
    await rm(socketPath, { force: true });
    // Half-open: a client may shut its side down right after its requests (`printf ... | ncat -U`)
    // and still gets every reply; serve() ends the connection after the last one.
    const server = createServer({ allowHalfOpen: true });
    const daemon = new DaemonServer(fm, lab, socketPath, server, hooks);
    server.on('connection', (s) => daemon.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The umask already keeps others from writing (connecting); 0600 keeps out the group too.
      server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o600);
    daemon.drainTimer = setInterval(() => daemon.endDrains(), 1_000);
    daemon.drainTimer.unref();
    return daemon;
  }

  /** Ends due drains (flows with `tcp: drain`) in turn with the other changes. */
  private endDrains(): void {
    if (this.closed) return;
    const work = this.queue.then(() => this.fm.endDrains(this.lab));
    this.queue = work.catch(() => {}); // a lab being torn down has nothing to drain
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.drainTimer);
    for (const s of this.sockets) s.destroy();
    this.http?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.http ? this.http.close(() => resolve()) : resolve(),
    );
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
    // The token dies with the listener: a file left behind would only mislead.
    if (this.httpInfo?.tokenFile) await rm(this.httpInfo.tokenFile, { force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    let pending = 0;
    let ended = false;
    const handle = (line: string) => {
      pending++;
      this.handle(socket, line, () => {
        if (--pending === 0 && ended) socket.end();
      });
    };
    socket.on('end', () => {
      ended = true;
      if (socket.writableEnded) return;
      // A last request without its newline is a request too.
      const last = buffer + decoder.end();
      buffer = '';
      if (last.trim() && Buffer.byteLength(last) <= MAX_REQUEST_BYTES) handle(last);
      if (pending === 0) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket.writableEnded) return; // closed for a request too large: read no further
      buffer += decoder.write(chunk);
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const line = buffer.slice(0, at);
        if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) break; // refused whole below
        buffer = buffer.slice(at + 1);
        if (line.trim()) handle(line);
      }
      if (Buffer.byteLength(buffer) > MAX_REQUEST_BYTES) {
        buffer = '';
        this.reply(socket, {
          id: null,
          ok: false,
          error: `request too large (over ${MAX_REQUEST_BYTES} bytes)`,
          code: 'too-large',
        });
        socket.end();
      }
    });
  }

  /** One request line from `serve` (oversized lines never get here); `done` once replied. */
  private handle(socket: Socket, line: string, done: () => void): void {
    void this.dispatch(line).then(({ reply, down }) => {
      this.reply(socket, reply);
      done();
      if (down) void this.close().then(() => this.hooks.onDown?.());
    });
  }

  /** Answers one request (never rejects); `down` says a successful `down` must close the daemon. */
  private async dispatch(line: string): Promise<{ reply: DaemonReply; down: boolean }> {
    const parsed = parseRequest(line);
    if ('error' in parsed) {
      return {
        reply: { id: parsed.id, ok: false, error: parsed.error, code: 'bad-request' },
        down: false,
      };
    }
    const r = parsed.request;
    const id = r.id ?? null;
    const run = () => this.run(r);
    let work: Promise<unknown>;
    if (MUTATING.has(r.verb)) {
      this.queued++;
      work = this.queue.then(run, run);
      this.queue = work.catch(() => {});
      // then, not finally: a refused change must not leave a rejected promise unhandled.
      void work.then(
        () => this.queued--,
        () => this.queued--,
      );
    } else work = run();
    try {
      const result = await work;
      return { reply: { id, ok: true, result }, down: r.verb === 'down' };
    } catch (error) {
      return {
        reply: {
          id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
          code: errorCode(error),
        },
        down: false,
      };
    }
  }

  /**
   * Also serves the API over HTTP on 127.0.0.1 (`POST /api` with one request as the body, header
   * `Authorization: Bearer <token>`), for a local dashboard. The token is random per start; with
   * `tokenFile` it is written there (0600) before the listener opens, and removed by close().
   */
  async startHttp(
    port = 0,
    options: { tokenFile?: string } = {},
  ): Promise<{ url: string; token: string }> {
    const token = randomBytes(16).toString('hex');
    if (options.tokenFile !== undefined) {
      // Written whole or not at all: a reader never sees half a token.
      const tmp = `${options.tokenFile}.${process.pid}.tmp`;
      await writePrivateFile(tmp, `${token}\n`);
      await rename(tmp, options.tokenFile);
    }
    const http = createHttpServer((req, res) => {
      const answer = (reply: DaemonReply, status = httpStatusOf(reply)) => {
        if (res.headersSent) return;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(reply)}\n`);
      };
      const refuse = (status: number, error: string, code: string) =>
        answer({ id: null, ok: false, error, code }, status);
      if (req.url !== '/api') return refuse(404, 'not found: the API is POST /api', 'not-found');
      if (req.method !== 'POST') return refuse(405, 'POST /api only', 'bad-request');
      if (!tokenMatches(req.headers.authorization, token))
        return refuse(401, 'missing or wrong token', 'unauthorized');
      let body = '';
      req.setEncoding('utf8');
      req.on('error', () => req.destroy());
      req.on('data', (chunk: string) => {
        body += chunk;
        if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) {
          refuse(413, 'request too large', 'too-large');
          req.destroy();
        }
      });
      req.on('end', () => {
        if (res.headersSent) return;
        void this.dispatch(body.trim()).then(({ reply, down }) => {
          answer(reply);
          if (down) void this.close().then(() => this.hooks.onDown?.());
        });
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, '127.0.0.1', () => resolve());
      });
    } catch (error) {
      if (options.tokenFile !== undefined) await rm(options.tokenFile, { force: true });
      throw error;
    }
    this.http = http;
    const address = http.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    const url = `http://127.0.0.1:${bound}/api`;
    if (options.tokenFile !== undefined) this.httpInfo = { url, tokenFile: options.tokenFile };
    return { url, token };
  }

  private async run(r: DaemonRequest): Promise<unknown> {
    if (this.closed) throw new FlowmigError(`the daemon of lab ${this.lab} is shutting down`);
    switch (r.verb) {
      case 'hello':
        return {
          lab: this.lab,
          pid: process.pid,
          socket: this.socketPath,
          startedAt: this.startedAt,
          changes: this.changes,
          queued: this.queued,
          ...(this.httpInfo ? { http: { ...this.httpInfo } } : {}),
        } satisfies HelloReply;
      case 'status':
        return this.fm.status(this.lab);
      case 'flows':
        return this.fm.flows(this.lab);
      case 'swap':
        return this.counted(this.fm.swap(this.lab, r.flow));
      case 'migrate':
        return this.counted(this.fm.migrate(this.lab, r.flow, r.node));
      case 'evacuate':
        return this.counted(this.fm.evacuate(this.lab, r.from, r.to));
      case 'reconcile':
        return this.counted(this.fm.reconcile(this.lab));
      case 'down':
        return this.fm.down(this.lab);
      case 'serve':
        return this.fm.serve(this.lab, {
          ...(r.port !== undefined ? { port: r.port } : {}),
          ...(r.mode !== undefined ? { mode: r.mode } : {}),
          ...(r.nodes !== undefined ? { nodes: r.nodes } : {}),
        });
      case 'unserve':
        return this.fm.unserve(this.lab, r.nodes);
    }
  }

  private async counted<T>(p: Promise<T>): Promise<T> {
    const result = await p;
    this.changes++;
    return result;
  }

  private reply(socket: Socket, reply: DaemonReply): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  }
}
