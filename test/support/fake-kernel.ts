// A scripted kernel behind RecordingRunner: namespaces, veths with addresses, lo marks, and in
// each namespace netfilter (an in-memory translator: nftables applied from typed transactions,
// ip6tables from restore input, conntrack), answering the commands flowmig runs the way ip,
// ip6tables, nft and conntrack would, and tracing where a packet sent from a node goes.
import { FakeTranslator, type Trace } from '../../src/engines/fake.js';
import { XtError } from '../../src/engines/fake-xtables.js';
import { INITIATOR_MAP, LATE_SET, LATE_TABLE, LATE_TABLE_DECL } from '../../src/engines/late.js';
import { type RecordedCall, RecordingRunner, type Responder } from '../../src/exec/recording.js';
import { NftError } from '../../src/nft/fake.js';
import { type Element, setRef } from '../../src/nft/objects.js';
import {
  addElements,
  deleteElements,
  deleteTable,
  type Transaction,
} from '../../src/nft/transaction.js';

type Answer = ReturnType<Responder>;
type Fail = { readonly exitCode: number; readonly stderr: string };

interface FakeLink {
  readonly index: number;
  admin: boolean;
  readonly peer: { readonly netns: string; readonly name: string };
  /** Addresses added to it (without their prefix length). */
  readonly addresses: string[];
}

interface FakeNamespace {
  /** lo's alias (flowmig's ownership mark), set together with lo up. */
  alias: string | undefined;
  loUp: boolean;
  readonly links: Map<string, FakeLink>;
  /** Its netfilter and conntrack, on a clock that stands still until `advance`. */
  readonly netfilter: FakeTranslator;
}

/** A packet sent from a node: its source defaults to the node's address. */
export interface SentPacket {
  readonly from: string;
  readonly src?: string;
  readonly dst: string;
  readonly proto: 'icmpv6' | 'udp' | 'tcp';
  readonly id: number;
}

/** Where a packet went: the namespace that owns its destination after the translator, if any. */
export interface Delivery extends Trace {
  readonly node: string | undefined;
}

interface Fault {
  readonly when: (call: RecordedCall) => boolean;
  readonly fail: Fail;
  /** Runs when the fault fires, e.g. to let "someone else" create a namespace. */
  readonly effect: (() => void) | undefined;
}

export class FakeKernel {
  readonly namespaces = new Map<string, FakeNamespace>();
  readonly runner: RecordingRunner;
  /**
   * What `conntrack -D` reports as deleted; undefined: the number of the namespace's entries it
   * deleted (entries are made by `trace`).
   */
  conntrackDeleted: number | undefined = 1;
  /**
   * What `conntrack -L -f ipv6` lists (lines in conntrack-tools' default format); undefined: the
   * namespace's own entries.
   */
  conntrackList: string[] | undefined = [];
  private readonly faults: Fault[] = [];
  private readonly observers: ((call: RecordedCall) => void)[] = [];
  private nextIndex = 2;

  constructor() {
    this.runner = new RecordingRunner((call) => this.respond(call));
  }

  /** A namespace flowmig did not create (optionally with someone's lo alias). */
  addForeign(name: string, alias?: string): void {
    this.namespaces.set(name, emptyNamespace(alias));
  }

  /** Makes every call matching `when` fail with `fail`. */
  failWhen(when: (call: RecordedCall) => boolean, fail: Fail, effect?: () => void): void {
    this.faults.push({ when, fail, effect });
  }

  /** Calls `fn` with every call before the kernel answers it (to look at the world right then). */
  observe(fn: (call: RecordedCall) => void): void {
    this.observers.push(fn);
  }

  names(): string[] {
    return [...this.namespaces.keys()].sort();
  }

  /** The recorded calls as they would run, e.g. `ip -n t1-B link set dev B-A up`. */
  lines(): string[] {
    return this.runner.lines();
  }

