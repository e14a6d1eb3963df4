// Parse, then resolve: raw description → checked Lab. Reports every problem at once, touches nothing.

import { InputError } from '../errors.js';
import {
  addressBytes,
  canonicalAddress,
  type Ipv6Prefix,
  inPrefix,
  parsePrefix,
  samePrefix,
  specialAddressReason,
} from '../net/ipv6.js';
import { type Draft, parseLeniently, REFUSED, type Refused } from './draft.js';
import type { FlowPolicy, Lab, LabFlow, LabLink, LabNode, LabRoute } from './model.js';
import {
  interfaceName,
  LAB_NAME,
  labId,
  NODE_NAME,
  netnsName,
  netnsNameProblem,
  prefixProblem,
} from './names.js';
import { type EngineName, type LabDescription, labDescriptionSchema, type Role } from './schema.js';

export interface ResolveOptions {
  /** Prepended to every namespace name so several labs can run side by side. */
  readonly prefix?: string;
  /** Overrides the description's engine. */
  readonly engine?: EngineName;
  /** Overrides the description's name. */
  readonly name?: string;
  /** Where the description came from, for messages. */
  readonly source?: string;
}

/**
 * Validates `raw` (parsed YAML/JSON) and resolves it. Throws one InputError listing every problem:
 * the schema's, and those of the checks across fields, run on every part the schema accepted (a
 * check that needs a refused part is skipped, so one mistake is reported once).
 */
export function resolveLab(raw: unknown, options: ResolveOptions = {}): Lab {
  const source = options.source ?? 'lab description';
  const parsed = parseLeniently(labDescriptionSchema, raw);
  const problems = parsed.problems;
  const d = parsed.draft === REFUSED ? undefined : parsed.draft;
  const prefix = options.prefix ?? '';
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) problems.push(prefixIssue);
  const name = options.name ?? d?.name ?? REFUSED;
  if (name !== REFUSED && !LAB_NAME.test(name)) {
    problems.push(`name: '${name}' must be 1-32 characters of letters, digits, '_', '.', '-'`);
  }

  const { nodes, links, routes } = resolveTopology(d ?? REFUSED, prefix, problems);
  const flows = resolveFlows(d?.flows ?? REFUSED, nodes, links, problems);

  const translator = nodes.translator;
  if (problems.length > 0 || parsed.value === undefined || !translator) {
    throw new InputError(source, problems);
  }
  const description: LabDescription = {
    ...parsed.value,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  };
  return {
    name: description.name,
    id: labId(prefix, description.name),
    prefix,
    engine: description.engine,
    graceMs: Math.round(description.graceSeconds * 1000),
    nodes: nodes.resolved,
    translator,
    links: links.resolved,
    routes,
    flows,
    policies: policiesOf(description.flows),
    description,
  };
}

/** Per flow address, its TCP policy; flows with the default (`reset`) are left out. */
export function policiesOf(flows: LabDescription['flows']): Map<string, FlowPolicy> {
  return new Map(
    flows.flatMap((f) => {
      const address = canonicalAddress(f.address);
      return address && f.tcp !== 'reset'
        ? [[address, { tcp: f.tcp, drainMs: f.drainSeconds * 1000 }] as const]
        : [];
    }),
  );
}

/** One translator's part of a lab: its nodes, their links to it, their routes. */
export interface Topology {
  readonly nodes: Nodes;
  readonly links: Links;
  readonly routes: LabRoute[];
}

/**
 * Resolves a lab's nodes, links and routes (or one host's, in a cluster lab), pushing each
 * problem onto `problems` with its path inside `d`.
 */
export function resolveTopology(
  d:
    | {
        readonly nodes: Draft<LabDescription['nodes']>;
        readonly links: Draft<LabDescription['links']>;
        readonly routes?: Draft<LabDescription['routes']>;
      }
    | Refused,
  prefix: string,
  problems: string[],
): Topology {
  const nodes = resolveNodes(d === REFUSED ? REFUSED : d.nodes, prefix, problems);
  const links = resolveLinks(d === REFUSED ? REFUSED : d.links, nodes, problems);
  const routes = resolveRoutes(d === REFUSED ? REFUSED : d.routes, nodes, links, problems);
  return { nodes, links, routes };
}

