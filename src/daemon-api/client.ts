// Talks to a lab's daemon over its Unix socket (a typed wrapper of the JSON-lines client): every
// call bounded, every failure a FlowmigError, bad input exit code 2 as on the direct path.
import { FlowmigError } from '../errors.js';
import { type ClientErrors, RpcClient } from '../rpc/client.js';
import type { DaemonReply, RequestBody } from './protocol.js';

const errors: ClientErrors = {
  connectTimeout: (path, ms) =>
    new FlowmigError(`no answer from the daemon at ${path} within ${ms} ms`),
  unreachable: (path, e) => new FlowmigError(`cannot reach the daemon at ${path}: ${e.message}`),
  closed: (path) => new FlowmigError(`the daemon at ${path} closed the connection`),
  timeout: (_path, body, ms) =>
    new FlowmigError(`the daemon did not answer '${String(body.verb)}' within ${ms} ms`),
  // An answer to no request in particular (e.g. too large): it ends every call.
  unaddressed: (reply) =>
    new FlowmigError(reply.ok ? 'unexpected reply' : String(reply.error ?? 'request failed')),
  failed: (e) => (e instanceof FlowmigError ? e : new FlowmigError(e.message, { cause: e })),
};

export class DaemonClient {
  private constructor(
    private readonly rpc: RpcClient,
    readonly path: string,
  ) {}

  static async connect(path: string, timeoutMs = 2_000): Promise<DaemonClient> {
    return new DaemonClient(await RpcClient.connect(path, timeoutMs, { errors }), path);
  }

  /** Sends one request and resolves with its result; a refusal or failure rejects with its message. */
  async request<T = unknown>(body: RequestBody, timeoutMs = 60_000): Promise<T> {
    const r = await this.rpc.call<DaemonReply>(body, timeoutMs);
    if (r.ok) return r.result as T;
    // Bad input is exit code 2 whichever path served it (the daemon or --direct).
    throw new FlowmigError(r.error, {
      exitCode: r.code === 'invalid' || r.code === 'bad-request' ? 2 : 1,
    });
  }

  close(): void {
    this.rpc.end();
  }
}
