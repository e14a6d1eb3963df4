// Talks to a lab's daemon over its Unix socket: one request at a time per call, every call bounded.
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { FlowmigError } from '../errors.js';
import type { DaemonReply, RequestBody } from './protocol.js';

export class DaemonClient {
  private nextId = 1;
  private buffer = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly waiting = new Map<number, (r: DaemonReply) => void>();
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += this.decoder.write(chunk);
      for (let at = this.buffer.indexOf('\n'); at >= 0; at = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + 1);
        let reply: DaemonReply;
        try {
          reply = JSON.parse(line) as DaemonReply;
        } catch {
          continue;
        }
        if (reply.id === null) {
          // An answer to no request in particular (e.g. too large): it ends every call.
          this.fail(new FlowmigError(reply.ok ? 'unexpected reply' : reply.error));
          continue;
        }
        const w = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        w?.(reply);
      }
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () =>
      this.fail(new FlowmigError(`the daemon at ${path} closed the connection`)),
    );
  }

  static connect(path: string, timeoutMs = 2_000): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new FlowmigError(`no answer from the daemon at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new DaemonClient(socket, path));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new FlowmigError(`cannot reach the daemon at ${path}: ${e.message}`));
      });
    });
  }

  /** Sends one request and resolves with its result; a refusal or failure rejects with its message. */
  request<T = unknown>(body: RequestBody, timeoutMs = 60_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new FlowmigError(`the daemon did not answer '${body.verb}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        if (r.ok) resolve(r.result as T);
        // Bad input is exit code 2 whichever path served it (the daemon or --direct).
        else
          reject(
            new FlowmigError(r.error, {
              exitCode: r.code === 'invalid' || r.code === 'bad-request' ? 2 : 1,
            }),
          );
      });
      this.socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const reply: DaemonReply = { id: null, ok: false, error: e.message };
    for (const w of this.waiting.values()) w(reply);
    this.waiting.clear();
  }
}
