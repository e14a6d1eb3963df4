// The resolved lab: checked, typed, with every kernel name computed. Built only by resolve.ts.
import type { Ipv6Prefix } from '../net/ipv6.js';
import type { EngineName, LabDescription, Role, TcpPolicy } from './schema.js';

export interface LabNode {
  readonly name: string;
  readonly role: Role;
  /** The network namespace that realises the node. */
  readonly netns: string;
}

export interface LabLink {
  /** The non-translator node. */
  readonly node: string;
  /** Interface name inside the node's namespace. */
  readonly nodeIf: string;
  /** Interface name inside the translator's namespace. */
  readonly translatorIf: string;
  readonly address: Ipv6Prefix;
  readonly translatorAddress: Ipv6Prefix;
}

export interface LabRoute {
  readonly node: string;
  /** `default` or a canonical prefix such as `fd00::/64`. */
  readonly to: string;
  readonly via: string;
  readonly dev: string;
}

export interface LabFlow {
  readonly name: string | undefined;
  /** Canonical abstract address; identifies the flow. */
  readonly address: string;
  readonly initiator: string;
  readonly responder: string;
}

/** A flow's TCP policy at migrations (see the schema's `tcp`). */
export interface FlowPolicy {
  readonly tcp: TcpPolicy;
  readonly drainMs: number;
}

export interface Lab {
  readonly name: string;
  /** prefix + name: names the state file and marks owned namespaces. */
  readonly id: string;
  readonly prefix: string;
  readonly engine: EngineName;
  /** Grace time of former responders' late packets (see the schema's graceSeconds). */
  readonly graceMs: number;
  readonly nodes: readonly LabNode[];
  readonly translator: LabNode;
  readonly links: readonly LabLink[];
  readonly routes: readonly LabRoute[];
  /** The flows as described (initial responders); the current ones live in the lab state. */
  readonly flows: readonly LabFlow[];
  /** Per flow address: its TCP policy (flows not listed: reset). */
  readonly policies: ReadonlyMap<string, FlowPolicy>;
  /** The validated description it was resolved from (kept in the state file). */
  readonly description: LabDescription;
}

export function nodeByName(lab: Pick<Lab, 'nodes'>, name: string): LabNode | undefined {
  return lab.nodes.find((n) => n.name === name);
}

/** The node's concrete address (its end of its link to the translator). */
export function concreteAddress(lab: Pick<Lab, 'links'>, node: string): string | undefined {
  return lab.links.find((l) => l.node === node)?.address.address;
}

export function servers(lab: Pick<Lab, 'nodes'>): readonly LabNode[] {
  return lab.nodes.filter((n) => n.role === 'server');
}

/** The TCP policy of a flow. */
export function policyOf(lab: Pick<Lab, 'policies'>, address: string): FlowPolicy {
  return lab.policies.get(address) ?? { tcp: 'reset', drainMs: 0 };
}

/** Whether any flow moves its TCP connections (policy `migrate`): the lab needs the hold table. */
export function movesTcp(lab: Pick<Lab, 'policies'>): boolean {
  for (const p of lab.policies.values()) if (p.tcp === 'migrate') return true;
  return false;
}