/** A node as far as it was understood: a well-formed one is also resolved (`node`). */
export interface NodeEntry {
  readonly name: string;
  readonly role: Role | Refused;
  readonly node: LabNode | undefined;
}

export interface Nodes {
  /** First entry of each name written (well-formed or not: a bad name is reported once). */
  readonly byName: ReadonlyMap<string, NodeEntry>;
  /** False when the list or a node's name was refused: a name not found may be that node's. */
  readonly complete: boolean;
  /** Whether there is exactly one translator. */
  readonly single: boolean;
  /** The one translator, resolved; undefined when there is not exactly one or it is ill-named. */
  readonly translator: LabNode | undefined;
  readonly resolved: readonly LabNode[];
}

function resolveNodes(
  list: Draft<LabDescription['nodes']>,
  prefix: string,
  problems: string[],
): Nodes {
  const byName = new Map<string, NodeEntry>();
  const resolved: LabNode[] = [];
  if (list === REFUSED) {
    return { byName, complete: false, single: false, translator: undefined, resolved };
  }
  let complete = true;
  let translators = 0;
  let unsureRoles = 0;
  let translator: LabNode | undefined;
  list.forEach((n, i) => {
    const role = n === REFUSED ? REFUSED : n.role;
    if (role === 'translator') translators++;
    if (role === REFUSED) unsureRoles++;
    if (n === REFUSED || n.name === REFUSED) {
      complete = false;
      return;
    }
    const where = `nodes.${i}.name`;
    // A second node of a name is one mistake: what is wrong with the name was said at the first.
    if (byName.has(n.name)) {
      problems.push(`${where}: '${n.name}' is defined twice`);
      return;
    }
    let node: LabNode | undefined;
    if (!NODE_NAME.test(n.name)) {
      problems.push(
        `${where}: '${n.name}' must be 1-7 letters, digits or '_', starting with a letter or digit`,
      );
    } else {
      const netns = netnsName(prefix, n.name);
      const nsIssue = netnsNameProblem(netns);
      if (nsIssue) problems.push(`${where}: ${nsIssue}`);
      else if (role !== REFUSED) node = { name: n.name, role, netns };
    }
    byName.set(n.name, { name: n.name, role, node });
    if (node) resolved.push(node);
    if (node?.role === 'translator') translator = node;
  });
  // A node whose role was refused may be the translator: count only what is certain.
  if (translators > 1 || (translators === 0 && unsureRoles === 0)) {
    problems.push(`nodes: exactly one translator is needed, found ${translators}`);
  }
  const single = translators === 1;
  return { byName, complete, single, translator: single ? translator : undefined, resolved };
}

/** The entry `name` refers to; an unknown name is a problem when every node's name is known. */
function lookup(nodes: Nodes, name: string, where: string, problems: string[]) {
  const entry = nodes.byName.get(name);
  if (!entry && nodes.complete) problems.push(`${where}: unknown node '${name}'`);
  return entry;
}

export interface Links {
  readonly resolved: readonly LabLink[];
  /** Each linked node's address on its link (undefined when that address was not understood). */
  readonly byNode: ReadonlyMap<string, Ipv6Prefix | undefined>;
  /** False when the list or a link's node was refused or unknown: a node seen unlinked may not be. */
  readonly complete: boolean;
  /** Every node and translator address understood, and each node end's prefix. */
  readonly concrete: ReadonlySet<string>;
  readonly prefixes: readonly { readonly link: string; readonly prefix: Ipv6Prefix }[];
}

