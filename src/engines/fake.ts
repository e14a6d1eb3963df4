// An in-memory translator: the nftables ruleset (the engine's table, the late and hold tables),
// ip6tables (the iptables engine's chains, the hold queue's rules) and conntrack, applying the
// operations the planners make and answering where a packet goes (a packet tracer for tests and
// for reasoning about the rules), the same way for both engines.
import { FakeRuleset, type HookedChain, type PacketView } from '../nft/fake.js';
import type { Hook, TableRef } from '../nft/objects.js';
import type { Transaction } from '../nft/transaction.js';
import type { ConntrackDeleteOp } from './conntrack.js';
import type { NetfilterApplyOp } from './engine.js';
import { FakeXtables, type XtRule } from './fake-xtables.js';

export interface FakePacket {
  readonly src: string;
  readonly dst: string;
  readonly proto: 'icmpv6' | 'udp' | 'tcp';
  /**
   * With the addresses and protocol, names the connection in both directions: the ICMP echo id,
   * or the client's port (its packets' source port, its peer's destination port).
   */
  readonly id: number;
}

export interface Trace {
  /**
   * Destination after translation; undefined when the packet leaves with the destination it came
   * with (for an abstract address: nowhere, it has no route).
   */
  readonly to: string | undefined;
  /** Source as the receiver sees it (after SNAT or the late rewrite). */
  readonly from: string;
  /** Whether the packet created a new conntrack entry (it consulted the NAT rules). */
  readonly newEntry: boolean;
  /** Set when a rule rewrote the packet's addresses statelessly (a former responder's late packet). */
  readonly late?: true;
  /** Set when the packet was queued (NFQUEUE) instead of passed on: its flow is held. */
  readonly held?: true;
}

/** What concerns a translator of the operations the planners make. */
export type TranslatorOp = NetfilterApplyOp | ConntrackDeleteOp;

/** Where a packet goes through the translator: one interface, whatever the engine. */
export interface Tracer {
  send(packet: FakePacket): Trace;
}

/** A conntrack entry: the connection as it was opened and as NAT made it. */
interface Entry {
  readonly proto: FakePacket['proto'];
  readonly id: number;
  readonly origSrc: string;
  readonly origDst: string;
  /** The destination and source NAT gave it (the reply tuple's source and destination). */
  readonly natDst: string;
  readonly natSrc: string;
  readonly dnat: boolean;
}

/** Which entries a conntrack delete removes (the conntrack program's filters). */
export interface ConntrackFilter {
  readonly origDst: string;
  readonly replySrc?: string;
  readonly proto?: string;
  /** TCP entries stay (a draining flow). */
  readonly keepTcp?: boolean;
}

/** Conntrack's place in prerouting: chains of lower priority see packets before it. */
const CONNTRACK = -200;

/** The ip6tables chains on each hook and their priorities (tables registered before nft's). */
const XT_HOOKS: Readonly<
  Record<Hook, readonly { table: string; chain: string; priority: number }[]>
> = {
  prerouting: [
    { table: 'raw', chain: 'PREROUTING', priority: -300 },
    { table: 'mangle', chain: 'PREROUTING', priority: -150 },
    { table: 'nat', chain: 'PREROUTING', priority: -100 },
  ],
  forward: [
    { table: 'mangle', chain: 'FORWARD', priority: -150 },
    { table: 'filter', chain: 'FORWARD', priority: 0 },
  ],
  postrouting: [
    { table: 'mangle', chain: 'POSTROUTING', priority: -150 },
    { table: 'nat', chain: 'POSTROUTING', priority: 100 },
  ],
};

type Stage =
  | { readonly nft: HookedChain; readonly priority: number; readonly nat: boolean }
  | {
      readonly xt: { table: string; chain: string };
      readonly priority: number;
      readonly nat: boolean;
    };

const key = (proto: string, src: string, dst: string, id: number) => `${proto}|${src}|${dst}|${id}`;

/**
 * Models what matters for migration, as netfilter does it: chains run in priority order on each
 * hook; conntrack (between raw and mangle) finds a packet's connection, NAT rules are consulted
 * only for the first packet of a connection, and later packets follow its entry until it is
 * deleted; untracked packets skip both. Time is the fake's own clock (`advance`).
 */
export class FakeTranslator implements Tracer {
  readonly nft = new FakeRuleset();
  readonly xtables = new FakeXtables();
  private readonly conntrack = new Map<string, Entry>();
  private readonly replies = new Map<string, Entry>();
  private nowMs = 0;

