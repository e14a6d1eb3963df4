// The daemon's server: owns one lab through the controller, serves the local API on a Unix socket
// that only root can open, and applies changes one at a time in arrival order.
import { randomBytes } from 'node:crypto';
import { chmod, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { Flowmig } from '../control/flowmig.js';
import { CommandError, FlowmigError } from '../errors.js';
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

export class DaemonServer {
  private queue: Promise<unknown> = Promise.resolve();
  private changes = 0;
  private queued = 0;
  private readonly startedAt = new Date().toISOString();
  private readonly sockets = new Set<Socket>();
  private closed = false;
  private http: HttpServer | undefined;
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
    const server = createServer();
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
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new StringDecoder('utf8');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      if (socket.writableEnded) return; // closed for a request too large: read no further
      buffer += decoder.write(chunk);
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const line = buffer.slice(0, at);
        if (Buffer.byteLength(line) > MAX_REQUEST_BYTES) break; // refused whole below
        buffer = buffer.slice(at + 1);
        if (line.trim()) this.handle(socket, line);
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

  /** One request line from `serve` (oversized lines never get here). */
  private handle(socket: Socket, line: string): void {
    void this.dispatch(line).then(({ reply, down }) => {
      this.reply(socket, reply);
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
      return { reply: { id: r.id, ok: true, result }, down: r.verb === 'down' };
    } catch (error) {
      return {
        reply: {
          id: r.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
          // Refused: the request cannot be done as asked (bad flow, lab not up). Failed: it was
          // tried and something broke (a program failed, a bug).
          code:
            error instanceof FlowmigError && !(error instanceof CommandError)
              ? 'refused'
              : 'failed',
        },
        down: false,
      };
    }
  }

  /**
   * Also serves the API over HTTP on 127.0.0.1 (`POST /api` with one request as the body, header
   * `Authorization: Bearer <token>`), for a local dashboard. The token is random per start.
   */
  async startHttp(port = 0): Promise<{ url: string; token: string }> {
    const token = randomBytes(16).toString('hex');
    const http = createHttpServer((req, res) => {
      const answer = (status: number, reply: DaemonReply) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(reply)}\n`);
      };
      if (req.method !== 'POST' || req.url !== '/api') {
        answer(405, { id: null, ok: false, error: 'POST /api only', code: 'bad-request' });
        return;
      }
      if (req.headers.authorization !== `Bearer ${token}`) {
        answer(401, { id: null, ok: false, error: 'missing or wrong token', code: 'unauthorized' });
        return;
      }
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
        if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) {
          answer(413, { id: null, ok: false, error: 'request too large', code: 'too-large' });
          req.destroy();
        }
      });
      req.on('end', () => {
        if (res.writableEnded) return;
        void this.dispatch(body.trim()).then(({ reply, down }) => {
          answer(reply.ok ? 200 : 400, reply);
          if (down) void this.close().then(() => this.hooks.onDown?.());
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
    this.http = http;
    const address = http.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    return { url: `http://127.0.0.1:${bound}/api`, token };
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