  private respond(call: RecordedCall): Answer {
    for (const fn of this.observers) fn(call);
    for (const f of this.faults) {
      if (f.when(call)) {
        f.effect?.();
        return { fail: f.fail };
      }
    }
    const a = call.argv;
    const line = a.join(' ');
    if (line === 'ip netns list') {
      // Newest first, some with ids, like ip does.
      const out = [...this.namespaces.keys()]
        .reverse()
        .map((n, i) => (i % 2 === 0 ? `${n} (id: ${i})` : n));
      return { stdout: out.map((l) => `${l}\n`).join('') };
    }
    if (a[0] === 'ip' && a[1] === 'netns' && a[2] === 'add' && a.length === 4) {
      const name = a[3] ?? '';
      if (this.namespaces.has(name)) {
        return fail(1, `Cannot create namespace file "/run/netns/${name}": File exists\n`);
      }
      this.namespaces.set(name, emptyNamespace(undefined));
      return {};
    }
    if (a[0] === 'ip' && a[1] === 'netns' && a[2] === 'delete' && a.length === 4) {
      const name = a[3] ?? '';
      if (!this.namespaces.delete(name)) {
        return fail(
          1,
          `Cannot remove namespace file "/run/netns/${name}": No such file or directory\n`,
        );
      }
      // A veth pair dies with either end.
      for (const ns of this.namespaces.values()) {
        for (const [dev, link] of ns.links) if (link.peer.netns === name) ns.links.delete(dev);
      }
      return {};
    }
    if (call.netns === undefined) throw new Error(`fake kernel: unexpected command: ${line}`);
    const ns = this.namespaces.get(call.netns);
    if (!ns) {
      return fail(1, `Cannot open network namespace "${call.netns}": No such file or directory\n`);
    }
    if (a[0] === 'ip' && a[1] === 'link' && a[2] === 'set' && a[3] === 'dev' && a[5] === 'up') {
      const dev = a[4] ?? '';
      if (dev === 'lo') {
        ns.loUp = true;
        if (a[6] === 'alias') ns.alias = a[7];
        return {};
      }
      const link = ns.links.get(dev);
      if (!link) return fail(1, `Cannot find device "${dev}"\n`);
      link.admin = true;
      return {};
    }
    if (line.startsWith('ip link add ') && a[5] === 'veth' && a[7] === 'name' && a[9] === 'netns') {
      const [name, peerName, peerNetns] = [a[3] ?? '', a[8] ?? '', a[10] ?? ''];
      const peerNs = this.namespaces.get(peerNetns);
      if (!peerNs) return fail(1, `Cannot find netns "${peerNetns}"\n`);
      if (ns.links.has(name) || peerNs.links.has(peerName)) {
        return fail(2, 'RTNETLINK answers: File exists\n');
      }
      ns.links.set(name, {
        index: this.nextIndex++,
        admin: false,
        peer: { netns: peerNetns, name: peerName },
        addresses: [],
      });
      peerNs.links.set(peerName, {
        index: this.nextIndex++,
        admin: false,
        peer: { netns: call.netns, name },
        addresses: [],
      });
      return {};
    }
    if (line.startsWith('ip -6 addr add ') || line.startsWith('ip -6 route add ')) {
      const dev = a[a.indexOf('dev') + 1] ?? '';
      const link = ns.links.get(dev);
      if (!link) return fail(1, `Cannot find device "${dev}"\n`);
      if (a[2] === 'addr') link.addresses.push((a[4] ?? '').split('/')[0] ?? '');
      return {};
    }
    if (a[0] === 'sysctl') return {};
    if (line === 'ip -o link show') return { stdout: this.linkShow(ns) };
    if (a[0] === 'ip6tables-restore') {
      try {
        ns.netfilter.xtables.restore(call.stdin ?? '', { noflush: a.includes('--noflush') });
      } catch (error) {
        if (error instanceof XtError) return fail(2, `${error.message}\n`);
        throw error;
      }
      return {};
    }
    if (line === 'nft -f -') {
      // Nothing here reads nft text: the runner hands over the transaction the text renders.
      if (!call.nft)
        throw new Error(`fake kernel: nft -f - without its transaction:\n${call.stdin}`);
      return this.nft(ns, call.nft);
    }
    if (line.startsWith('nft -j list table ') || line.startsWith('ip6tables-save -t ')) {
      const out = ns.netfilter.read(a);
      if (out === undefined)
        return fail(1, `Error: No such file or directory\n${a.slice(2).join(' ')}\n`);
      return { stdout: out };
    }
    if (a[0] === 'conntrack' && a[1] === '-D') {
      const at = (flag: string) => (a.includes(flag) ? a[a.indexOf(flag) + 1] : undefined);
      const replySrc = at('--reply-src');
      const proto = at('-p');
      const deleted = ns.netfilter.deleteEntries({
        origDst: at('--orig-dst') ?? '',
        ...(replySrc !== undefined ? { replySrc } : {}),
        ...(proto !== undefined ? { proto } : {}),
      });
      const n = this.conntrackDeleted ?? deleted;
      const stderr = `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n`;
      return n === 0 ? fail(1, stderr) : { stderr };
    }
    if (line === 'conntrack -L -f ipv6') {
      // As conntrack-tools prints them: entries on stdout, the count on stderr.
      const list = this.conntrackList ?? ns.netfilter.listEntries();
      const stdout = list.map((l) => `${l}\n`).join('');
      return {
        stdout,
        stderr: `conntrack v1.4.7 (conntrack-tools): ${list.length} flow entries have been shown.\n`,
      };
    }
    throw new Error(`fake kernel: unexpected command: ${call.full.join(' ')}`);
  }

  /** Applies a transaction as nft does: all of it, or nothing and nft's error. */
  private nft(ns: FakeNamespace, tx: Transaction): Answer {
    try {
      ns.netfilter.applyNft(tx);
    } catch (error) {
      if (error instanceof NftError) return fail(1, `${error.message}\n`);
      throw error;
    }
    return {};
  }

