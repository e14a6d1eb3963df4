// Talks to a lab's agent over its Unix socket; every connect and call has a timeout.

import { connect, type Socket } from 'node:net';
import type { MapEdit } from '../engines/engine.js';
import type { ApplyResult, ConntrackTarget } from './agent.js';
import {
  type AgentReply,
  type AgentRequest,
  type HelloReply,
  type HoldResult,
  lineReader,
  type ReleaseResult,
} from './protocol.js';

type Waiter = {
  resolve: (r: AgentReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;

export class AgentClient {
  private id = 1;
  private readonly waiting = new Map<number, Waiter>();
  private closedError: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on(
      'data',
      lineReader((line) => {
        const reply = JSON.parse(line) as AgentReply;
        const w = this.waiting.get(reply.id);
        if (!w) return;
        this.waiting.delete(reply.id);
        clearTimeout(w.timer);
        w.resolve(reply);
      }),
    );
    const fail = (e: Error) => {
      this.closedError = e;
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(e);
      }
      this.waiting.clear();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('the agent closed the connection')));
  }

  static connect(path: string, timeoutMs = 1_000): Promise<AgentClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no answer from the agent at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        resolve(new AgentClient(sock));
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  private call(body: Body<AgentRequest>, timeoutMs: number): Promise<AgentReply> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.id++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the agent did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.sock.write(`${JSON.stringify({ ...body, id })}\n`);
    });
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
    return this.closedError === undefined && !this.sock.destroyed;
  }

  /** Lets the process exit while this connection is idle (a kept connection). */
  unref(): void {
    this.sock.unref();
  }

  close(): void {
    this.sock.destroy();
  }
}