function resolveLinks(
  list: Draft<LabDescription['links']>,
  nodes: Nodes,
  problems: string[],
): Links {
  const resolved: LabLink[] = [];
  const byNode = new Map<string, Ipv6Prefix | undefined>();
  const concrete = new Set<string>();
  const prefixes: { link: string; prefix: Ipv6Prefix }[] = [];
  if (list === REFUSED) return { resolved, byNode, complete: false, concrete, prefixes };
  let complete = true;
  const placed: [string, Ipv6Prefix][] = [];
  const addresses = new Map<string, string>();
  const claim = (address: string, where: string) => {
    const other = addresses.get(address);
    if (other) problems.push(`${where}: address ${address} is already used by ${other}`);
    addresses.set(address, where);
    concrete.add(address);
  };
  const translator = nodes.translator;
  list.forEach((l, i) => {
    if (l === REFUSED) {
      complete = false;
      return;
    }
    const where = `links.${i}`;
    // The node and the addresses are checked apart: a mistake in one hides nothing in the other.
    let entry: NodeEntry | undefined;
    if (l.node === REFUSED) complete = false;
    else {
      entry = lookup(nodes, l.node, `${where}.node`, problems);
      if (!entry) complete = false;
      else if (entry.role === 'translator') {
        problems.push(`${where}.node: '${l.node}' is the translator; links join a node to it`);
        entry = undefined;
      } else if (byNode.has(entry.name)) {
        problems.push(`${where}.node: '${l.node}' has more than one link`);
        entry = undefined;
      }
    }
    const parse = (field: 'address' | 'translatorAddress', text: string | Refused) => {
      if (text === REFUSED) return undefined;
      const p = parsePrefix(text);
      if (!p) problems.push(`${where}.${field}: '${text}' is not an IPv6 address/prefix`);
      return p ? { text, p } : undefined;
    };
    const a = parse('address', l.address);
    const t = parse('translatorAddress', l.translatorAddress);
    const address = a?.p;
    const translatorAddress = t?.p;
    if (entry) byNode.set(entry.name, address);
    for (const [field, p] of [
      ['address', address],
      ['translatorAddress', translatorAddress],
    ] as const) {
      if (!p) continue;
      const special = specialAddressReason(p.address);
      if (special) problems.push(`${where}.${field}: ${p.address} ${special}`);
      claim(p.address, `${where}.${field}`);
    }
    if (a && t && (a.p.length !== t.p.length || !inPrefix(t.p.address, a.p))) {
      problems.push(`${where}: ${a.text} and ${t.text} must be in the same prefix`);
    }
    if (address) {
      // The translator routes to each node by its link's prefix: prefixes must not overlap.
      for (const [other, prev] of placed) {
        const common = Math.min(address.length, prev.length);
        if (inPrefix(address.address, { address: prev.address, length: common })) {
          problems.push(
            `${where}.address: prefix ${address.address}/${address.length} overlaps ${other} (${prev.address}/${prev.length})`,
          );
        }
      }
      placed.push([`${where}.address`, address]);
      prefixes.push({ link: l.node === REFUSED ? where : `${l.node}'s link`, prefix: address });
    }
    if (entry?.node && translator && address && translatorAddress) {
      resolved.push({
        node: entry.name,
        nodeIf: interfaceName(entry.name, translator.name),
        translatorIf: interfaceName(translator.name, entry.name),
        address,
        translatorAddress,
      });
    }
  });
  // Every node but the translator needs a link; with no single translator that says nothing more.
  if (complete && nodes.single) {
    for (const n of nodes.byName.values()) {
      if (n.role !== 'translator' && n.role !== REFUSED && !byNode.has(n.name)) {
        problems.push(`links: node '${n.name}' has no link to the translator`);
      }
    }
  }
  return { resolved, byNode, complete, concrete, prefixes };
}