  /** The fake's clock, ms. */
  get now(): number {
    return this.nowMs;
  }

  /**
   * Applies a netfilter or conntrack operation; operations of other kinds (namespaces, links,
   * addresses) do not concern the translator.
   */
  apply(given: TranslatorOp | { readonly kind: string }): void {
    const op = given as TranslatorOp;
    if (op.kind === 'netfilterApply') {
      if ('nft' in op) this.applyNft(op.nft);
      else if (op.argv[0] === 'ip6tables-restore')
        this.xtables.restore(op.stdin, { noflush: op.argv.includes('--noflush') });
      else throw new Error(`fake translator: ${op.argv.join(' ')} is not modelled`);
    } else if (op.kind === 'conntrackDelete') {
      // As the conntrack program does it: keepReplySrc is the agent's refinement, not modelled.
      this.deleteEntries({
        origDst: op.origDst,
        ...(op.onlyReplySrc !== undefined ? { replySrc: op.onlyReplySrc } : {}),
        ...(op.keepTcp ? { keepTcp: true } : {}),
      });
    }
  }

  /** Applies an nftables transaction (all or nothing; throws NftError as nft would fail). */
  applyNft(tx: Transaction): void {
    this.nft.apply(tx, this.nowMs);
  }

  /** Moves the fake's clock on (former responders' grace runs out). */
  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** `nft -j list table`, or undefined when the table is missing. */
  list(table: TableRef): string | undefined {
    return this.nft.list(table, this.nowMs);
  }

  /**
   * What a command that reads netfilter prints (`nft -j list table ip6 NAME`, `ip6tables-save -t
   * TABLE`): the output, or undefined when nft finds no such table (it then fails).
   */
  read(argv: readonly string[]): string | undefined {
    const [program, a1, a2, a3, a4, name] = argv;
    if (program === 'nft' && a1 === '-j' && a2 === 'list' && a3 === 'table' && argv.length === 6) {
      const listed = this.list({ family: a4 as TableRef['family'], name: name ?? '' });
      return listed === undefined ? undefined : `${listed}\n`;
    }
    if (program === 'ip6tables-save' && a1 === '-t' && argv.length === 3)
      return this.xtables.save(a2 ?? '');
    throw new Error(`fake translator: cannot read with ${argv.join(' ')}`);
  }

  send(p: FakePacket): Trace {
    const v: PacketView = {
      src: p.src,
      dst: p.dst,
      proto: p.proto,
      length: 100,
      mark: 0,
      notrack: false,
    };
    const held: Trace = { to: undefined, from: p.src, newEntry: false, held: true };
    if (this.run('prerouting', v, Number.NEGATIVE_INFINITY, CONNTRACK, false)) return held;
    // Conntrack: the packet's connection, in either direction, or a new one.
    let entry: Entry | undefined;
    let reply = false;
    const tuple = { src: v.src, dst: v.dst };
    if (!v.notrack) {
      entry = this.conntrack.get(key(p.proto, v.src, v.dst, p.id));
      if (!entry) {
        entry = this.replies.get(key(p.proto, v.src, v.dst, p.id));
        reply = entry !== undefined;
      }
      v.ct = entry
        ? { state: 'established', dnat: entry.dnat, originalDst: entry.origDst }
        : { state: 'new', dnat: false, originalDst: v.dst };
    }
    const fresh = !v.notrack && !entry;
    if (this.run('prerouting', v, CONNTRACK, Number.POSITIVE_INFINITY, fresh)) return held;
    // Destination NAT: a new connection's verdict, or what its entry says.
    if (fresh && v.dnat !== undefined) {
      v.dst = v.dnat;
      v.ct = { state: 'new', dnat: true, originalDst: tuple.dst };
    } else if (entry) v.dst = reply ? entry.origSrc : entry.natDst;
    if (this.run('forward', v, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, fresh))
      return held;
    this.run('postrouting', v, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, fresh);
    if (fresh && v.snat !== undefined) v.src = v.snat;
    else if (entry) v.src = reply ? entry.origDst : entry.natSrc;
    if (fresh) {
      const e: Entry = {
        proto: p.proto,
        id: p.id,
        origSrc: tuple.src,
        origDst: tuple.dst,
        natDst: v.dnat ?? tuple.dst,
        natSrc: v.snat ?? tuple.src,
        dnat: v.dnat !== undefined,
      };
      this.conntrack.set(key(e.proto, e.origSrc, e.origDst, e.id), e);
      this.replies.set(key(e.proto, e.natDst, e.natSrc, e.id), e);
    }
    return {
      to: v.dst !== p.dst ? v.dst : undefined,
      from: v.src,
      newEntry: fresh,
      ...(v.rewritten ? { late: true as const } : {}),
    };
  }

