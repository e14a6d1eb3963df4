// What a lab's state file holds (zod schema and types), and the error for a file that is not one.
import { z } from 'zod';
import { FlowmigError } from '../errors.js';
import { labDescriptionSchema } from '../lab/schema.js';

export const flowSchema = z.object({
  name: z.string().optional(),
  address: z.string(),
  initiator: z.string(),
  responder: z.string(),
});

export const migrationSchema = z.object({
  flow: z.string(),
  from: z.string(),
  to: z.string(),
  at: z.string(),
  totalMs: z.number(),
  ruleMs: z.number(),
  conntrackMs: z.number(),
  conntrackDeleted: z.number(),
  path: z.enum(['in-process', 'agent', 'programs']).optional(),
});

export const drainingSchema = z.array(
  z.object({ flow: z.string(), responder: z.string(), until: z.number() }),
);

export const labStateSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  prefix: z.string(),
  description: labDescriptionSchema,
  phase: z.enum(['building', 'up']),
  /** The process that ran `up` (it may be gone). */
  pid: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Namespaces flowmig created, each recorded before it was created (write-ahead). */
  created: z.array(z.string()),
  flows: z.array(flowSchema),
  migrations: z.number(),
  lastMigration: migrationSchema.optional(),
  /** The translator agent (fast path), recorded as soon as it is spawned. */
  agent: z.object({ pid: z.number(), socket: z.string(), log: z.string() }).optional(),
  /** Why there is no agent (the nft/conntrack programs are used instead). */
  agentError: z.string().optional(),
  /** Former responders whose TCP connections drain (flows with `tcp: drain`), until epoch ms. */
  draining: drainingSchema.optional(),
  /** Server runtimes (`flowmig serve`), one per server node, recorded as soon as spawned. */
  servers: z
    .array(
      z.object({
        node: z.string(),
        pid: z.number(),
        socket: z.string(),
        log: z.string(),
        address: z.string(),
        port: z.number(),
        mode: z.enum(['echo', 'stream']),
        repairUnavailable: z.string().optional(),
      }),
    )
    .optional(),
  /** The daemon that serves the lab's local API (recorded by the daemon itself). */
  daemon: z.object({ pid: z.number(), socket: z.string() }).optional(),
});

/**
 * The snapshot file (`<id>.json`): the state, and the last journal entry it includes (entries at
 * or below it are skipped when the journal is replayed). Files older than the journal lack it.
 */
export const snapshotSchema = labStateSchema.extend({
  journalSeq: z.number().int().nonnegative().optional(),
});

export type LabState = z.infer<typeof labStateSchema>;
export type StateFlow = LabState['flows'][number];
export type MigrationRecord = z.infer<typeof migrationSchema>;

/** The lab's state file exists but is not a state (truncated, overwritten, from elsewhere). */
export class DamagedStateError extends FlowmigError {
  constructor(
    readonly lab: string,
    readonly path: string,
  ) {
    super(
      `state file ${path} is damaged; 'flowmig down --lab ${lab}' removes the lab by its marks in the kernel`,
    );
    this.name = 'DamagedStateError';
  }
}
