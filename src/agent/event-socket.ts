// A socket subscribed to netlink multicast groups (conntrack events). Datagrams reach `onDatagram`
// from the event loop; with the native addon `drainNow()` also reads what is queued at once, so a
// caller can see every event the kernel sent before a given moment.
import { RawNetlinkSocket } from 'netlink';
import { NETLINK_NETFILTER } from '../netlink/codec.js';
import { netlinkAddon } from '../netlink/native.js';

export interface EventSocketOptions {
  /** A namespace path to make the socket in (needs the native addon). */
  readonly netns?: string | undefined;
  readonly groups: readonly number[];
  readonly recvBufferSize: number;
  readonly onDatagram: (data: Buffer) => void;
  /** The kernel dropped events (ENOBUFS): whatever they fed is incomplete. */
  readonly onOverrun: () => void;
}

export class EventSocket {
  private readonly close_: () => void;
  /** Whether the socket keeps the process alive while it waits for events. */
  readonly ref: (on: boolean) => void;
  /** Reads what is queued now; false when this socket can only be read by the event loop. */
  readonly drainNow: () => boolean;

  constructor(o: EventSocketOptions) {
    const loaded = netlinkAddon();
    if (loaded.ok) {
      const { addon } = loaded;
      const fd = addon.open(
        NETLINK_NETFILTER,
        o.netns ?? null,
        o.recvBufferSize,
        1 << 16,
        o.groups,
      );
      const drain = () => {
        const { datagrams, overrun } = addon.drain(fd);
        if (overrun) o.onOverrun();
        for (const d of datagrams) o.onDatagram(d);
        return true;
      };
      const handle = addon.watch(fd, drain);
      this.drainNow = drain;
      this.ref = (on) => addon.ref(handle, on);
      this.close_ = () => {
        addon.unwatch(handle);
        addon.close(fd);
      };
      return;
    }
    if (o.netns !== undefined)
      throw new Error(`a socket in ${o.netns} needs the native netlink addon (${loaded.reason})`);
    const sock = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: o.recvBufferSize,
      sendBufferSize: 1 << 16,
    });
    sock.on('message', (data: Buffer) => o.onDatagram(data));
    sock.on('error', () => o.onOverrun());
    for (const g of o.groups) sock.addMembership(g);
    this.drainNow = () => false;
    this.ref = (on) => (on ? sock.ref() : sock.unref());
    this.close_ = () => sock.close();
  }

  close(): void {
    this.close_();
  }
}
