// Parse, then resolve a cluster lab file → checked ClusterLab. Every problem at once, nothing touched.
import { InputError } from '../errors.js';
import {
  addressBytes,
  addressFromBytes,
  formatPrefix,
  type Ipv6Prefix,
  inPrefix,
  parsePrefix,
  specialAddressReason,
} from '../net/ipv6.js';
import { type ClusterHost, type ClusterLab, placeEtcd } from './cluster-model.js';
import {
  bridgePort,
  FABRIC_BRIDGE,
  FABRIC_NODE,
  fabricInterface,
  fabricNetns,
  HOST_NAME,
  MAX_HOSTS,
} from './cluster-names.js';
import {
  type ClusterDescription,
  clusterDescriptionSchema,
  type HostDescription,
} from './cluster-schema.js';
import { type Draft, parseLeniently, REFUSED, type Refused } from './draft.js';
import type { LabLink, LabNode } from './model.js';
import { LAB_NAME, labId, prefixProblem } from './names.js';
import {
  type Links,
  type NodeEntry,
  type Nodes,
  policiesOf,
  type ResolveOptions,
  resolveFlows,
  resolveTopology,
  type Topology,
} from './resolve.js';

/** A host as far as it was understood. */
interface HostEntry {
  readonly where: string;
  readonly name: string | Refused;
  /** Undefined when the schema refused the whole host. */
  readonly draft: Exclude<Draft<HostDescription>, Refused> | undefined;
  readonly topology: Topology;
}

/**
 * Validates `raw` (parsed YAML/JSON) as a cluster lab and resolves it. Throws one InputError
 * listing every problem: the schema's, each host's as a single-host lab's (prefixed with the
 * host's path), and those across hosts.
 */
export function resolveCluster(raw: unknown, options: ResolveOptions = {}): ClusterLab {
  const source = options.source ?? 'cluster lab description';
  const parsed = parseLeniently(clusterDescriptionSchema, raw);
  const problems = parsed.problems;
  const d = parsed.draft === REFUSED ? undefined : parsed.draft;
  const prefix = options.prefix ?? '';
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) problems.push(prefixIssue);
  const name = options.name ?? d?.name ?? REFUSED;
  if (name !== REFUSED && !LAB_NAME.test(name)) {
    problems.push(`name: '${name}' must be 1-32 characters of letters, digits, '_', '.', '-'`);
  }

  const fabric = resolveFabric(d?.fabric ?? REFUSED, problems);
  const list = d?.hosts ?? REFUSED;
  const hosts = list === REFUSED ? [] : list.map((h, i) => resolveHost(h, i, prefix, problems));
  if (hosts.length > MAX_HOSTS) {
    problems.push(`hosts: ${hosts.length} hosts; at most ${MAX_HOSTS} are supported`);
  }
  checkNodeNames(hosts, problems);
  checkPrefixes(hosts, fabric, problems);
  const fabricAddresses = fabric ? hosts.map((_, i) => hostAddress(fabric, i + 1)) : [];
  const { nodes, links } = merged(hosts, list !== REFUSED, fabric, fabricAddresses);
  const flows = resolveFlows(d?.flows ?? REFUSED, nodes, links, problems);

  const value = parsed.value;
  const resolved = hosts.flatMap((h, i) => {
    const translator = h.topology.nodes.translator;
    const address = fabricAddresses[i];
    if (h.name === REFUSED || !translator || address === undefined) return [];
    return [clusterHost(h.name, i + 1, h.topology, translator, address)];
  });
  if (problems.length > 0 || !value || !fabric || resolved.length !== hosts.length) {
    throw new InputError(source, problems);
  }
  const description: ClusterDescription = {
    ...value,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  };
  return {
    name: description.name,
    id: labId(prefix, description.name),
    prefix,
    engine: description.engine,
    graceMs: Math.round(description.graceSeconds * 1000),
    hosts: resolved,
    fabric: { prefix: fabric, netns: fabricNetns(prefix), bridge: FABRIC_BRIDGE },
    nodes: resolved.flatMap((h) => h.nodes),
    flows,
    policies: policiesOf(description.flows),
    etcd: placeEtcd(resolved),
    description,
  };
}

function resolveHost(
  h: Draft<HostDescription>,
  i: number,
  prefix: string,
  problems: string[],
): HostEntry {
  const where = `hosts.${i}`;
  // The host's parts are checked as a single-host lab's; their problems get the host's path.
  const own: string[] = [];
  const topology = resolveTopology(h, prefix, own);
  for (const p of own) problems.push(`${where}.${p}`);
  if (h === REFUSED) return { where, name: REFUSED, draft: undefined, topology };
  if (h.name !== REFUSED && !HOST_NAME.test(h.name)) {
    problems.push(
      `${where}.name: '${h.name}' must be 1-16 letters, digits, '_' or '-', starting with a letter or digit`,
    );
  }
  return { where, name: h.name, draft: h, topology };
}

/** How a problem names a host: by its name when it has a usable one. */
function label(h: HostEntry): string {
  return h.name === REFUSED ? h.where : `host ${h.name}`;
}

/** Host names unique; node names unique across the whole lab, and none taken by the fabric. */
function checkNodeNames(hosts: readonly HostEntry[], problems: string[]): void {
  const hostNames = new Set<string>();
  const owner = new Map<string, HostEntry>();
  for (const h of hosts) {
    if (h.name !== REFUSED) {
      if (hostNames.has(h.name)) problems.push(`${h.where}.name: '${h.name}' is defined twice`);
      hostNames.add(h.name);
    }
    const list = h.draft?.nodes;
    if (list === undefined || list === REFUSED) continue;
    list.forEach((n, j) => {
      if (n === REFUSED || n.name === REFUSED) return;
      const where = `${h.where}.nodes.${j}.name`;
      if (n.name === FABRIC_NODE) {
        problems.push(`${where}: '${FABRIC_NODE}' is reserved for the fabric's namespace`);
      }
      const first = owner.get(n.name);
      // Twice on one host is resolveTopology's problem, already listed.
      if (first && first !== h)
        problems.push(`${where}: '${n.name}' is already a node of ${label(first)}`);
      if (!first) owner.set(n.name, h);
    });
  }
}

