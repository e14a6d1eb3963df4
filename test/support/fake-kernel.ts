// A scripted kernel behind RecordingRunner: namespaces, veths, lo marks, the translator's nat
// table and its late-packet nft table, answering the commands flowmig runs the way ip, ip6tables,
// nft and conntrack would.
import type { FlowMapping } from '../../src/engines/engine.js';
import { parseNatTable } from '../../src/engines/iptables.js';
import { LATE_TABLE, type LateModel, simulateLate } from '../../src/engines/late.js';
import { type RecordedCall, RecordingRunner, type Responder } from '../../src/exec/recording.js';
import { lateJson } from './nft-samples.js';
import { natSave } from './samples.js';

type Answer = ReturnType<Responder>;
type Fail = { readonly exitCode: number; readonly stderr: string };

interface FakeLink {
  readonly index: number;
  admin: boolean;
  readonly peer: { readonly netns: string; readonly name: string };
}

interface FakeNamespace {
  /** lo's alias (flowmig's ownership mark), set together with lo up. */
  alias: string | undefined;
  loUp: boolean;
  readonly links: Map<string, FakeLink>;
  nat: { installed: boolean; mappings: FlowMapping[] };
  /** The late-packet table (nft), on a clock that stands still at 0. */
  late: { installed: boolean; model: LateModel };
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
  /** What `conntrack -D` reports as deleted. */
  conntrackDeleted = 1;
  /** What `conntrack -L -f ipv6` lists (lines in conntrack-tools' default format). */
  conntrackList: string[] = [];
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
      });
      peerNs.links.set(peerName, {
        index: this.nextIndex++,
        admin: false,
        peer: { netns: call.netns, name },
      });
      return {};
    }
    if (line.startsWith('ip -6 addr add ') || line.startsWith('ip -6 route add ')) {
      const dev = a[a.indexOf('dev') + 1] ?? '';
      return ns.links.has(dev) ? {} : fail(1, `Cannot find device "${dev}"\n`);
    }
    if (a[0] === 'sysctl') return {};
    if (line === 'ip -o link show') return { stdout: this.linkShow(ns) };
    if (line === 'ip6tables-restore -w --noflush') {
      const table = parseNatTable(call.stdin ?? '');
      // Declaring the chains flushes them; the hooks stay once added.
      ns.nat = { installed: ns.nat.installed || table.installed, mappings: [...table.mappings] };
      return {};
    }
    if (line === 'ip6tables-save -t nat') {
      return { stdout: natSave(ns.nat.mappings, ns.nat.installed) };
    }
    if (line === 'nft -f -') return this.nftScript(ns, call.stdin ?? '');
    if (line === `nft -j list table ip6 ${LATE_TABLE}`) {
      if (!ns.late.installed) {
        return fail(1, `Error: No such file or directory\nlist table ip6 ${LATE_TABLE}\n`);
      }
      const { initiators, former } = ns.late.model;
      const elements = [...former].map(([key, until]) => {
        const [responderAddress = '', address = ''] = key.split(' . ');
        return { responderAddress, address, timeout: until / 1000, expires: until / 1000 };
      });
      return { stdout: `${lateJson([...initiators], elements)}\n` };
    }
    if (a[0] === 'conntrack' && a[1] === '-D') {
      const n = this.conntrackDeleted;
      const stderr = `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been deleted.\n`;
      return n === 0 ? fail(1, stderr) : { stderr };
    }
    if (line === 'conntrack -L -f ipv6') {
      // As conntrack-tools prints them: entries on stdout, the count on stderr.
      const stdout = this.conntrackList.map((l) => `${l}\n`).join('');
      const n = this.conntrackList.length;
      return {
        stdout,
        stderr: `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been shown.\n`,
      };
    }
    throw new Error(`fake kernel: unexpected command: ${call.full.join(' ')}`);
  }

  /** Only the late table is modelled: flowmig's nftables engine is not used against this fake. */
  private nftScript(ns: FakeNamespace, script: string): Answer {
    if (/ip6 flowmig(?!_late)\b/.test(script)) {
      throw new Error(`fake kernel: the nftables engine's table is not modelled:\n${script}`);
    }
    const lines = script.split('\n').map((l) => l.trim());
    const declares = lines.includes(`table ip6 ${LATE_TABLE} {`);
    if (!ns.late.installed && !declares) {
      return fail(1, `Error: Could not process rule: No such file or directory\n${script}`);
    }
    try {
      // One transaction: the model changes only when the whole script applies.
      ns.late.model = simulateLate(ns.late.model, script, 0);
    } catch (error) {
      return fail(1, `Error: Could not process rule: ${(error as Error).message}\n`);
    }
    ns.late.installed = !lines.includes(`delete table ip6 ${LATE_TABLE}`);
    return {};
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
    nat: { installed: false, mappings: [] },
    late: { installed: false, model: { initiators: new Map(), former: new Map() } },
  };
}

function fail(exitCode: number, stderr: string): Answer {
  return { fail: { exitCode, stderr } };
}
