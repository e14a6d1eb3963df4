// The changes a host daemon makes for its callers: each one etcd transaction (a compare-and-swap
// on the flow's mod revision; an evacuation one per 128 flows), answered once every live
// translator applied a revision at or past it, as its direct acknowledgement or its etcd key says
// (hostd/applied.ts), or after `waitMs` with the hosts behind named.
import type { StoredFlow } from '../cluster/flows.js';
import type { FlowValue } from '../cluster/values.js';
import { InputError } from '../errors.js';
import type { HostdChange } from '../hostd-api/protocol.js';
import { clusterAddress } from '../lab/cluster-model.js';
import { canonicalAddress } from '../net/ipv6.js';
import type { HostCore } from './host.js';

/** Default wait for every live translator to apply a change. */
export const DEFAULT_WAIT_MS = 5_000;

const now = () => performance.now();

export class HostChanges {
  constructor(private readonly core: HostCore) {}

  private get view() {
    return this.core.view;
  }

  /** A flow's name in the lab file, if it has one. */
  flowName(address: string): string | undefined {
    return this.view.names.get(address);
  }

  /** The node a concrete address is (the address itself when it is none of the lab's). */
  nodeName(address: string): string {
    return this.view.nodes.get(address)?.node ?? address;
  }

  /** A flow reference (address in any spelling, or a lab file's flow name) → its address. */
  flowAddress(ref: string): string {
    const address = canonicalAddress(ref);
    if (address !== undefined) return address;
    for (const [a, name] of this.view.names) if (name === ref) return a;
    throw new InputError('', [`unknown flow '${ref}'`]);
  }

  /** The concrete address of server `node` (a responder); refuses any other node. */
  private serverAddress(node: string): string {
    const n = this.view.cluster.nodes.find((x) => x.name === node);
    const known = () =>
      this.view.cluster.nodes
        .filter((x) => x.role === 'server')
        .map((x) => x.name)
        .join(', ');
    if (!n) throw new InputError('', [`unknown node '${node}' (servers: ${known()})`]);
    if (n.role !== 'server')
      throw new InputError('', [
        `'${node}' is a ${n.role}: a flow's responder is a server (${known()}), its initiator a client`,
      ]);
    const address = clusterAddress(this.view.cluster, node);
    if (!address) throw new InputError('', [`server '${node}' has no address`]);
    return address;
  }

  private async current(address: string): Promise<StoredFlow> {
    const got = await this.core.table.get(address);
    if ('problem' in got) throw new InputError('', [`flow ${address}: ${got.problem.problem}`]);
    if (!got.flow) throw new InputError('', [`unknown flow '${address}'`]);
    return got.flow;
  }

  async migrate(flowRef: string, node: string, waitMs?: number): Promise<HostdChange> {
    const address = this.flowAddress(flowRef);
    const role = this.view.cluster.nodes.find((x) => x.name === node)?.role;
    if (role === 'client') return this.moveInitiator(address, node, waitMs);
    const to = this.serverAddress(node);
    const started = now();
    const live = this.liveTranslators();
    const m = await this.core.table.migrate(address, to);
    return this.answer(
      started,
      m.revision,
      m.changed,
      [{ address, from: m.from, to: m.to }],
      waitMs,
      live,
    );
  }

  /**
   * Makes client `node` (on any host) the flow's initiator: the flow's NAT moves to that host's
   * translator, the others route its abstract address there (plan.ts); its responder stays.
   */
  private async moveInitiator(address: string, node: string, waitMs?: number) {
    const to = clusterAddress(this.view.cluster, node);
    if (!to) throw new InputError('', [`client '${node}' has no address`]);
    const started = now();
    const live = this.liveTranslators();
    const flow = await this.current(address);
    const [m] = await this.core.table.migrateMany([
      { address, responder: flow.responder, initiator: to, known: flow },
    ]);
    if (!m) throw new Error('the migration returned nothing');
    return this.answer(
      started,
      m.revision,
      m.changed,
      [{ address, from: flow.initiator, to }],
      waitMs,
      live,
    );
  }

  /** The next server of the lab (file order) after the flow's current responder. */
  async swap(flowRef: string | undefined, waitMs?: number): Promise<HostdChange> {
    const address = flowRef === undefined ? this.onlyFlow() : this.flowAddress(flowRef);
    const started = now();
    const live = this.liveTranslators();
    const flow = await this.current(address);
    const servers = this.view.cluster.nodes.filter((n) => n.role === 'server');
    const at = servers.findIndex(
      (s) => clusterAddress(this.view.cluster, s.name) === flow.responder,
    );
    const next = servers[(at + 1) % servers.length];
    if (!next) throw new InputError('', ['the lab has no server']);
    // The flow as just read: one txn comparing its mod revision, no second read.
    const [m] = await this.core.table.migrateMany([
      { address, responder: this.serverAddress(next.name), known: flow },
    ]);
    if (!m) throw new Error('the migration returned nothing');
    return this.answer(
      started,
      m.revision,
      m.changed,
      [{ address, from: m.from, to: m.to }],
      waitMs,
      live,
    );
  }

