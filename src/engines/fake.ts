// An in-memory translator: the engine's flow table, the late-packet table and conntrack, answering
// where a packet goes (a packet tracer for tests and for reasoning about the rules).
import type { Op } from '../plan/ops.js';
import type { Engine, FlowMapping } from './engine.js';
import { type LateModel, simulateLate } from './late.js';

export interface FakePacket {
  readonly src: string;
  readonly dst: string;
  /** Protocol and identifier (ICMP id, or source port) that, with addresses, make the tuple. */
  readonly proto: 'icmpv6' | 'udp' | 'tcp';
  readonly id: number;
}

export interface Trace {
  /** Concrete destination after translation, or undefined when nothing maps it (dropped). */
  readonly to: string | undefined;
  /** Source as the receiver sees it (after SNAT or the late rewrite). */
  readonly from: string;
  /** Whether the packet created a new conntrack entry (it consulted the NAT rules). */
  readonly newEntry: boolean;
  /** Set when a former responder's late packet was rewritten statelessly (no conntrack). */
  readonly late?: true;
}

interface Entry {
  readonly origDst: string;
  readonly to: string | undefined;
  readonly from: string;
}

/**
 * Models what matters for migration, as netfilter does it: a former responder's packets to the
 * abstract address are rewritten before conntrack while their grace lasts; otherwise NAT rules are
 * consulted only for the first packet of a connection, and later packets follow the conntrack
 * entry until it is deleted. Time is the fake's own clock (`advance`).
 */
export class FakeTranslator {
  private mappings: FlowMapping[] = [];
  private late: LateModel = { initiators: new Map(), former: new Map() };
  private readonly conntrack = new Map<string, Entry>();
  private nowMs = 0;

  constructor(private readonly engine: Engine) {}

  /** Applies an engine, late-table or conntrack operation; others do not concern the translator. */
  apply(op: Op): void {
    if (op.kind === 'netfilterApply') {
      // The late table is always nft; the engine's own script may be too (then one script has both).
      // One transaction: nothing changes unless both parts apply.
      const late = op.argv[0] === 'nft' ? simulateLate(this.late, op.stdin, this.nowMs) : this.late;
      const mappings =
        op.argv[0] === this.engine.programs[0]
          ? this.engine.simulate(this.mappings, op)
          : this.mappings;
      this.late = late;
      this.mappings = mappings;
    } else if (op.kind === 'conntrackDelete') {
      // As the conntrack program does it: keepReplySrc is the agent's refinement, not modelled.
      for (const [key, e] of this.conntrack) {
        if (e.origDst !== op.origDst) continue;
        if (op.keepTcp && key.startsWith('tcp|')) continue; // a draining flow's connections
        if (op.onlyReplySrc !== undefined && e.to !== op.onlyReplySrc) continue;
        this.conntrack.delete(key);
      }
    }
  }

  /** Moves the fake's clock on (former responders' grace runs out). */
  advance(ms: number): void {
    this.nowMs += ms;
  }

  send(p: FakePacket): Trace {
    const until = this.late.former.get(`${p.src} . ${p.dst}`);
    // The late rule leaves TCP to conntrack (see renderLateTable).
    if (until !== undefined && until > this.nowMs && p.proto !== 'tcp') {
      return { to: this.late.initiators.get(p.dst), from: p.dst, newEntry: false, late: true };
    }
    const key = `${p.proto}|${p.src}|${p.dst}|${p.id}`;
    const existing = this.conntrack.get(key);
    if (existing) return { to: existing.to, from: existing.from, newEntry: false };
    const forward = this.mappings.find((m) => m.address === p.dst && m.initiatorAddress === p.src);
    const back = this.mappings.find((m) => m.address === p.dst && m.responderAddress === p.src);
    const entry: Entry = forward
      ? { origDst: p.dst, to: forward.responderAddress, from: p.dst }
      : back
        ? { origDst: p.dst, to: back.initiatorAddress, from: p.dst }
        : { origDst: p.dst, to: undefined, from: p.src };
    this.conntrack.set(key, entry);
    return { to: entry.to, from: entry.from, newEntry: true };
  }

  /** Number of conntrack entries whose original destination is `address`. */
  entriesTo(address: string): number {
    return [...this.conntrack.values()].filter((e) => e.origDst === address).length;
  }
}
