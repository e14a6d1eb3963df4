// Picks arrival times out of a capture: the packets of one flow (echo requests of one ping, UDP to a port).
import type { LinkDirection, PacketKind, TcpdumpPacket } from './tcpdump.js';

/** Fields a packet must have; absent fields match anything. */
export interface PacketMatch {
  readonly kind?: PacketKind;
  readonly src?: string;
  readonly dst?: string;
  readonly id?: number;
  readonly sport?: number;
  readonly dport?: number;
  readonly iface?: string;
  readonly direction?: LinkDirection;
}

export function matchesPacket(p: TcpdumpPacket, m: PacketMatch): boolean {
  return (
    (m.kind === undefined || p.kind === m.kind) &&
    (m.src === undefined || p.src === m.src) &&
    (m.dst === undefined || p.dst === m.dst) &&
    (m.id === undefined || p.id === m.id) &&
    (m.sport === undefined || p.sport === m.sport) &&
    (m.dport === undefined || p.dport === m.dport) &&
    (m.iface === undefined || p.iface === m.iface) &&
    (m.direction === undefined || p.direction === m.direction)
  );
}

/**
 * Collects the times of matching packets as a scan streams them (pass `visit` to `scanTcpdump`);
 * `times()` returns them ascending (an `-i any` capture is not strictly in time order).
 */
export function arrivalCollector(m: PacketMatch): {
  visit: (p: TcpdumpPacket) => void;
  times: () => Float64Array;
} {
  const times: number[] = [];
  return {
    visit: (p) => {
      if (matchesPacket(p, m)) times.push(p.tMs);
    },
    times: () => Float64Array.from(times).sort(),
  };
}

/** Times of the matching packets, ascending. */
export function arrivalTimes(packets: Iterable<TcpdumpPacket>, m: PacketMatch): Float64Array {
  const c = arrivalCollector(m);
  for (const p of packets) c.visit(p);
  return c.times();
}
