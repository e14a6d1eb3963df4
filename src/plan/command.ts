// Turns an operation into the argument vector that carries it out (pure; never a shell string).
import { renderTransaction } from '../nft/text.js';
import type { Transaction } from '../nft/transaction.js';
import type { Op } from './ops.js';

export interface Command {
  readonly argv: readonly string[];
  /** Run inside this network namespace. */
  readonly netns?: string;
  readonly stdin?: string;
  /** Exit codes that are not failures (default: only 0). */
  readonly okExitCodes?: readonly number[];
  /**
   * The typed transaction `stdin` renders (`nft -f -`): a runner that applies transactions
   * itself (the fake kernel) takes it instead of the text.
   */
  readonly nft?: Transaction;
}

export function commandFor(op: Op): Command {
  switch (op.kind) {
    case 'netnsAdd':
      return { argv: ['ip', 'netns', 'add', op.netns] };
    case 'netnsDelete':
      return { argv: ['ip', 'netns', 'delete', op.netns] };
    case 'loopbackUp':
      return { argv: ['ip', 'link', 'set', 'dev', 'lo', 'up', 'alias', op.mark], netns: op.netns };
    case 'sysctl':
      return {
        argv: ['sysctl', '-q', '-w', ...Object.entries(op.settings).map(([k, v]) => `${k}=${v}`)],
        netns: op.netns,
      };
    case 'vethAdd':
      return {
        argv: [
          'ip',
          'link',
          'add',
          op.name,
          'type',
          'veth',
          'peer',
          'name',
          op.peerName,
          'netns',
          op.peerNetns,
        ],
        netns: op.netns,
      };
    case 'linkUp':
      return { argv: ['ip', 'link', 'set', 'dev', op.dev, 'up'], netns: op.netns };
    case 'bridgeAdd':
      return { argv: ['ip', 'link', 'add', 'name', op.name, 'type', 'bridge'], netns: op.netns };
    case 'linkMaster':
      return {
        argv: ['ip', 'link', 'set', 'dev', op.dev, 'master', op.master],
        netns: op.netns,
      };
    case 'addrAdd':
      // nodad: no duplicate address detection, so the address is usable at once.
      return {
        argv: ['ip', '-6', 'addr', 'add', op.cidr, 'dev', op.dev, 'nodad'],
        netns: op.netns,
      };
    case 'routeAdd':
      return {
        argv: ['ip', '-6', 'route', 'add', op.to, 'via', op.via, 'dev', op.dev],
        netns: op.netns,
      };
    case 'netfilterApply':
      // nftables transactions are rendered here, when they run: the agent's path never needs text.
      return 'nft' in op
        ? {
            argv: ['nft', '-f', '-'],
            netns: op.netns,
            stdin: renderTransaction(op.nft),
            nft: op.nft,
          }
        : { argv: op.argv, netns: op.netns, stdin: op.stdin };
    case 'conntrackDelete':
      // conntrack exits 1 when nothing matched; the executor reads the count from stderr.
      return {
        argv: [
          'conntrack',
          '-D',
          '-f',
          'ipv6',
          '--orig-dst',
          op.origDst,
          ...(op.onlyReplySrc ? ['--reply-src', op.onlyReplySrc] : []),
        ],
        netns: op.netns,
        okExitCodes: [0, 1],
      };
  }
}

/**
 * Protocols whose entries a draining flow loses (all but TCP): the conntrack program takes one
 * protocol per run and cannot exclude one.
 */
export const NON_TCP_PROTOCOLS = ['udp', 'icmpv6', 'udplite', 'sctp', 'dccp', 'gre'] as const;

/** The commands of an op: one, except a draining flow's conntrack delete (one per protocol). */
export function commandsFor(op: Op): Command[] {
  const c = commandFor(op);
  if (op.kind !== 'conntrackDelete' || !op.keepTcp) return [c];
  return NON_TCP_PROTOCOLS.map((p) => ({ ...c, argv: [...c.argv, '-p', p] }));
}
