// The translator's hold queue (NFQUEUE): while a flow's TCP connections move, its packets wait
// here; `release` lets them all go on, in the order they came, once the sockets are restored.
import { RawNetlinkSocket } from 'netlink';
import { errorCode, messages, NETLINK_NETFILTER, NLMSG_ERROR } from '../netlink/codec.js';
import {
  acceptUpTo,
  bindRequest,
  NFQNL_MSG_PACKET,
  packetId,
  paramsRequest,
  unbindRequest,
} from '../netlink/nfqueue.js';

/** Packets the queue keeps at most: a few ms of a fast stream. Beyond, the kernel drops them. */
const MAX_QUEUED = 16_384;

export class HoldQueue {
  private readonly sock: RawNetlinkSocket;
  private seq = 1;
  /** The highest id seen and how many packets wait (not yet accepted). */
  private maxId: number | undefined;
  private waiting = 0;
  /** While nothing is held, a straggler queued after a release is accepted at once. */
  private holding = 0;
  private acks = new Map<number, (errno: number) => void>();
  /** Packets queued since the queue was bound. */
  total = 0;

  private constructor(readonly queue: number) {
    this.sock = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: 8 << 20,
      sendBufferSize: 1 << 20,
    });
    this.sock.on('message', (data: Buffer) => this.receive(data));
    this.sock.on('error', () => {}); // ENOBUFS: packets beyond the buffer were dropped by the kernel
  }

  /** Binds the queue in this namespace (one listener per queue number). */
  static async bind(queue: number): Promise<HoldQueue> {
    const q = new HoldQueue(queue);
    try {
      await q.request((seq) => bindRequest(queue, seq));
      await q.request((seq) => paramsRequest(queue, seq, MAX_QUEUED));
    } catch (error) {
      q.sock.close();
      throw new Error(`cannot bind NFQUEUE ${queue}: ${(error as Error).message}`);
    }
    return q;
  }

  private request(build: (seq: number) => Buffer): Promise<void> {
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(seq);
        reject(new Error('no answer within 1000 ms'));
      }, 1_000);
      this.acks.set(seq, (errno) => {
        clearTimeout(timer);
        if (errno === 0) resolve();
        else reject(new Error(`errno ${errno}`));
      });
      this.sock.send(build(seq));
    });
  }

  private receive(data: Buffer): void {
    for (const m of messages(data)) {
      if (m.type === NFQNL_MSG_PACKET) {
        const id = packetId(m.body);
        if (id === undefined) continue;
        this.total++;
        this.waiting++;
        this.maxId = this.maxId === undefined || id > this.maxId ? id : this.maxId;
        if (this.holding === 0) this.acceptAll();
      } else if (m.type === NLMSG_ERROR) {
        const done = this.acks.get(m.seq);
        this.acks.delete(m.seq);
        done?.(errorCode(m.body));
      }
    }
  }

  /** Packets will be held (the caller then adds the flow to the hold set). */
  hold(): void {
    this.holding++;
  }

  /**
   * The caller has removed the flow from the hold set: every packet queued so far goes on. The
   * socket is read first (a turn of the event loop), so the verdict covers all that arrived;
   * a packet queued later is accepted when it arrives. Returns how many were released.
   */
  async release(): Promise<number> {
    this.holding = Math.max(0, this.holding - 1);
    await new Promise((r) => setImmediate(r));
    return this.acceptAll();
  }

  private acceptAll(): number {
    if (this.maxId === undefined) return 0;
    const n = this.waiting;
    this.sock.send(acceptUpTo(this.queue, this.maxId, this.seq++));
    this.maxId = undefined;
    this.waiting = 0;
    return n;
  }

  async close(): Promise<void> {
    this.acceptAll();
    try {
      await this.request((seq) => unbindRequest(this.queue, seq));
    } catch {
      // closing the socket unbinds too
    }
    this.sock.close();
  }
}
