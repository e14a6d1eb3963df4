// The etcd key layout of a multi-host flow table, written once: flows, live translators, and the
// revision each host applied, under a versioned root (pure).
import { InputError } from '../errors.js';
import { canonicalAddress } from '../net/ipv6.js';

/** Where flowmig's keys live; v1 names this layout, so a later one can sit beside it. */
export const DEFAULT_ROOT = '/flowmig/v1/';

/**
 * The prefixes under a root (tests give each table a root of its own on one etcd):
 * - `flows/<abstract address>`: the flow's JSON value (values.ts FlowValue);
 * - `translators/<host>`: a live translator's JSON value, under its lease;
 * - `applied/<host>`: the revision that host's translator has applied, in decimal.
 */
export interface KeyLayout {
  readonly root: string;
  readonly flows: string;
  readonly translators: string;
  readonly applied: string;
}

export function layout(root = DEFAULT_ROOT): KeyLayout {
  if (!root.startsWith('/') || !root.endsWith('/')) {
    throw new InputError('etcd key root', [`${JSON.stringify(root)} must start and end with /`]);
  }
  return {
    root,
    flows: `${root}flows/`,
    translators: `${root}translators/`,
    applied: `${root}applied/`,
  };
}

const HOST = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The key of a flow; its address in canonical form, so one flow has one key. */
export function flowKey(k: KeyLayout, address: string): string {
  const canonical = canonicalAddress(address);
  if (canonical === undefined) {
    throw new InputError('flow', [`${JSON.stringify(address)} is not an IPv6 address`]);
  }
  return `${k.flows}${canonical}`;
}

export function translatorKey(k: KeyLayout, host: string): string {
  return `${k.translators}${checkHost(host)}`;
}

export function appliedKey(k: KeyLayout, host: string): string {
  return `${k.applied}${checkHost(host)}`;
}

/** A host name usable in a key: letters, digits, `.`, `_`, `-`, up to 63, no `/`. */
export function checkHost(host: string): string {
  if (!HOST.test(host)) {
    throw new InputError('host', [`${JSON.stringify(host)} is not a host name`]);
  }
  return host;
}

/**
 * What follows `prefix` in `key`, or undefined when the key is not under it. A flow key whose
 * rest is not a canonical address (written by hand) is reported by the table, not dropped here.
 */
export function nameUnder(prefix: string, key: string): string | undefined {
  return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
}
