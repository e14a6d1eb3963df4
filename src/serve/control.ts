// The serve control server: a Unix socket (a filesystem path, so a controller in any namespace
// reaches it; mode 0600) answering one JSON request per line, one request at a time.

import { chmodSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tcpRepairUnavailable } from '../tcp-repair/index.js';
import { encodeFrame, frameReader } from './frames.js';
import {
  type AbortResult,
  type CheckpointResult,
  type ConnectionFilter,
  type ConnectionInfo,
  checkRequest,
  type HelloResult,
  MAX_REQUEST_BYTES,
  type MigratingConnection,
  type PrepareResult,
  type RestoreResult,
  type ResumeResult,
  type ServeReply,
  type ServeRequest,
} from './protocol.js';

/** What the control server drives: a `MigratableServer`, or a fake in tests. */
export interface ControlTarget {
  readonly address: string;
  readonly port: number;
  prepare(filter: ConnectionFilter, options?: { timeoutMs?: number }): Promise<PrepareResult>;
  checkpoint(ids: readonly string[]): CheckpointResult;
  restore(
    connections: readonly MigratingConnection[],
    options?: { localAddress?: string },
  ): RestoreResult;
  resume(ids: readonly string[]): ResumeResult;
  abort(ids: readonly string[]): AbortResult;
  connections(): ConnectionInfo[];
}

export interface ControlOptions {
  readonly path: string;
  readonly target: ControlTarget;
  /** The app's name, reported by `hello`. */
  readonly mode: string;
  /** Called once a `shutdown` request has been answered. */
  readonly onShutdown: () => void;
  readonly log?: (message: string) => void;
  /** Longest request line accepted (default 64 MiB). */
  readonly maxRequestBytes?: number;
}

export class ControlServer {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clients = new Set<Socket>();
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: ControlOptions,
  ) {}

  /** Listens on `path`, replacing a stale socket file; fails if a live server answers there. */
  static async start(options: ControlOptions): Promise<ControlServer> {
    await removeStaleSocket(options.path);
    const server = createServer();
    const control = new ControlServer(server, options);
    server.on('connection', (s) => control.serve(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind() happens inside listen(): the umask makes the file 0600 from the start.
      const umask = process.umask(0o177);
      try {
        server.listen(options.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(options.path, 0o600);
    server.on('error', (e) => options.log?.(`control socket error: ${e.message}`));
    return control;
  }

  get path(): string {
    return this.options.path;
  }

  /** Stops serving and removes the socket file. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const c of this.clients) c.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Node unlinks the path when a Unix socket server closes; this covers an unref'd exit.
      try {
        unlinkSync(this.options.path);
      } catch {
        // gone already
      }
    });
  }

  private serve(conn: Socket): void {
    this.clients.add(conn);
    conn.on('error', () => {}); // a controller that goes away is not an error here
    conn.on('close', () => this.clients.delete(conn));
    const send = (reply: ServeReply, then?: () => void): void => {
      if (conn.destroyed) return;
      let frame: Buffer[];
      try {
        frame = encodeFrame(reply);
      } catch (e) {
        frame = encodeFrame({ id: reply.id, ok: false, error: `reply not JSON: ${String(e)}` });
      }
      conn.cork();
      for (const [i, b] of frame.entries())
        conn.write(b, i === frame.length - 1 ? then : undefined);
      conn.uncork();
    };
    const limit = this.options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    conn.on(
      'data',
      frameReader({
        limit,
        onMessage: (value) => {
          const parsed = checkRequest(value);
          if (!parsed.ok) {
            send({ id: parsed.id, ok: false, error: parsed.error });
            return;
          }
          const req = parsed.request;
          // One request at a time, in arrival order: a migration step never interleaves another.
          const run = this.queue.then(() => this.handle(req));
          this.queue = run.catch(() => {});
          run.then(
            (result) =>
              send({ id: req.id, ok: true, result }, () => {
                if (req.op === 'shutdown') this.options.onShutdown();
              }),
            (e: unknown) =>
              send({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
          );
        },
        onBadJson: () => send({ id: null, ok: false, error: 'not JSON' }),
        onOversize: () =>
          send({
            id: null,
            ok: false,
            error: `request line over ${Math.round(limit / 1024 / 1024)} MiB`,
          }),
      }),
    );
  }

  private async handle(req: ServeRequest): Promise<unknown> {
    const t = this.options.target;
    switch (req.op) {
      case 'hello': {
        const hello: HelloResult = {
          pid: process.pid,
          address: t.address,
          port: t.port,
          mode: this.options.mode,
          connections: t.connections().length,
        };
        const why = tcpRepairUnavailable();
        return why === undefined ? hello : { ...hello, repairUnavailable: why };
      }
      case 'prepare':
        return t.prepare(
          req.filter,
          req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs },
        );
      case 'checkpoint':
        return t.checkpoint(req.ids);
      case 'restore':
        return t.restore(
          req.connections,
          req.localAddress === undefined ? {} : { localAddress: req.localAddress },
        );
      case 'resume':
        return t.resume(req.ids);
      case 'abort':
        return t.abort(req.ids);
      case 'status':
        return t.connections();
      case 'shutdown':
        return {};
    }
  }
}

/** Removes `path` if it is a socket nobody listens on (left by a process that died). */
async function removeStaleSocket(path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
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
  if (alive) throw new Error(`another server answers on ${path}`);
  try {
    unlinkSync(path);
  } catch {
    // no stale file
  }
}
