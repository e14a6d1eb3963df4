// An in-memory translator: the engine's flow table plus conntrack, answering where a packet goes.
import type { Op } from '../plan/ops.js';
import type { Engine, FlowMapping } from './engine.js';

export interface FakePacket {
  readonly src: string;
  readonly dst: string;
  /** Protocol and identifier (ICMP id, or source port) that, with addresses, make the tuple. */
  readonly proto: 'icmpv6' | 'udp' | 'tcp';
  readonly id: number;
}

export interface Trace {
  /** Concrete destination after DNAT, or undefined when nothing maps the address (dropped). */
  readonly to: string | undefined;
  /** Source as the responder sees it (after SNAT). */
  readonly from: string;
  /** Whether the packet created a new conntrack entry (it consulted the rules). */
  readonly newEntry: boolean;
}

interface Entry {
  readonly origDst: string;
  readonly to: string | undefined;
  readonly from: string;
}

/**
 * Models what matters for migration, as netfilter does it: NAT rules are consulted only for the
 * first packet of a connection; later packets follow the conntrack entry until it is deleted.
 */
export class FakeTranslator {
  private mappings: FlowMapping[] = [];
  private readonly conntrack = new Map<string, Entry>();

  constructor(private readonly engine: Engine) {}

  /** Applies an engine or conntrack operation; other operations do not concern the translator. */
  apply(op: Op): void {
    if (op.kind === 'netfilterApply') {
      this.mappings = this.engine.simulate(this.mappings, op);
    } else if (op.kind === 'conntrackDelete') {
      for (const [key, e] of this.conntrack)
        if (e.origDst === op.origDst) this.conntrack.delete(key);
    }
  }

  send(p: FakePacket): Trace {
    const key = `${p.proto}|${p.src}|${p.dst}|${p.id}`;
    const existing = this.conntrack.get(key);
    if (existing) return { to: existing.to, from: existing.from, newEntry: false };
    const m = this.mappings.find((x) => x.address === p.dst);
    const from = m && m.initiatorAddress === p.src ? m.address : p.src;
    const entry: Entry = { origDst: p.dst, to: m?.responderAddress, from };
    this.conntrack.set(key, entry);
    return { to: entry.to, from: entry.from, newEntry: true };
  }

  /** Number of conntrack entries whose original destination is `address`. */
  entriesTo(address: string): number {
    return [...this.conntrack.values()].filter((e) => e.origDst === address).length;
  }
}
