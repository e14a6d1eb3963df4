// A NETLINK_NETFILTER socket with request/acknowledge and dump helpers, every wait bounded.
import { RawNetlinkSocket } from 'netlink';
import {
  errorCode,
  messages,
  NETLINK_NETFILTER,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../netlink/codec.js';

const ENOENT = 2;

interface Pending {
  readonly waiting: Set<number>;
  readonly errors: Map<number, number>;
  readonly resolve: (errors: Map<number, number>) => void;
  readonly reject: (e: Error) => void;
  readonly tolerate: ReadonlySet<number>;
  readonly dump: Buffer[] | undefined;
}

export class NetfilterSocket {
  private readonly sock: RawNetlinkSocket;
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x3fffffff);

  constructor() {
    this.sock = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: 8 << 20,
      sendBufferSize: 8 << 20,
    });
    this.sock.on('message', (data: Buffer) => this.receive(data));
  }

  nextSeq(count = 1): number {
    const s = this.seq;
    this.seq = (this.seq + count) >>> 0;
    return s;
  }

  /** Continues sequence numbering after a batch built elsewhere used `from`..`next-1`. */
  advanceTo(next: number): void {
    this.seq = next >>> 0;
  }

  private receive(data: Buffer): void {
    for (const m of messages(data)) {
      const p = this.pending.get(m.seq);
      if (!p) continue;
      if (m.type === NLMSG_ERROR) {
        const errno = errorCode(m.body);
        if (errno !== 0 && !p.tolerate.has(errno)) {
          this.finish(p);
          p.reject(new Error(`netlink request failed: errno ${errno} (seq ${m.seq})`));
          return;
        }
        p.errors.set(m.seq, errno);
        p.waiting.delete(m.seq);
        this.pending.delete(m.seq);
      } else if (m.type === NLMSG_DONE) {
        p.waiting.delete(m.seq);
        this.pending.delete(m.seq);
      } else if (p.dump) {
        p.dump.push(Buffer.from(m.body));
      }
      if (p.waiting.size === 0) {
        this.finish(p);
        p.resolve(p.errors);
      }
    }
  }

  private finish(p: Pending): void {
    for (const s of p.waiting) this.pending.delete(s);
    p.waiting.clear();
  }

  /**
   * Sends `data` (one or more messages) and waits for the acknowledgements of `acks`.
   * Resolves with each sequence's errno (0, or a tolerated one); rejects on any other error.
   */
  request(
    data: Buffer,
    acks: readonly number[],
    options: { timeoutMs?: number; tolerate?: readonly number[] } = {},
  ): Promise<Map<number, number>> {
    return this.wait(data, acks, options, undefined).then((r) => r.errors);
  }

  /** Sends a dump request and collects the bodies of the answer. */
  async dump(data: Buffer, seq: number, timeoutMs = 5_000): Promise<Buffer[]> {
    return (await this.wait(data, [seq], { timeoutMs }, [])).bodies;
  }

  private wait(
    data: Buffer,
    acks: readonly number[],
    options: { timeoutMs?: number; tolerate?: readonly number[] },
    dump: Buffer[] | undefined,
  ): Promise<{ errors: Map<number, number>; bodies: Buffer[] }> {
    return new Promise((resolve, reject) => {
      if (acks.length === 0) {
        this.sock.send(data);
        resolve({ errors: new Map(), bodies: [] });
        return;
      }
      const timer = setTimeout(() => {
        this.finish(p);
        reject(new Error(`netlink request timed out after ${options.timeoutMs ?? 1_000} ms`));
      }, options.timeoutMs ?? 1_000);
      const p: Pending = {
        waiting: new Set(acks),
        errors: new Map(),
        tolerate: new Set(options.tolerate ?? []),
        dump,
        resolve: (errors) => {
          clearTimeout(timer);
          resolve({ errors, bodies: dump ?? [] });
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      for (const s of acks) this.pending.set(s, p);
      this.sock.send(data, undefined, (error) => {
        if (error) {
          this.finish(p);
          p.reject(error);
        }
      });
    });
  }

  close(): void {
    this.sock.close();
  }

  static readonly ENOENT = ENOENT;
}
