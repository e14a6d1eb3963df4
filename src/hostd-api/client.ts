// Talks to a host daemon over its Unix socket: every call bounded, every failure a FlowmigError
// (bad input exit code 2, as on a single-host lab).
import { FlowmigError } from '../errors.js';
import { type ClientErrors, RpcClient } from '../rpc/client.js';
import type { HostdReply, HostdRequestBody } from './protocol.js';

const errors: ClientErrors = {
  connectTimeout: (path, ms) =>
    new FlowmigError(`no answer from the host daemon at ${path} within ${ms} ms`),
  unreachable: (path, e) =>
    new FlowmigError(`cannot reach the host daemon at ${path}: ${e.message}`),
  closed: (path) => new FlowmigError(`the host daemon at ${path} closed the connection`),
  timeout: (_path, body, ms) =>
    new FlowmigError(`the host daemon did not answer '${String(body.verb)}' within ${ms} ms`),
  unaddressed: (reply) =>
    new FlowmigError(reply.ok ? 'unexpected reply' : String(reply.error ?? 'request failed')),
  failed: (e) => (e instanceof FlowmigError ? e : new FlowmigError(e.message, { cause: e })),
};

export class HostdClient {
  private constructor(
    private readonly rpc: RpcClient,
    readonly path: string,
  ) {}

  static async connect(path: string, timeoutMs = 2_000): Promise<HostdClient> {
    return new HostdClient(await RpcClient.connect(path, timeoutMs, { errors }), path);
  }

  /** Sends one request; resolves with its result, rejects with its error (code kept). */
  async request<T = unknown>(body: HostdRequestBody, timeoutMs = 60_000): Promise<T> {
    const r = await this.rpc.call<HostdReply>(body, timeoutMs);
    if (r.ok) return r.result as T;
    const error = new FlowmigError(r.error, { exitCode: r.code === 'invalid' ? 2 : 1 });
    (error as FlowmigError & { code?: string }).code = r.code;
    throw error;
  }

  close(): void {
    this.rpc.end();
  }
}