  /**
   * Runs the chains of `hook` whose priority is in [from, to): nft's and ip6tables', in priority
   * order; nat chains only for a connection's first packet. True when the packet was queued.
   */
  private run(hook: Hook, v: PacketView, from: number, to: number, fresh: boolean): boolean {
    const stages: Stage[] = [
      ...XT_HOOKS[hook].map((x) => ({
        xt: { table: x.table, chain: x.chain },
        priority: x.priority,
        nat: x.table === 'nat',
      })),
      ...this.nft
        .hooked(hook)
        .map((c) => ({ nft: c, priority: c.priority, nat: c.type === 'nat' })),
    ];
    // A stable sort: on equal priority ip6tables' tables (registered first) come first.
    stages.sort((a, b) => a.priority - b.priority);
    for (const s of stages) {
      if (s.priority < from || s.priority >= to) continue;
      if (s.nat && (!fresh || v.notrack)) continue;
      if ('nft' in s) this.nft.run(s.nft, v, this.nowMs);
      else if (this.runXt(s.xt.table, s.xt.chain, v) === 'queue') return true;
    }
    return false;
  }

  /** An ip6tables chain on the packet: 'queue' (NFQUEUE), 'stop' (a verdict) or 'next'. */
  private runXt(table: string, chain: string, v: PacketView, depth = 0): 'queue' | 'stop' | 'next' {
    if (depth > 8) throw new Error(`fake translator: ip6tables jumps loop at ${chain}`);
    for (const r of this.xtables.rules(table, chain)) {
      if (!matches(r, v)) continue;
      switch (r.target) {
        case 'NFQUEUE':
          return 'queue';
        case 'DNAT':
          v.dnat = r.toDestination;
          return 'stop';
        case 'SNAT':
          v.snat = r.toSource;
          return 'stop';
        case 'ACCEPT':
        case 'DROP':
          return 'stop';
        case 'RETURN':
          return 'next';
        default: {
          const verdict = this.runXt(table, r.target, v, depth + 1);
          if (verdict !== 'next') return verdict;
        }
      }
    }
    return 'next';
  }

  /** Deletes the entries the filter names, as the conntrack program does; returns how many. */
  deleteEntries(f: ConntrackFilter): number {
    let n = 0;
    for (const [k, e] of this.conntrack) {
      if (e.origDst !== f.origDst) continue;
      if (f.keepTcp && e.proto === 'tcp') continue; // a draining flow's connections
      if (f.proto !== undefined && e.proto !== f.proto) continue;
      if (f.replySrc !== undefined && e.natDst !== f.replySrc) continue;
      this.conntrack.delete(k);
      this.replies.delete(key(e.proto, e.natDst, e.natSrc, e.id));
      n++;
    }
    return n;
  }

  /** Number of conntrack entries whose original destination is `address`. */
  entriesTo(address: string): number {
    return [...this.conntrack.values()].filter((e) => e.origDst === address).length;
  }

  /** The entries as `conntrack -L -f ipv6` lists them. */
  listEntries(): string[] {
    return [...this.conntrack.values()].map((e) => {
      const ports = (a: number, b: number) =>
        e.proto === 'icmpv6' ? `type=${a} code=0 id=${e.id}` : `sport=${a} dport=${b}`;
      const [num, req, rep] =
        e.proto === 'icmpv6' ? [58, 128, 129] : [e.proto === 'udp' ? 17 : 6, e.id, 5555];
      return `${e.proto.padEnd(8)} ${num} 29 src=${e.origSrc} dst=${e.origDst} ${ports(req, rep)} src=${e.natDst} dst=${e.natSrc} ${ports(rep, req)} mark=0 use=1`;
    });
  }
}

/** Whether an ip6tables rule's matches hold for the packet. */
function matches(r: XtRule, v: PacketView): boolean {
  if (r.source !== undefined && r.source !== v.src) return false;
  if (r.destination !== undefined && r.destination !== v.dst) return false;
  if (r.mark !== undefined && r.mark !== v.mark) return false;
  if (r.ctDnat && !v.ct?.dnat) return false;
  if (r.ctOrigDst !== undefined && r.ctOrigDst !== v.ct?.originalDst) return false;
  return true;
}
