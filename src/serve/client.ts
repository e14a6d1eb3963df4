// Talks to a serve process over its control socket (the controller's side): a typed wrapper of
// the RPC client in the binary framing; every connect and call has a timeout, and calls still
// waiting fail when the socket closes.
import { type ClientErrors, RpcClient } from '../rpc/client.js';
import { jsonFrames } from '../rpc/frames.js';
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
  ServeReply,
  ServeRequest,
} from './protocol.js';
import type { MigrationPeer } from './runtime.js';

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;

/** Replies carry checkpoints (socket queues, many MiB): allow far more than a request may hold. */
const MAX_REPLY_BYTES = 1024 * 1024 * 1024;

const errors: ClientErrors = {
  connectTimeout: (path, ms) => new Error(`no answer from serve at ${path} within ${ms} ms`),
  unreachable: (path, e) => new Error(`cannot reach serve at ${path}: ${e.message}`, { cause: e }),
  closed: (path) => new Error(`serve at ${path} closed the connection`),
  timeout: (path, body, ms) =>
    new Error(`serve at ${path} did not answer ${String(body.op)} within ${ms} ms`),
  unaddressed: (reply) =>
    new Error(`serve: ${typeof reply.error === 'string' ? reply.error : 'request failed'}`),
  badReply: (path) => new Error(`serve at ${path} sent a line that is not JSON`),
  oversize: (path) => new Error(`serve at ${path}: reply over 1 GiB`),
};

export class ServeClient implements MigrationPeer {
  private constructor(
    private readonly rpc: RpcClient,
    readonly path: string,
  ) {}

  static async connect(path: string, timeoutMs = 1_000): Promise<ServeClient> {
    const rpc = await RpcClient.connect(path, timeoutMs, {
      errors,
      framing: jsonFrames,
      maxReplyBytes: MAX_REPLY_BYTES,
    });
    return new ServeClient(rpc, path);
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
    return this.rpc.usable;
  }

  close(): void {
    this.rpc.close();
  }

  /** The call's result; a refusal rejects with the server's message. */
  private async call(body: Body<ServeRequest>, timeoutMs: number): Promise<unknown> {
    const r = await this.rpc.call<ServeReply>(body, timeoutMs);
    if (r.ok === true) return r.result;
    throw new Error(`serve: ${typeof r.error === 'string' ? r.error : 'request failed'}`);
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
