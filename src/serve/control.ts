// The serve control server: a Unix socket (a filesystem path, so a controller in any namespace
// reaches it; mode 0600) answering one request per line in the binary framing, one request at a
// time (the RPC layer's server with the serve protocol's dispatch).
import { jsonFrames } from '../rpc/frames.js';
import { type Peer, RpcServer } from '../rpc/server.js';
import { tcpRepairUnavailable } from '../tcp-repair/index.js';
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

  private constructor(
    private readonly rpc: RpcServer,
    private readonly options: ControlOptions,
  ) {}

  /** Listens on `path`, replacing a stale socket file; fails if a live server answers there. */
  static async start(options: ControlOptions): Promise<ControlServer> {
    const limit = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    let control: ControlServer | undefined;
    const rpc = await RpcServer.listen({
      path: options.path,
      existing: 'refuse-live',
      connection: {
        framing: jsonFrames,
        maxRequestBytes: limit,
        onRequest: (value, peer) => control?.dispatch(value, peer),
        badJson: () => ({ id: null, ok: false, error: 'not JSON' }),
        oversize: () => ({
          id: null,
          ok: false,
          error: `request line over ${Math.round(limit / 1024 / 1024)} MiB`,
        }),
        afterOversize: 'skip',
      },
      ...(options.log ? { log: (m: string) => options.log?.(`control ${m}`) } : {}),
    });
    control = new ControlServer(rpc, options);
    return control;
  }

  get path(): string {
    return this.options.path;
  }

  /** Stops serving and removes the socket file. */
  close(): Promise<void> {
    return this.rpc.close();
  }

  /** Checks one request, then runs it in turn with the others and answers it. */
  private dispatch(value: unknown, peer: Peer): Promise<unknown> | undefined {
    const parsed = checkRequest(value);
    if (!parsed.ok) {
      peer.send({ id: parsed.id, ok: false, error: parsed.error } satisfies ServeReply);
      return undefined;
    }
    const req = parsed.request;
    // One request at a time, in arrival order: a migration step never interleaves another.
    const run = this.queue.then(() => this.handle(req));
    this.queue = run.catch(() => {});
    return run.then(
      (result) =>
        peer.send({ id: req.id, ok: true, result } satisfies ServeReply, () => {
          if (req.op === 'shutdown') this.options.onShutdown();
        }),
      (e: unknown) =>
        peer.send({
          id: req.id,
          ok: false,
          error: e instanceof Error ? e.message : String(e),
        } satisfies ServeReply),
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