function resolveRoutes(
  list: Draft<LabDescription['routes']>,
  nodes: Nodes,
  links: Links,
  problems: string[],
): LabRoute[] {
  if (list === undefined) {
    // The reference: every non-translator node routes everything via the translator.
    return links.resolved.map((l) => ({
      node: l.node,
      to: 'default',
      via: l.translatorAddress.address,
      dev: l.nodeIf,
    }));
  }
  const routes: LabRoute[] = [];
  if (list === REFUSED) return routes;
  list.forEach((r, i) => {
    if (r === REFUSED) return;
    const where = `routes.${i}`;
    let onLink: { node: string; prefix: Ipv6Prefix } | undefined;
    if (r.node !== REFUSED) {
      const entry = lookup(nodes, r.node, `${where}.node`, problems);
      const prefix = entry && links.byNode.get(entry.name);
      if (prefix) onLink = { node: r.node, prefix };
      else if (entry && !links.byNode.has(entry.name) && links.complete) {
        problems.push(`${where}.node: '${r.node}' has no link to route over`);
      }
    }
    let to: string | undefined;
    if (r.to === 'default') to = 'default';
    else if (r.to !== REFUSED) {
      const p = parsePrefix(r.to);
      if (p) to = `${p.address}/${p.length}`;
      else problems.push(`${where}.to: '${r.to}' is neither 'default' nor an IPv6 prefix`);
    }
    let via: string | undefined;
    if (r.via !== REFUSED) {
      via = canonicalAddress(r.via) ?? undefined;
      if (!via) problems.push(`${where}.via: '${r.via}' is not an IPv6 address`);
      else if (onLink && !inPrefix(via, onLink.prefix)) {
        const { address, length } = onLink.prefix;
        problems.push(
          `${where}.via: ${via} is not on ${onLink.node}'s link (${address}/${length})`,
        );
      }
    }
    const link = links.resolved.find((l) => l.node === r.node);
    if (link && to && via) routes.push({ node: link.node, to, via, dev: link.nodeIf });
  });
  return routes;
}

/** The flows, their nodes looked up in `nodes`, their addresses checked against `links`. */
export function resolveFlows(
  list: Draft<LabDescription['flows']>,
  nodes: Nodes,
  links: Links,
  problems: string[],
): LabFlow[] {
  const flows: LabFlow[] = [];
  if (list === REFUSED) return flows;
  const seen = new Set<string>();
  const names = new Set<string>();
  // An abstract address inside a link's prefix would be looked for on that link, not via B.
  const linkNets = links.prefixes.map((p) => ({ ...p, bytes: addressBytes(p.prefix.address) }));
  list.forEach((f, i) => {
    if (f === REFUSED) return;
    const where = `flows.${i}`;
    let address: string | undefined;
    if (f.address !== REFUSED) {
      address = canonicalAddress(f.address) ?? undefined;
      if (!address) problems.push(`${where}.address: '${f.address}' is not an IPv6 address`);
      else {
        const special = specialAddressReason(address);
        if (special) problems.push(`${where}.address: ${address} ${special}`);
        if (links.concrete.has(address)) {
          problems.push(`${where}.address: ${address} is a concrete address of the lab`);
        } else {
          const bytes = addressBytes(address);
          const on = linkNets.find((n) => samePrefix(bytes, n.bytes, n.prefix.length));
          if (on) {
            problems.push(
              `${where}.address: ${address} is inside the prefix of ${on.link}; abstract addresses must be routed via the translator`,
            );
          }
        }
        if (seen.has(address)) problems.push(`${where}.address: flow ${address} is defined twice`);
        seen.add(address);
      }
    }
    const name = f.name === REFUSED ? undefined : f.name;
    if (name !== undefined) {
      if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name)) {
        problems.push(
          `${where}.name: '${name}' must be 1-32 letters, digits, '_' or '-', starting with a letter`,
        );
      } else if (names.has(name)) problems.push(`${where}.name: '${name}' is used twice`);
      names.add(name);
    }
    const end = (field: 'initiator' | 'responder', role: Role) => {
      const ref = f[field];
      if (ref === REFUSED) return undefined;
      const entry = lookup(nodes, ref, `${where}.${field}`, problems);
      // A role the schema refused is not checked again.
      if (entry && entry.role !== REFUSED && entry.role !== role) {
        problems.push(`${where}.${field}: '${ref}' is a ${entry.role}, not a ${role}`);
      }
      return entry?.node;
    };
    const initiator = end('initiator', 'client');
    const responder = end('responder', 'server');
    if (address && initiator && responder) {
      flows.push({ name, address, initiator: initiator.name, responder: responder.name });
    }
  });
  return flows;
}
