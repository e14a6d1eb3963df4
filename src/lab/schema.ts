// The lab description as written in a YAML/JSON file: shapes only (meaning is checked in resolve.ts).
import { z } from 'zod';

export const ENGINE_NAMES = ['nftables', 'iptables'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export const ROLES = ['client', 'server', 'translator'] as const;
export type Role = (typeof ROLES)[number];

export const nodeSchema = z.strictObject({
  name: z.string(),
  role: z.enum(ROLES),
});

export const linkSchema = z.strictObject({
  /** The non-translator end of the veth pair; the other end is always the translator. */
  node: z.string(),
  /** Address and prefix on the node's end, e.g. `fc00::1/64`. */
  address: z.string(),
  /** Address and prefix on the translator's end, in the same prefix. */
  translatorAddress: z.string(),
});

export const routeSchema = z.strictObject({
  node: z.string(),
  /** `default` or an IPv6 prefix. */
  to: z.string(),
  /** Gateway address, on one of the node's links. */
  via: z.string(),
});

export const TCP_POLICIES = ['reset', 'drain', 'migrate'] as const;
export type TcpPolicy = (typeof TCP_POLICIES)[number];

export const flowSchema = z.strictObject({
  /** Optional short name; the abstract address always names the flow too. */
  name: z.string().optional(),
  /** The abstract address, e.g. `fe00::1`. */
  address: z.string(),
  initiator: z.string(),
  responder: z.string(),
  /**
   * What a migration does to the flow's TCP connections: `reset` (the reference: their conntrack
   * entries go with the rest, the new responder resets them) or `drain` (established ones stay on
   * the old responder until they end or `drainSeconds` pass; UDP, ICMP and new connections move)
   * or `migrate` (the connections move with the flow: their sockets are checkpointed on the old
   * responder and restored on the new one, by flowmig's server runtime, `flowmig serve`).
   */
  tcp: z.enum(TCP_POLICIES).default('reset'),
  drainSeconds: z.number().positive().max(86_400).default(30),
});

export const labDescriptionSchema = z.strictObject({
  name: z.string().default('default'),
  engine: z.enum(ENGINE_NAMES).default('nftables'),
  nodes: z.array(nodeSchema).min(1),
  links: z.array(linkSchema),
  /** When omitted, every non-translator node gets a default route via its translator address. */
  routes: z.array(routeSchema).optional(),
  flows: z.array(flowSchema),
  /**
   * How long a flow's former responder stays translated after a migration: its late packets (sent
   * before its conntrack entry was deleted) still reach the initiator. 0 turns that off.
   */
  graceSeconds: z.number().min(0).max(3600).default(5),
});

export type LabDescription = z.infer<typeof labDescriptionSchema>;
/** What a file may contain before defaults are filled in. */
export type LabDescriptionInput = z.input<typeof labDescriptionSchema>;