  private namespace(name: string): FakeNamespace {
    const ns = this.namespaces.get(name);
    if (!ns) throw new Error(`fake kernel: no namespace ${name}`);
    return ns;
  }

  /** A namespace's netfilter (its nft ruleset, ip6tables and conntrack). */
  netfilter(netns: string): FakeTranslator {
    return this.namespace(netns).netfilter;
  }

  /**
   * Applies a transaction in a namespace as someone running nft would (to make drift); throws
   * NftError when nft would fail.
   */
  nftBy(netns: string, tx: Transaction): void {
    this.netfilter(netns).applyNft(tx);
  }

  /** The elements of an nft set or map in a namespace now (empty when it is missing). */
  elements(netns: string, table: string, set: string): Element[] {
    const t = this.netfilter(netns);
    return t.nft.elements({ family: 'ip6', name: table, set }, t.now);
  }

  /** The late table's initiator for an abstract address in a namespace, if any. */
  lateInitiator(netns: string, address: string): string | undefined {
    return this.elements(netns, LATE_TABLE, INITIATOR_MAP).find((e) => e.key[0] === address)?.value;
  }

  /** The late table's former responders in a namespace, as `responder . address`. */
  lateFormer(netns: string): string[] {
    return this.elements(netns, LATE_TABLE, LATE_SET).map((e) => e.key.join(' . '));
  }

  /** Someone points the late table's initiator of `address` elsewhere (nft, by hand). */
  setLateInitiator(netns: string, address: string, initiator: string): void {
    const map = setRef(LATE_TABLE_DECL, INITIATOR_MAP);
    const there = this.lateInitiator(netns, address) !== undefined;
    this.nftBy(netns, [
      ...(there ? [deleteElements(map, [{ key: [address] }])] : []),
      addElements(map, [{ key: [address], value: initiator }]),
    ]);
  }

  /** Someone deletes a table (nft delete table ip6 NAME). */
  deleteTable(netns: string, table: string): void {
    this.nftBy(netns, [deleteTable({ family: 'ip6', name: table })]);
  }

  /** Moves every namespace's netfilter clock on (element timeouts run out). */
  advance(ms: number): void {
    for (const ns of this.namespaces.values()) ns.netfilter.advance(ms);
  }

  /**
   * Sends a packet from a node's namespace over its link: the namespace at the other end (the
   * translator) passes it on as its netfilter says; the delivery names the namespace that owns
   * the destination it leaves with (undefined: no route, or held).
   */
  trace(p: SentPacket): Delivery {
    const sender = this.namespace(p.from);
    const [link] = sender.links.values();
    if (!link) throw new Error(`fake kernel: ${p.from} has no link`);
    const src = p.src ?? link.addresses[0];
    if (src === undefined) throw new Error(`fake kernel: ${p.from} has no address`);
    const via = this.namespace(link.peer.netns);
    const t = via.netfilter.send({ src, dst: p.dst, proto: p.proto, id: p.id });
    if (t.held) return { ...t, node: undefined };
    const dst = t.to ?? p.dst;
    const node = [...this.namespaces].find(([, ns]) =>
      [...ns.links.values()].some((l) => l.addresses.includes(dst)),
    )?.[0];
    return { ...t, node };
  }

  private linkShow(ns: FakeNamespace): string {
    const lo =
      `1: lo: <LOOPBACK${ns.loUp ? ',UP,LOWER_UP' : ''}> mtu 65536 qdisc ${ns.loUp ? 'noqueue state UNKNOWN' : 'noop state DOWN'} mode DEFAULT group default qlen 1000` +
      '\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00' +
      (ns.alias === undefined ? '' : `\\    alias ${ns.alias}`);
    const lines = [lo];
    for (const [name, link] of ns.links) {
      const peer = this.namespaces.get(link.peer.netns)?.links.get(link.peer.name);
      const carrier = link.admin && peer?.admin === true;
      const flags = !link.admin
        ? '<BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN'
        : carrier
          ? '<BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP'
          : '<NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN';
      lines.push(
        `${link.index}: ${name}@if${peer?.index ?? 0}: ${flags} mode DEFAULT group default qlen 1000` +
          `\\    link/ether 9a:00:00:00:00:${link.index.toString(16).padStart(2, '0')} brd ff:ff:ff:ff:ff:ff link-netns ${link.peer.netns}`,
      );
    }
    return `${lines.join('\n')}\n`;
  }
}

function emptyNamespace(alias: string | undefined): FakeNamespace {
  return {
    alias,
    loUp: alias !== undefined,
    links: new Map(),
    netfilter: new FakeTranslator(),
  };
}

function fail(exitCode: number, stderr: string): Answer {
  return { fail: { exitCode, stderr } };
}
