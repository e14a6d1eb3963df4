// One host of a cluster lab as its host daemon sees it: its translator, and which host and node
// each concrete address of the lab belongs to (the table in etcd names flows by addresses).

import type { FlowValue } from '../cluster/values.js';
import type { Engine, FlowMapping } from '../engines/engine.js';
import { engineFor } from '../engines/registry.js';
import type { ClusterHost, ClusterLab } from '../lab/cluster-model.js';
import type { FlowPolicy } from '../lab/model.js';

export interface HostView {
  readonly lab: string;
  readonly self: ClusterHost;
  /** The translator's namespace (the host daemon runs in it). */
  readonly netns: string;
  readonly engine: Engine;
  readonly graceMs: number;
  /** Concrete address → the node it is and its host, across the cluster. */
  readonly nodes: ReadonlyMap<string, { readonly node: string; readonly host: ClusterHost }>;
  /** Abstract address → flow name, from the lab file (flows added later have none). */
  readonly names: ReadonlyMap<string, string>;
  readonly policies: ReadonlyMap<string, FlowPolicy>;
  readonly cluster: ClusterLab;
}

export function hostView(cluster: ClusterLab, hostName: string): HostView {
  const self = cluster.hosts.find((h) => h.name === hostName);
  if (!self) {
    const known = cluster.hosts.map((h) => h.name).join(', ');
    throw new Error(`lab ${cluster.id} has no host ${hostName} (hosts: ${known})`);
  }
  const nodes = new Map<string, { node: string; host: ClusterHost }>();
  for (const host of cluster.hosts)
    for (const link of host.links) nodes.set(link.address.address, { node: link.node, host });
  const names = new Map<string, string>();
  for (const f of cluster.flows) if (f.name !== undefined) names.set(f.address, f.name);
  return {
    lab: cluster.id,
    self,
    netns: self.translator.netns,
    engine: engineFor(cluster.engine),
    graceMs: cluster.graceMs,
    nodes,
    names,
    policies: cluster.policies,
    cluster,
  };
}

/** The host of a flow's initiator: the one that translates it (undefined: no node of the lab). */
export function ingressOf(view: HostView, flow: FlowValue): ClusterHost | undefined {
  return view.nodes.get(flow.initiator)?.host;
}

/** Whether this host translates the flow (its initiator is here). */
export function isIngress(view: HostView, flow: FlowValue | undefined): boolean {
  return flow !== undefined && ingressOf(view, flow)?.name === view.self.name;
}

export function mappingOf(address: string, flow: FlowValue): FlowMapping {
  return { address, initiatorAddress: flow.initiator, responderAddress: flow.responder };
}

/** Why a flow of the table cannot be applied on this lab, or undefined when it can. */
export function flowProblem(view: HostView, flow: FlowValue): string | undefined {
  const i = view.nodes.get(flow.initiator);
  const r = view.nodes.get(flow.responder);
  if (!i) return `initiator ${flow.initiator} is no node of lab ${view.lab}`;
  if (!r) return `responder ${flow.responder} is no node of lab ${view.lab}`;
  return undefined;
}
