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
import type { Lab, LabFlow, LabLink, LabNode, LabRoute } from './model.js';
import {
  interfaceName,
  LAB_NAME,
  labId,
  NODE_NAME,
  netnsName,
  netnsNameProblem,
  prefixProblem,
} from './names.js';
import { type EngineName, type LabDescription, labDescriptionSchema } from './schema.js';

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

/** Validates `raw` (parsed YAML/JSON) and resolves it. Throws InputError listing all problems. */
export function resolveLab(raw: unknown, options: ResolveOptions = {}): Lab {
  const source = options.source ?? 'lab description';
  const parsed = labDescriptionSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError(
      source,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`),
    );
  }
  const description: LabDescription = {
    ...parsed.data,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  };
  const problems: string[] = [];
  const prefix = options.prefix ?? '';
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) problems.push(prefixIssue);
  if (!LAB_NAME.test(description.name)) {
    problems.push(
      `name: '${description.name}' must be 1-32 characters of letters, digits, '_', '.', '-'`,
    );
  }

  const nodes = resolveNodes(description, prefix, problems);
  const translators = nodes.filter((n) => n.role === 'translator');
  if (translators.length !== 1) {
    problems.push(`nodes: exactly one translator is needed, found ${translators.length}`);
  }
  const translator = translators[0];
  const links = translator ? resolveLinks(description, nodes, translator, problems) : [];
  const routes = resolveRoutes(description, nodes, links, problems);
  const flows = resolveFlows(description, nodes, links, problems);

  if (problems.length > 0 || !translator) throw new InputError(source, problems);
  return {
    name: description.name,
    id: labId(prefix, description.name),
    prefix,
    engine: description.engine,
    graceMs: Math.round(description.graceSeconds * 1000),
    nodes,
    translator,
    links,
    routes,
    flows,
    policies: new Map(
      description.flows.flatMap((f) => {
        const address = canonicalAddress(f.address);
        return address && f.tcp !== 'reset'
          ? [[address, { tcp: f.tcp, drainMs: f.drainSeconds * 1000 }] as const]
          : [];
      }),
    ),
    description,
  };
}

function resolveNodes(d: LabDescription, prefix: string, problems: string[]): LabNode[] {
  const seen = new Set<string>();
  const nodes: LabNode[] = [];
  d.nodes.forEach((n, i) => {
    if (!NODE_NAME.test(n.name)) {
      problems.push(
        `nodes.${i}.name: '${n.name}' must be 1-7 letters, digits or '_', starting with a letter or digit`,
      );
      return;
    }
    if (seen.has(n.name)) problems.push(`nodes.${i}.name: '${n.name}' is defined twice`);
    seen.add(n.name);
    const netns = netnsName(prefix, n.name);
    const nsIssue = netnsNameProblem(netns);
    if (nsIssue) problems.push(`nodes.${i}.name: ${nsIssue}`);
    nodes.push({ name: n.name, role: n.role, netns });
  });
  return nodes;
}

function resolveLinks(
  d: LabDescription,
  nodes: readonly LabNode[],
  translator: LabNode,
  problems: string[],
): LabLink[] {
  const links: LabLink[] = [];
  const placed: [string, Ipv6Prefix][] = [];
  const linked = new Set<string>();
  const addresses = new Map<string, string>();
  const claim = (address: string, where: string) => {
    const other = addresses.get(address);
    if (other) problems.push(`${where}: address ${address} is already used by ${other}`);
    addresses.set(address, where);
  };
  d.links.forEach((l, i) => {
    const where = `links.${i}`;
    const node = nodes.find((n) => n.name === l.node);
    if (!node) {
      problems.push(`${where}.node: unknown node '${l.node}'`);
      return;
    }
    if (node.role === 'translator') {
      problems.push(`${where}.node: '${l.node}' is the translator; links join a node to it`);
      return;
    }
    if (linked.has(node.name)) problems.push(`${where}.node: '${l.node}' has more than one link`);
    linked.add(node.name);
    const address = parsePrefix(l.address);
    const translatorAddress = parsePrefix(l.translatorAddress);
    if (!address) problems.push(`${where}.address: '${l.address}' is not an IPv6 address/prefix`);
    if (!translatorAddress) {
      problems.push(
        `${where}.translatorAddress: '${l.translatorAddress}' is not an IPv6 address/prefix`,
      );
    }
    if (!address || !translatorAddress) return;
    for (const [field, p] of [
      ['address', address],
      ['translatorAddress', translatorAddress],
    ] as const) {
      const special = specialAddressReason(p.address);
      if (special) problems.push(`${where}.${field}: ${p.address} ${special}`);
    }
    if (
      address.length !== translatorAddress.length ||
      !inPrefix(translatorAddress.address, address)
    ) {
      problems.push(`${where}: ${l.address} and ${l.translatorAddress} must be in the same prefix`);
    }
    claim(address.address, `${where}.address`);
    claim(translatorAddress.address, `${where}.translatorAddress`);
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
    links.push({
      node: node.name,
      nodeIf: interfaceName(node.name, translator.name),
      translatorIf: interfaceName(translator.name, node.name),
      address,
      translatorAddress,
    });
  });
  for (const n of nodes) {
    if (n.role !== 'translator' && !linked.has(n.name)) {
      problems.push(`links: node '${n.name}' has no link to the translator`);
    }
  }
  return links;
}

function resolveRoutes(
  d: LabDescription,
  nodes: readonly LabNode[],
  links: readonly LabLink[],
  problems: string[],
): LabRoute[] {
  if (d.routes === undefined) {
    // The reference: every non-translator node routes everything via the translator.
    return links.map((l) => ({
      node: l.node,
      to: 'default',
      via: l.translatorAddress.address,
      dev: l.nodeIf,
    }));
  }
  const routes: LabRoute[] = [];
  d.routes.forEach((r, i) => {
    const where = `routes.${i}`;
    const node = nodes.find((n) => n.name === r.node);
    if (!node) {
      problems.push(`${where}.node: unknown node '${r.node}'`);
      return;
    }
    const link = links.find((l) => l.node === node.name);
    if (!link) {
      problems.push(`${where}.node: '${r.node}' has no link to route over`);
      return;
    }
    let to: string | undefined;
    if (r.to === 'default') to = 'default';
    else {
      const p = parsePrefix(r.to);
      if (p) to = `${p.address}/${p.length}`;
      else problems.push(`${where}.to: '${r.to}' is neither 'default' nor an IPv6 prefix`);
    }
    const via = canonicalAddress(r.via);
    if (!via) problems.push(`${where}.via: '${r.via}' is not an IPv6 address`);
    else if (!inPrefix(via, link.address)) {
      problems.push(
        `${where}.via: ${via} is not on ${r.node}'s link (${link.address.address}/${link.address.length})`,
      );
    }
    if (to && via) routes.push({ node: node.name, to, via, dev: link.nodeIf });
  });
  return routes;
}

