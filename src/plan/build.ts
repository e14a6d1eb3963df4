// Plans what building a lab takes: namespaces, veths, addresses, routes, the translator's table.
import type { Engine, FlowMapping } from '../engines/engine.js';
import { holdTable } from '../engines/hold.js';
import { lateTable } from '../engines/late.js';
import { concreteAddress, type Lab, type LabFlow, movesTcp } from '../lab/model.js';
import { ownershipMark } from '../lab/names.js';
import type { Op } from './ops.js';

/** The addresses the translator needs for the given flow assignments. */
export function mappingsFor(lab: Lab, flows: readonly LabFlow[]): FlowMapping[] {
  return flows.map((f) => ({
    address: f.address,
    initiatorAddress: mustAddress(lab, f.initiator),
    responderAddress: mustAddress(lab, f.responder),
  }));
}

function mustAddress(lab: Lab, node: string): string {
  const address = concreteAddress(lab, node);
  // resolve.ts guarantees every flow node has a link; reaching this is a programming error.
  if (address === undefined) throw new Error(`node ${node} has no concrete address`);
  return address;
}

/** Every operation `up` performs, in order. Rollback deletes the namespaces created so far. */
export function planUp(lab: Lab, engine: Engine): Op[] {
  const ops = planNetwork(lab);
  const t = lab.translator.netns;
  const mappings = mappingsFor(lab, lab.flows);
  ops.push(engine.install(t, mappings), lateTable.install(t, mappings));
  if (movesTcp(lab)) ops.push(...holdTable.install(t));
  return ops;
}

/** What one translator's network needs: a lab, or one host of a cluster lab (src/plan/fabric.ts). */
export type LabNetwork = Pick<Lab, 'id' | 'nodes' | 'translator' | 'links' | 'routes' | 'policies'>;

/**
 * The network part of `up`, without the translator's tables: namespaces, sysctls, veths,
 * addresses, routes.
 */
export function planNetwork(lab: LabNetwork): Op[] {
  const mark = ownershipMark(lab.id);
  const ops: Op[] = [];
  for (const node of lab.nodes) {
    ops.push({ kind: 'netnsAdd', netns: node.netns });
    ops.push({ kind: 'loopbackUp', netns: node.netns, mark });
    const settings: Record<string, string> = {
      // Set before any link exists so link-local addresses skip DAD too: otherwise the first
      // packets wait ~2 s for neighbour discovery on tentative addresses.
      'net.ipv6.conf.all.accept_dad': '0',
      'net.ipv6.conf.default.accept_dad': '0',
    };
    if (node.role === 'translator') {
      settings['net.ipv6.conf.all.forwarding'] = '1';
      // A moved TCP connection continues mid-stream: conntrack must pick it up from any segment
      // (loose), and must not judge its segments by windows it never saw negotiated (liberal):
      // picked up mid-stream it knows no window scale, takes the scaled windows of a bulk
      // transfer for tiny ones, and marks the segments beyond them invalid, which are then not
      // translated and lost; with the retransmission timer restarted at every move, the stream
      // stalls.
      if (movesTcp(lab)) {
        settings['net.netfilter.nf_conntrack_tcp_loose'] = '1';
        settings['net.netfilter.nf_conntrack_tcp_be_liberal'] = '1';
      }
    }
    ops.push({ kind: 'sysctl', netns: node.netns, settings });
  }
  const t = lab.translator;
  for (const link of lab.links) {
    const node = lab.nodes.find((n) => n.name === link.node);
    if (!node) continue;
    ops.push({
      kind: 'vethAdd',
      netns: node.netns,
      name: link.nodeIf,
      peerNetns: t.netns,
      peerName: link.translatorIf,
    });
    ops.push({
      kind: 'addrAdd',
      netns: node.netns,
      dev: link.nodeIf,
      cidr: `${link.address.address}/${link.address.length}`,
    });
    ops.push({
      kind: 'addrAdd',
      netns: t.netns,
      dev: link.translatorIf,
      cidr: `${link.translatorAddress.address}/${link.translatorAddress.length}`,
    });
    ops.push({ kind: 'linkUp', netns: node.netns, dev: link.nodeIf });
    ops.push({ kind: 'linkUp', netns: t.netns, dev: link.translatorIf });
  }
  for (const route of lab.routes) {
    const node = lab.nodes.find((n) => n.name === route.node);
    if (!node) continue;
    ops.push({ kind: 'routeAdd', netns: node.netns, to: route.to, via: route.via, dev: route.dev });
  }
  return ops;
}

/** Namespaces to delete for `down`, translator last (it holds the peers of every veth). */
export function planDown(namespaces: readonly string[]): Op[] {
  return [...namespaces].reverse().map((netns) => ({ kind: 'netnsDelete', netns }) as const);
}
