// Naming scheme, written down once: namespace = prefix + node; interface = "<self>-<peer>".

/** Node names are short so that "<node>-<peer>" fits the kernel's 15-character interface names. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_]{0,6}$/;
/** Lab names and prefixes become file and namespace names: a conservative safe set. */
export const LAB_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
export const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$/;
/** A lab id is prefix + name: at most 16 + 32 characters of the same safe set. */
export const LAB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;
/** Namespace names are files under /run/netns; keep them short and shell-safe. */
export const MAX_NETNS_NAME = 24;
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME = 15;

export function netnsName(prefix: string, node: string): string {
  return `${prefix}${node}`;
}

export function interfaceName(self: string, peer: string): string {
  return `${self}-${peer}`;
}

/** Lab identity: names its state file and the ownership mark on its namespaces. */
export function labId(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}${name}`;
}

/** The mark flowmig sets (as the alias of `lo`) on every namespace it creates. */
export function ownershipMark(id: string): string {
  return `flowmig:${id}`;
}

export function netnsNameProblem(name: string): string | undefined {
  if (name.length > MAX_NETNS_NAME) {
    return `namespace name '${name}' is longer than ${MAX_NETNS_NAME} characters`;
  }
  if (!NETNS_NAME.test(name)) {
    return `namespace name '${name}' may hold only letters, digits, '_', '.', '-' and must start with a letter or digit`;
  }
  return undefined;
}

export function prefixProblem(prefix: string): string | undefined {
  if (prefix === '' || PREFIX.test(prefix)) return undefined;
  return `prefix '${prefix}' must be 1-16 characters of letters, digits, '_', '.', '-', starting with a letter or digit`;
}