/** The fabric routes each host's prefixes to it: no two hosts, nor the fabric, may overlap. */
function checkPrefixes(
  hosts: readonly HostEntry[],
  fabric: Ipv6Prefix | undefined,
  problems: string[],
): void {
  const overlap = (a: Ipv6Prefix, b: Ipv6Prefix) =>
    inPrefix(a.address, { address: b.address, length: Math.min(a.length, b.length) });
  hosts.forEach((h, i) => {
    for (const p of h.topology.links.prefixes) {
      for (const other of hosts.slice(0, i)) {
        for (const q of other.topology.links.prefixes) {
          if (!overlap(p.prefix, q.prefix)) continue;
          problems.push(
            `${h.where}.links: prefix ${formatPrefix(p.prefix)} of ${p.link} overlaps ${formatPrefix(q.prefix)} of ${q.link} on ${label(other)}`,
          );
        }
      }
      if (fabric && overlap(p.prefix, fabric)) {
        problems.push(
          `fabric: ${formatPrefix(fabric)} overlaps prefix ${formatPrefix(p.prefix)} of ${p.link} on ${label(h)}`,
        );
      }
    }
  });
}

/** The fabric's prefix: an IPv6 /64, written as its network address. */
function resolveFabric(text: string | Refused, problems: string[]): Ipv6Prefix | undefined {
  if (text === REFUSED) return undefined;
  const p = parsePrefix(text);
  if (!p) {
    problems.push(`fabric: '${text}' is not an IPv6 prefix (such as fd00:fab::/64)`);
    return undefined;
  }
  const issues: string[] = [];
  if (p.length !== 64) issues.push(`fabric: ${text} must be a /64 (host i is <fabric>::i)`);
  const network = networkOf(p);
  if (network.address !== p.address) {
    issues.push(`fabric: ${text} has host bits set; write ${formatPrefix(network)}`);
  }
  const special = specialAddressReason(network.address);
  if (special) issues.push(`fabric: ${network.address} ${special}`);
  problems.push(...issues);
  return issues.length === 0 ? p : undefined;
}

/** The prefix's network: its address with the bits past its length cleared. */
export function networkOf(p: Ipv6Prefix): Ipv6Prefix {
  const bytes = addressBytes(p.address);
  for (let bit = p.length; bit < 128; bit++) {
    bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  }
  return { address: addressFromBytes(bytes), length: p.length };
}

/** Host `index`'s fabric address: the fabric's network with `index` as the last group. */
export function hostAddress(fabric: Ipv6Prefix, index: number): string {
  const bytes = addressBytes(fabric.address);
  bytes.writeUInt16BE(index, 14);
  return addressFromBytes(bytes);
}

/**
 * The whole lab's nodes and links as resolveFlows reads them: flows name nodes on any host, and
 * abstract addresses stay out of every host's prefixes and the fabric's.
 */
function merged(
  hosts: readonly HostEntry[],
  listed: boolean,
  fabric: Ipv6Prefix | undefined,
  fabricAddresses: readonly string[],
): { nodes: Nodes; links: Links } {
  const byName = new Map<string, NodeEntry>();
  const byNode = new Map<string, Ipv6Prefix | undefined>();
  const concrete = new Set<string>(fabricAddresses);
  const prefixes: { link: string; prefix: Ipv6Prefix }[] = [];
  const resolvedNodes: LabNode[] = [];
  const resolvedLinks: LabLink[] = [];
  let nodesComplete = listed;
  let linksComplete = listed;
  for (const h of hosts) {
    const { nodes, links } = h.topology;
    for (const [k, v] of nodes.byName) if (!byName.has(k)) byName.set(k, v);
    for (const [k, v] of links.byNode) if (!byNode.has(k)) byNode.set(k, v);
    for (const a of links.concrete) concrete.add(a);
    // A link whose node was refused is named by its path, which needs the host's.
    for (const p of links.prefixes) {
      prefixes.push(p.link.startsWith('links.') ? { ...p, link: `${h.where}.${p.link}` } : p);
    }
    resolvedNodes.push(...nodes.resolved);
    resolvedLinks.push(...links.resolved);
    nodesComplete &&= nodes.complete;
    linksComplete &&= links.complete;
  }
  if (fabric) prefixes.push({ link: 'the fabric', prefix: fabric });
  return {
    // No single translator: resolveFlows looks nodes up by name only.
    nodes: {
      byName,
      complete: nodesComplete,
      single: false,
      translator: undefined,
      resolved: resolvedNodes,
    },
    links: {
      resolved: resolvedLinks,
      byNode,
      complete: linksComplete,
      concrete,
      prefixes,
    },
  };
}

function clusterHost(
  name: string,
  index: number,
  topology: Topology,
  translator: LabNode,
  fabricAddress: string,
): ClusterHost {
  const links = topology.links.resolved;
  return {
    name,
    index,
    nodes: topology.nodes.resolved,
    translator,
    links,
    routes: topology.routes,
    fabricAddress,
    fabricIf: fabricInterface(translator.name),
    bridgePort: bridgePort(translator.name),
    prefixes: links.map((l) => networkOf(l.address)),
  };
}
