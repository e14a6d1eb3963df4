// Talks to a lab's agent over its Unix socket (a typed wrapper of the JSON-lines client); every
// connect and call has a timeout.
import type { MapEdit } from '../engines/engine.js';
import { type ClientErrors, RpcClient } from '../rpc/client.js';
import type { ApplyResult, ConntrackTarget } from './agent.js';
import type {
  AgentReply,
  AgentRequest,
  HelloReply,
  HoldResult,
  ReleaseResult,
} from './protocol.js';

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;

const errors: ClientErrors = {
  connectTimeout: (path, ms) => new Error(`no answer from the agent at ${path} within ${ms} ms`),
  unreachable: (_path, e) => e,
  closed: () => new Error('the agent closed the connection'),
  timeout: (_path, _body, ms) => new Error(`the agent did not answer within ${ms} ms`),
  unaddressed: (reply) => new Error(`agent: ${String(reply.error ?? 'unexpected reply')}`),
  badReply: () => new Error('the agent sent a line that is not JSON'),
};

export class AgentClient {
  private constructor(private readonly rpc: RpcClient) {}

  static async connect(path: string, timeoutMs = 1_000): Promise<AgentClient> {
    return new AgentClient(await RpcClient.connect(path, timeoutMs, { errors }));
  }

  private call(body: Body<AgentRequest>, timeoutMs: number): Promise<AgentReply> {
    return this.rpc.call<AgentReply>(body, timeoutMs);
  }

  private static unwrap<T>(r: AgentReply): T {
    if (!r.ok) throw new Error(`agent: ${r.error}`);
    return r as unknown as T;
  }

  async hello(timeoutMs = 1_000): Promise<HelloReply> {
    return AgentClient.unwrap<HelloReply>(await this.call({ op: 'hello' }, timeoutMs));
  }

  async apply(
    table: string,
    edits: Extract<AgentRequest, { op: 'apply' }>['edits'],
    conntrack: readonly ConntrackTarget[],
    after: Extract<AgentRequest, { op: 'apply' }>['edits'] = [],
    timeoutMs = 2_000 + edits.reduce((n, e) => n + e.add.length + e.remove.length, 0) / 10,
  ): Promise<ApplyResult> {
    return AgentClient.unwrap<ApplyResult>(
      await this.call(
        { op: 'apply', table, edits, conntrack, ...(after.length ? { after } : {}) },
        timeoutMs,
      ),
    );
  }

  /** Holds packets: binds the hold queue if needed, then commits `edits` (into the hold set). */
  async hold(table: string, edits: readonly MapEdit[], timeoutMs = 2_000): Promise<HoldResult> {
    return AgentClient.unwrap<HoldResult>(await this.call({ op: 'hold', table, edits }, timeoutMs));
  }

  /** Commits `edits` (out of the hold set), then lets every held packet go on. */
  async release(
    table: string,
    edits: readonly MapEdit[],
    timeoutMs = 2_000,
  ): Promise<ReleaseResult> {
    return AgentClient.unwrap<ReleaseResult>(
      await this.call({ op: 'release', table, edits }, timeoutMs),
    );
  }

  /** Asks the agent to stop indexing conntrack until its next migration. */
  async standby(timeoutMs = 1_000): Promise<void> {
    AgentClient.unwrap(await this.call({ op: 'standby' }, timeoutMs));
  }

  async shutdown(timeoutMs = 1_000): Promise<void> {
    AgentClient.unwrap(await this.call({ op: 'shutdown' }, timeoutMs));
  }

  /** False once the connection failed or closed (a dead agent closes it). */
  get usable(): boolean {
    return this.rpc.usable;
  }

  /** Lets the process exit while this connection is idle (a kept connection). */
  unref(): void {
    this.rpc.unref();
  }

  close(): void {
    this.rpc.close();
  }
}
