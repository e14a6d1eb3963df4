// IPv6 address and prefix parsing, canonical formatting and subnet tests (no I/O).
import { BlockList, isIPv6 } from 'node:net';

export interface Ipv6Prefix {
  /** Canonical (RFC 5952) address, e.g. `fc00::1`. */
  readonly address: string;
  readonly length: number;
}

/** Canonical RFC 5952 form of a valid IPv6 address, or undefined when it is not one. */
export function canonicalAddress(text: string): string | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  // WHATWG URL serialises IPv6 hosts in RFC 5952 form (lower case, longest zero run compressed).
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** Parses `addr/len` (length 1..128); undefined when malformed. */
export function parsePrefix(text: string): Ipv6Prefix | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const address = canonicalAddress(match[1] ?? '');
  const length = Number(match[2]);
  if (address === undefined || length < 1 || length > 128) return undefined;
  return { address, length };
}

export function formatPrefix(prefix: Ipv6Prefix): string {
  return `${prefix.address}/${prefix.length}`;
}

/** Whether `address` lies inside `prefix`. */
export function inPrefix(address: string, prefix: Ipv6Prefix): boolean {
  const list = new BlockList();
  list.addSubnet(prefix.address, prefix.length, 'ipv6');
  return list.check(address, 'ipv6');
}

/** Addresses that must never be used as lab addresses (they are not unicast or are special). */
export function specialAddressReason(address: string): string | undefined {
  const list = (cidr: string) => {
    const [a, l] = cidr.split('/');
    return inPrefix(address, { address: a ?? '', length: Number(l) });
  };
  if (address === '::') return 'is the unspecified address';
  if (address === '::1') return 'is the loopback address';
  if (list('ff00::/8')) return 'is a multicast address';
  if (list('fe80::/10')) return 'is a link-local address';
  if (list('::ffff:0:0/96')) return 'is an IPv4-mapped address';
  return undefined;
}
