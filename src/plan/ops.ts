// Typed operations: what planners decide and the executor carries out. Plain data, no I/O.
import type { ConntrackDeleteOp } from '../engines/conntrack.js';
import type { NetfilterApplyOp } from '../engines/engine.js';

export type Op =
  | { readonly kind: 'netnsAdd'; readonly netns: string }
  | { readonly kind: 'netnsDelete'; readonly netns: string }
  /** Brings `lo` up and marks the namespace as flowmig's (the mark is lo's alias). */
  | { readonly kind: 'loopbackUp'; readonly netns: string; readonly mark: string }
  | {
      readonly kind: 'sysctl';
      readonly netns: string;
      readonly settings: Readonly<Record<string, string>>;
    }
  /** A veth pair created inside `netns` with its peer placed straight into `peerNetns`. */
  | {
      readonly kind: 'vethAdd';
      readonly netns: string;
      readonly name: string;
      readonly peerNetns: string;
      readonly peerName: string;
    }
  | { readonly kind: 'linkUp'; readonly netns: string; readonly dev: string }
  /** A Linux bridge (a cluster lab's fabric): its ports are enslaved with linkMaster. */
  | { readonly kind: 'bridgeAdd'; readonly netns: string; readonly name: string }
  /** Makes `dev` a port of the bridge `master`, in the same namespace. */
  | {
      readonly kind: 'linkMaster';
      readonly netns: string;
      readonly dev: string;
      readonly master: string;
    }
  | {
      readonly kind: 'addrAdd';
      readonly netns: string;
      readonly dev: string;
      readonly cidr: string;
    }
  | {
      readonly kind: 'routeAdd';
      readonly netns: string;
      readonly to: string;
      readonly via: string;
      readonly dev: string;
    }
  /** One atomic netfilter transaction, as an engine planned it. */
  | NetfilterApplyOp
  /** Deletes the conntrack entries whose original destination is the flow's abstract address. */
  | ConntrackDeleteOp;

export type OpKind = Op['kind'];

/** One line describing an operation, for progress displays and logs. */
export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'netnsAdd':
      return `create namespace ${op.netns}`;
    case 'netnsDelete':
      return `delete namespace ${op.netns}`;
    case 'loopbackUp':
      return `${op.netns}: lo up, mark ${op.mark}`;
    case 'sysctl':
      return `${op.netns}: sysctl ${Object.entries(op.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`;
    case 'vethAdd':
      return `veth ${op.netns}/${op.name} – ${op.peerNetns}/${op.peerName}`;
    case 'linkUp':
      return `${op.netns}: ${op.dev} up`;
    case 'bridgeAdd':
      return `${op.netns}: bridge ${op.name}`;
    case 'linkMaster':
      return `${op.netns}: ${op.dev} into bridge ${op.master}`;
    case 'addrAdd':
      return `${op.netns}: ${op.cidr} on ${op.dev}`;
    case 'routeAdd':
      return `${op.netns}: route ${op.to} via ${op.via}`;
    case 'netfilterApply':
      return `${op.netns}: ${op.summary}`;
    case 'conntrackDelete':
      return `${op.netns}: delete ${op.keepTcp ? 'non-TCP ' : ''}conntrack entries to ${op.origDst}${op.onlyReplySrc ? ` translated to ${op.onlyReplySrc}` : ''}`;
  }
}
