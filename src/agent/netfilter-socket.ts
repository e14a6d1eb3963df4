// A NETLINK_NETFILTER socket with request/acknowledge and dump helpers, every wait bounded.
// Through the native addon when it is built (each request answered within the call, no event-loop
// turn), else through the event loop (the `netlink` package).
import { RawNetlinkSocket } from 'netlink';
import {
  errorCode,
  messages,
  NETLINK_NETFILTER,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../netlink/codec.js';
import { type NetlinkAddon, netlinkAddon } from '../netlink/native.js';

const ENOENT = 2;

interface Pending {
  readonly waiting: Set<number>;
  readonly errors: Map<number, number>;
  readonly resolve: (errors: Map<number, number>) => void;
  readonly reject: (e: Error) => void;
  readonly tolerate: ReadonlySet<number>;
  readonly dump: Buffer[] | undefined;
}

/** A request the kernel refused, with its errno (ENOENT: no such table or set, ...). */
export function netlinkError(message: string, errno: number): Error & { readonly errno: number } {
  return Object.assign(new Error(message), { errno });
}

/** How a socket reaches the kernel: within the call (native addon) or through the event loop. */
export type NetlinkPath = 'native' | 'event-loop';

const BUFFER = 8 << 20;

export class NetfilterSocket {
  private readonly sock: RawNetlinkSocket | undefined;
  private readonly native: { readonly addon: NetlinkAddon; readonly fd: number } | undefined;
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x3fffffff);

  /** `netns`: a namespace path to make the socket in (needs the native addon). */
  constructor(netns?: string) {
    const loaded = netlinkAddon();
    if (loaded.ok) {
      const fd = loaded.addon.open(NETLINK_NETFILTER, netns ?? null, BUFFER, BUFFER, []);
      this.native = { addon: loaded.addon, fd };
      return;
    }
    if (netns !== undefined)
      throw new Error(`a socket in ${netns} needs the native netlink addon (${loaded.reason})`);
    this.sock = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: BUFFER,
      sendBufferSize: BUFFER,
    });
    this.sock.on('message', (data: Buffer) => this.receive(data));
  }

  get path(): NetlinkPath {
    return this.native ? 'native' : 'event-loop';
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
          p.reject(netlinkError(`netlink request failed: errno ${errno} (seq ${m.seq})`, errno));
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
    if (this.native) {
      try {
        return Promise.resolve(this.transact(this.native, data, acks, options));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.wait(data, acks, options, undefined).then((r) => r.errors);
  }

  /** Sends a dump request and collects the bodies of the answer. */
  async dump(data: Buffer, seq: number, timeoutMs = 5_000): Promise<Buffer[]> {
    if (this.native) {
      const bodies: Buffer[] = [];
      for (const datagram of this.native.addon.dump(this.native.fd, data, seq, timeoutMs)) {
        for (const m of messages(datagram)) {
          if (m.seq !== seq || m.type === NLMSG_DONE) continue;
          if (m.type === NLMSG_ERROR) {
            const errno = errorCode(m.body);
            if (errno !== 0)
              throw netlinkError(`netlink dump failed: errno ${errno} (seq ${seq})`, errno);
            continue;
          }
          bodies.push(Buffer.from(m.body));
        }
      }
      return bodies;
    }
    return (await this.wait(data, [seq], { timeoutMs }, [])).bodies;
  }

  /** The request answered within the call: the kernel acknowledges inside sendmsg. */
  private transact(
    native: { readonly addon: NetlinkAddon; readonly fd: number },
    data: Buffer,
    acks: readonly number[],
    options: { timeoutMs?: number; tolerate?: readonly number[] },
  ): Map<number, number> {
    const timeoutMs = options.timeoutMs ?? 1_000;
    let answers: Int32Array;
    try {
      answers = native.addon.transact(native.fd, data, Uint32Array.from(acks), timeoutMs);
    } catch (e) {
      if ((e as { code?: string }).code === 'ETIMEDOUT')
        throw new Error(`netlink request timed out after ${timeoutMs} ms`);
      throw e;
    }
    const errors = new Map<number, number>();
    for (let i = 0; i < acks.length; i++) {
      const seq = acks[i] as number;
      const errno = answers[i] as number;
      if (errno !== 0 && !(options.tolerate ?? []).includes(errno))
        throw new Error(`netlink request failed: errno ${errno} (seq ${seq})`);
      errors.set(seq, errno);
    }
    return errors;
  }

  private wait(
    data: Buffer,
    acks: readonly number[],
    options: { timeoutMs?: number; tolerate?: readonly number[] },
    dump: Buffer[] | undefined,
  ): Promise<{ errors: Map<number, number>; bodies: Buffer[] }> {
    const sock = this.sock;
    if (!sock) return Promise.reject(new Error('no event-loop socket (the native path is in use)'));
    return new Promise((resolve, reject) => {
      if (acks.length === 0) {
        sock.send(data);
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
      sock.send(data, undefined, (error) => {
        if (error) {
          this.finish(p);
          p.reject(error);
        }
      });
    });
  }

  close(): void {
    if (this.native) this.native.addon.close(this.native.fd);
    else this.sock?.close();
  }

  static readonly ENOENT = ENOENT;
}
