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

const SPECIAL: readonly (readonly [string, number, string])[] = [
  ['ff00::', 8, 'is a multicast address'],
  ['fe80::', 10, 'is a link-local address'],
  ['::ffff:0:0', 96, 'is an IPv4-mapped address'],
];
const SPECIAL_LISTS = SPECIAL.map(([a, l, why]) => {
  const list = new BlockList();
  list.addSubnet(a, l, 'ipv6');
  return [list, why] as const;
});

/** Addresses that must never be used as lab addresses (they are not unicast or are special). */
export function specialAddressReason(address: string): string | undefined {
  if (address === '::') return 'is the unspecified address';
  if (address === '::1') return 'is the loopback address';
  return SPECIAL_LISTS.find(([list]) => list.check(address, 'ipv6'))?.[1];
}

/** The 16 bytes of an IPv6 address (network order); throws on an invalid address. */
export function addressBytes(text: string): Buffer {
  // Hot path of every migration: split on '::' and ':' directly (the text is checked first).
  if (!isIPv6(text) || text.includes('.') || text.includes('%')) {
    throw new Error(`not an IPv6 address (or one with an embedded IPv4 part): ${text}`);
  }
  const b = Buffer.alloc(16);
  const gap = text.indexOf('::');
  const head = gap < 0 ? text : text.slice(0, gap);
  const tail = gap < 0 ? '' : text.slice(gap + 2);
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  h.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  t.forEach((g, i) => {
    b.writeUInt16BE(Number.parseInt(g, 16), 16 - (t.length - i) * 2);
  });
  return b;
}

/** Canonical text of 16 address bytes. */
export function addressFromBytes(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonicalAddress(groups.join(':')) ?? groups.join(':');
}