function resolveFlows(
  d: LabDescription,
  nodes: readonly LabNode[],
  links: readonly LabLink[],
  problems: string[],
): LabFlow[] {
  const flows: LabFlow[] = [];
  const seen = new Set<string>();
  const names = new Set<string>();
  const concrete = new Set(links.flatMap((l) => [l.address.address, l.translatorAddress.address]));
  // An abstract address inside a link's prefix would be looked for on that link, not via B.
  const linkNets = links.map((l) => ({ link: l, bytes: addressBytes(l.address.address) }));
  d.flows.forEach((f, i) => {
    const where = `flows.${i}`;
    const address = canonicalAddress(f.address);
    if (!address) problems.push(`${where}.address: '${f.address}' is not an IPv6 address`);
    else {
      const special = specialAddressReason(address);
      if (special) problems.push(`${where}.address: ${address} ${special}`);
      if (concrete.has(address)) {
        problems.push(`${where}.address: ${address} is a concrete address of the lab`);
      } else {
        const bytes = addressBytes(address);
        const on = linkNets.find((n) => samePrefix(bytes, n.bytes, n.link.address.length));
        if (on) {
          problems.push(
            `${where}.address: ${address} is inside the prefix of ${on.link.node}'s link; abstract addresses must be routed via the translator`,
          );
        }
      }
      if (seen.has(address)) problems.push(`${where}.address: flow ${address} is defined twice`);
      seen.add(address);
    }
    if (f.name !== undefined) {
      if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(f.name)) {
        problems.push(
          `${where}.name: '${f.name}' must be 1-32 letters, digits, '_' or '-', starting with a letter`,
        );
      } else if (names.has(f.name)) problems.push(`${where}.name: '${f.name}' is used twice`);
      names.add(f.name);
    }
    const initiator = nodes.find((n) => n.name === f.initiator);
    const responder = nodes.find((n) => n.name === f.responder);
    if (!initiator) problems.push(`${where}.initiator: unknown node '${f.initiator}'`);
    else if (initiator.role !== 'client') {
      problems.push(`${where}.initiator: '${f.initiator}' is a ${initiator.role}, not a client`);
    }
    if (!responder) problems.push(`${where}.responder: unknown node '${f.responder}'`);
    else if (responder.role !== 'server') {
      problems.push(`${where}.responder: '${f.responder}' is a ${responder.role}, not a server`);
    }
    if (address && initiator && responder) {
      flows.push({ name: f.name, address, initiator: initiator.name, responder: responder.name });
    }
  });
  return flows;
}
