// The native netlink addon (native/netlink.c): synchronous request/answer on netlink sockets, so a
// translator change costs kernel time only, with no event-loop turn per answer. Optional: without
// it the agent's sockets go through the event loop (the `netlink` package).
import { environment } from '../config.js';
import { addonPathFor, type LoadResult, loadAddonAt } from '../native/addon.js';

export interface NetlinkAddon {
  /** A non-blocking netlink socket, bound, in `netns` (a path such as /run/netns/x) when given. */
  open(
    protocol: number,
    netns: string | null,
    rcvbuf: number,
    sndbuf: number,
    groups: readonly number[],
  ): number;
  close(fd: number): void;
  /**
   * Sends `data`, then reads until every sequence in `seqs` has its NLMSG_ERROR answer; returns
   * their errnos (0 = acknowledged) in the order of `seqs`. Throws (code ETIMEDOUT) past the
   * timeout.
   */
  transact(fd: number, data: Buffer, seqs: Uint32Array, timeoutMs: number): Int32Array;
  /** Sends a dump request; returns the datagrams of the answer, through NLMSG_DONE for `seq`. */
  dump(fd: number, data: Buffer, seq: number, timeoutMs: number): Buffer[];
  /** The datagrams queued now, without waiting; `overrun` when the kernel dropped some. */
  drain(fd: number): { datagrams: Buffer[]; overrun: boolean };
  /** Calls `callback` on the event loop while `fd` is readable. */
  watch(fd: number, callback: () => void): unknown;
  unwatch(handle: unknown): void;
  ref(handle: unknown, on: boolean): void;
}

const FUNCTIONS = ['open', 'close', 'transact', 'dump', 'drain', 'watch', 'unwatch', 'ref'];

let cached: LoadResult<NetlinkAddon> | undefined;

/**
 * The addon, or why not. FLOWMIG_NETLINK_ADDON names another file; FLOWMIG_NETLINK=event-loop
 * turns it off (the slower path, kept working and tested).
 */
export function netlinkAddon(): LoadResult<NetlinkAddon> {
  const env = environment();
  if (env.netlinkOnEventLoop) {
    return { ok: false, reason: 'turned off by FLOWMIG_NETLINK=event-loop' };
  }
  cached ??= loadAddonAt<NetlinkAddon>(
    addonPathFor('flowmig_netlink.node', env.netlinkAddon),
    FUNCTIONS,
  );
  return cached;
}
