// Naming scheme of a cluster lab's fabric, written down once (node names follow names.ts).
import { interfaceName, netnsName } from './names.js';

/**
 * The fabric's node name: its namespace is `<prefix>fab`, and each translator's veth to it is
 * `<translator>-fab` (at most 7 + 4 characters), with the bridge port `fab-<translator>`. A node
 * may therefore not be called `fab`.
 */
export const FABRIC_NODE = 'fab';
/** The bridge inside the fabric namespace that joins every host's translator. */
export const FABRIC_BRIDGE = 'br0';
/** Host names key per-host state elsewhere (etcd keys, daemons): short and safe. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/;
/** More hosts would make every translator's table of fabric routes (n-1 hosts' prefixes) long. */
export const MAX_HOSTS = 16;

export function fabricNetns(prefix: string): string {
  return netnsName(prefix, FABRIC_NODE);
}

/** The translator's end of its veth to the fabric (in the translator's namespace). */
export function fabricInterface(translator: string): string {
  return interfaceName(translator, FABRIC_NODE);
}

/** The bridge's end of a translator's veth (in the fabric namespace). */
export function bridgePort(translator: string): string {
  return interfaceName(FABRIC_NODE, translator);
}
