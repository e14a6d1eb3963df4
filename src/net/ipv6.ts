// IPv6 address and prefix parsing, canonical formatting and subnet tests (no I/O).
import { isIPv6 } from 'node:net';

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

/** Whether the first `length` bits of two 16-byte addresses are equal. */
export function samePrefix(a: Uint8Array, b: Uint8Array, length: number): boolean {
  const full = length >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[full] ?? 0) & mask) === ((b[full] ?? 0) & mask);
}

/** Whether `address` lies inside `prefix` (both valid; compared bit by bit). */
export function inPrefix(address: string, prefix: Ipv6Prefix): boolean {
  return samePrefix(addressBytes(address), addressBytes(prefix.address), prefix.length);
}

/** Addresses that must never be used as lab addresses (they are not unicast or are special). */
export function specialAddressReason(address: string): string | undefined {
  if (address === '::') return 'is the unspecified address';
  if (address === '::1') return 'is the loopback address';
  const b = addressBytes(address);
  if (b[0] === 0xff) return 'is a multicast address';
  if (b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80) return 'is a link-local address';
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return 'is an IPv4-mapped address';
  }
  return undefined;
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
