// Talks to a serve process over its control socket (the controller's side); every connect and
// call has a timeout, and calls still waiting fail when the socket closes.
import { connect, type Socket } from 'node:net';
import { encodeFrame, frameReader } from './frames.js';
import type {
  AbortResult,
  CheckpointResult,
  ConnectionFilter,
  ConnectionInfo,
  HelloResult,
  MigratingConnection,
  PrepareResult,
  RestoreResult,
  ResumeResult,
  ServeRequest,
} from './protocol.js';
import type { MigrationPeer } from './runtime.js';

type Waiter = {
  resolve: (result: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;

/** Replies carry checkpoints (socket queues, many MiB): allow far more than a request may hold. */
const MAX_REPLY_BYTES = 1024 * 1024 * 1024;

export class ServeClient implements MigrationPeer {
  private id = 1;
  private readonly waiting = new Map<number, Waiter>();
  private closedError: Error | undefined;

  private constructor(
    private readonly sock: Socket,
    readonly path: string,
  ) {
    sock.on(
      'data',
      frameReader({
        limit: MAX_REPLY_BYTES,
        onMessage: (value) => this.onReply(value),
        onBadJson: () => {
          this.fail(new Error(`serve at ${path} sent a line that is not JSON`));
          this.sock.destroy();
        },
        onOversize: () => this.fail(new Error(`serve at ${path}: reply over 1 GiB`)),
      }),
    );
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error(`serve at ${path} closed the connection`)));
  }

  static connect(path: string, timeoutMs = 1_000): Promise<ServeClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no answer from serve at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new ServeClient(sock, path));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot reach serve at ${path}: ${e.message}`, { cause: e }));
      });
    });
  }

  async hello(timeoutMs = 1_000): Promise<HelloResult> {
    const r = await this.call({ op: 'hello' }, timeoutMs);
    return expect<HelloResult>(r, 'hello', ['pid', 'port', 'connections'], []);
  }

  /**
   * Quiesces the matching connections; the server waits up to `timeoutMs` for their writes to
   * reach the kernel.
   */
  async prepare(filter: ConnectionFilter, timeoutMs = 100): Promise<PrepareResult> {
    const r = await this.call({ op: 'prepare', filter, timeoutMs }, timeoutMs + 2_000);
    return expect<PrepareResult>(r, 'prepare', ['prepareMs'], ['ready', 'failed']);
  }

  async checkpoint(ids: readonly string[], timeoutMs = 5_000): Promise<CheckpointResult> {
    const r = await this.call({ op: 'checkpoint', ids }, timeoutMs);
    return expect<CheckpointResult>(r, 'checkpoint', ['checkpointMs'], ['connections', 'failed']);
  }

  async restore(
    connections: readonly MigratingConnection[],
    options: { localAddress?: string; timeoutMs?: number } = {},
  ): Promise<RestoreResult> {
    const body: Body<ServeRequest> = {
      op: 'restore',
      connections,
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    };
    const r = await this.call(body, options.timeoutMs ?? 5_000);
    return expect<RestoreResult>(r, 'restore', ['restoreMs'], ['restored', 'failed']);
  }

  async resume(ids: readonly string[], timeoutMs = 2_000): Promise<ResumeResult> {
    const r = await this.call({ op: 'resume', ids }, timeoutMs);
    return expect<ResumeResult>(r, 'resume', ['resumeMs'], ['resumed', 'failed']);
  }

  async abort(ids: readonly string[], timeoutMs = 2_000): Promise<AbortResult> {
    const r = await this.call({ op: 'abort', ids }, timeoutMs);
    return expect<AbortResult>(r, 'abort', [], ['aborted', 'failed']);
  }

  async status(timeoutMs = 1_000): Promise<ConnectionInfo[]> {
    const r = await this.call({ op: 'status' }, timeoutMs);
    if (!Array.isArray(r)) throw new Error('serve: bad status reply (not a list)');
    return r as ConnectionInfo[];
  }

  /** Asks the process to exit; resolves once it has answered. */
  async shutdown(timeoutMs = 1_000): Promise<void> {
    await this.call({ op: 'shutdown' }, timeoutMs);
  }

  /** False once the connection failed or closed. */
  get usable(): boolean {
    return this.closedError === undefined && !this.sock.destroyed;
  }

  close(): void {
    this.sock.destroy();
  }

  private call(body: Body<ServeRequest>, timeoutMs: number): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.id++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`serve at ${this.path} did not answer ${body.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.sock.cork();
      for (const b of encodeFrame({ ...body, id })) this.sock.write(b);
      this.sock.uncork();
    });
  }

  private onReply(reply: unknown): void {
    if (typeof reply !== 'object' || reply === null) return;
    const r = reply as { id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
    const w = typeof r.id === 'number' ? this.waiting.get(r.id) : undefined;
    if (!w) return; // an answer to a call that timed out, or to a line it could not read
    this.waiting.delete(r.id as number);
    clearTimeout(w.timer);
    if (r.ok === true) w.resolve(r.result);
    else w.reject(new Error(`serve: ${typeof r.error === 'string' ? r.error : 'request failed'}`));
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiting.clear();
  }
}

/** Minimal reply check: an object with the numeric and list fields the caller relies on. */
function expect<T>(r: unknown, op: string, numbers: string[], lists: string[]): T {
  if (typeof r !== 'object' || r === null)
    throw new Error(`serve: bad ${op} reply (not an object)`);
  const o = r as Record<string, unknown>;
  for (const k of numbers)
    if (typeof o[k] !== 'number') throw new Error(`serve: bad ${op} reply (${k} missing)`);
  for (const k of lists)
    if (!Array.isArray(o[k])) throw new Error(`serve: bad ${op} reply (${k} is not a list)`);
  return r as T;
}
