// A cluster lab file: hosts, each a single-host lab's nodes, links and routes, on one fabric.
import { z } from 'zod';
import {
  ENGINE_NAMES,
  flowSchema,
  labDescriptionSchema,
  linkSchema,
  nodeSchema,
  routeSchema,
} from './schema.js';

/** The fabric's prefix when the file names none (the trial's, research/multihost). */
export const DEFAULT_FABRIC = 'fd00:fab::/64';

const hostSchema = z.strictObject({
  name: z.string(),
  /** Exactly one translator, which routes for the host's other nodes, as in a single-host lab. */
  nodes: z.array(nodeSchema).min(1),
  /** Each non-translator node's link to its host's translator. */
  links: z.array(linkSchema),
  /** When omitted, every non-translator node gets a default route via its translator address. */
  routes: z.array(routeSchema).optional(),
});

export const clusterDescriptionSchema = z.strictObject({
  name: z.string().default('cluster'),
  engine: z.enum(ENGINE_NAMES).default('nftables'),
  /** The same grace as a single-host lab's (see schema.ts). */
  graceSeconds: labDescriptionSchema.shape.graceSeconds,
  /** Initiators and responders are node names, on any host. */
  flows: z.array(flowSchema),
  /** The IPv6 /64 joining the hosts' translators; host i (1-based, file order) is <fabric>::i. */
  fabric: z.string().default(DEFAULT_FABRIC),
  /** The limit on their number is checked in cluster-resolve.ts, beside the other problems. */
  hosts: z.array(hostSchema).min(1),
});

export type ClusterDescription = z.infer<typeof clusterDescriptionSchema>;
/** What a file may contain before defaults are filled in. */
export type ClusterDescriptionInput = z.input<typeof clusterDescriptionSchema>;
export type HostDescription = ClusterDescription['hosts'][number];

/** Whether a parsed lab file describes a cluster (it has `hosts:`) rather than a single host. */
export function isClusterDescription(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'hosts' in raw;
}