  /** Every flow served by `from` to `to`: one txn per 128 flows. */
  async evacuate(from: string, to: string, waitMs?: number): Promise<HostdChange> {
    const fromAddress = this.serverAddress(from);
    const toAddress = this.serverAddress(to);
    const started = now();
    const list = await this.core.table.list();
    const moving = list.flows.filter((f) => f.responder === fromAddress);
    if (moving.length === 0) return this.answer(started, list.revision, false, [], waitMs);
    const ms = await this.core.table.migrateMany(
      // As listed: each txn compares the mod revisions read, no second read.
      moving.map((f) => ({ address: f.address, responder: toAddress, known: f })),
    );
    const revision = Math.max(...ms.map((m) => m.revision));
    return this.answer(
      started,
      revision,
      ms.some((m) => m.changed),
      ms.map((m) => ({ address: m.address, from: m.from, to: m.to })),
      waitMs,
    );
  }

  /** Puts the lab file's flows the table lacks (a flow moved since keeps where it is). */
  async load(waitMs?: number): Promise<HostdChange> {
    const started = now();
    const list = await this.core.table.list();
    const have = new Set(list.flows.map((f) => f.address));
    const missing = this.view.cluster.flows.filter((f) => !have.has(f.address));
    if (missing.length === 0) return this.answer(started, list.revision, false, [], waitMs);
    const inputs = missing.map((f) => {
      const initiator = clusterAddress(this.view.cluster, f.initiator);
      const responder = clusterAddress(this.view.cluster, f.responder);
      if (!initiator || !responder)
        throw new Error(`flow ${f.address} names a node without an address`);
      const tcp = this.view.policies.get(f.address)?.tcp ?? 'reset';
      return { address: f.address, initiator, responder, tcp };
    });
    const revision = await this.core.table.load(inputs);
    // A load (a lab coming up) waits for every host of the lab, not only those already
    // registered: a host daemon started a moment ago may not hold its lease yet.
    return this.answer(
      started,
      revision,
      true,
      inputs.map((f) => ({ address: f.address, from: '', to: f.responder })),
      waitMs,
      Promise.resolve(this.view.cluster.hosts.map((h) => h.name).sort()),
    );
  }

  /**
   * The live translators, asked at the start of a change so the read runs beside its txn (they are
   * the hosts the answer waits for: registered when the change committed, give or take the read).
   */
  private liveTranslators(): Promise<string[]> {
    // Asked before the txn, so peers know to acknowledge to this daemon before they apply it.
    this.core.acks.changing();
    const p = this.core.table
      .translators()
      .then(({ translators }) => translators.map((t) => t.host).sort());
    p.catch(() => {}); // awaited by answer(); a change that fails first leaves it unread
    return p;
  }

  private onlyFlow(): string {
    const flows = [...this.core.applied.keys()];
    if (flows.length === 1 && flows[0]) return flows[0];
    throw new InputError('', [`the lab has ${flows.length} flows; name one with --flow`]);
  }

  /** Waits until every live translator applied `revision`; the change as the caller sees it. */
  private async answer(
    started: number,
    revision: number,
    changed: boolean,
    moves: readonly { address: string; from: string; to: string }[],
    waitMs = DEFAULT_WAIT_MS,
    live: Promise<string[]> = this.liveTranslators(),
  ): Promise<HostdChange> {
    const committed = now();
    const hosts = await live;
    const acks = changed ? await this.core.acks.wait(revision, hosts, waitMs) : undefined;
    const appliedMs = now() - committed;
    // Timed for `bench cluster`: which host came last, and whether a peer or etcd told of it.
    if (changed) this.core.trace.answered(revision, appliedMs, acks);
    return {
      lab: this.view.lab,
      moves: moves.map((m) => ({
        flow: m.address,
        from: m.from ? this.nodeName(m.from) : '',
        to: this.nodeName(m.to),
      })),
      revision,
      changed,
      appliedBy: hosts,
      commitMs: committed - started,
      appliedMs,
    };
  }
}

/** A flow value as a caller reads it: node names instead of addresses. */
export function flowView(changes: HostChanges, address: string, v: FlowValue) {
  const name = changes.flowName(address);
  return {
    address,
    ...(name !== undefined ? { name } : {}),
    initiator: changes.nodeName(v.initiator),
    responder: changes.nodeName(v.responder),
    tcp: v.tcp,
  };
}
