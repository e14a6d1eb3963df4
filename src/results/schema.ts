// The results an experiment run writes (`results.json`): its schema, its types and the parser. The
// runner writes them, the report reads them: they sit below both.
import { z } from 'zod';
import { InputError } from '../errors.js';
import { ENGINE_NAMES, ROLES } from '../lab/schema.js';

/**
 * Version 2: swaps numbered from 1; a swap's wait before the rule apart from the rule
 * (`controlMs.wait`) and the controller's own apply time (`applyMs`); the TCP outcome against the
 * flow's policy; UDP per server counted per kind; the captures' window of arrivals.
 */
export const RESULTS_SCHEMA = 'flowmig.experiment/2';

/** The results' file name in a results directory. */
export const RESULTS_FILE = 'results.json';

const count = z.number().int().nonnegative();
/** Milliseconds since the run started (or a duration), never negative. */
const ms = z.number().nonnegative();

const percentilesSchema = z.strictObject({
  count,
  min: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  max: z.number(),
  mean: z.number(),
});

const pingSchema = z.strictObject({
  sent: count,
  received: count,
  errors: count,
  duplicates: count,
  lost: count,
  /** ping's own error lines (e.g. "Destination unreachable"), as it printed them. */
  errorLines: z.array(z.string()),
  rttMs: percentilesSchema.nullable(),
  /** Echo requests of the run that reached each server (Icmp6InEchos in each server). */
  perServer: z.record(z.string(), count).optional(),
  /** Round-trip times over the run; the runner may keep only some of them. */
  rtt: z.array(z.strictObject({ tMs: ms, rttMs: z.number().nonnegative() })),
});

const udpSchema = z.strictObject({
  sent: count,
  received: count,
  lost: count,
  duplicated: count,
  reordered: count,
  ratePerS: z.number().nonnegative(),
  /**
   * Datagrams of this load each server's echo server received (its own count; older runs: the
   * servers' UDP counter when no other UDP kind ran). Absent when not known for this kind alone.
   */
  perServer: z.record(z.string(), count).optional(),
});

const ncatUdpSchema = z.strictObject({
  sentLines: count,
  /** Lines each server received. */
  perServer: z.record(z.string(), count),
});

export const TCP_POLICIES = ['reset', 'drain', 'migrate'] as const;

const tcpSchema = z.strictObject({
  /** The flow's TCP policy: what a swap does to an open connection. */
  policy: z.enum(TCP_POLICIES),
  /** Whether the connection ended (or lasted) the way the policy promises. */
  asPromised: z.boolean(),
  bytesSent: count,
  /** Bytes the server received in order and unchanged. */
  bytesIntact: count,
  ended: z.strictObject({
    /** `open`: the connection was still up when the run ended. */
    kind: z.enum(['reset', 'closed', 'error', 'open']),
    atMs: ms.nullable(),
    /** The swap the end followed (its number, from 1), and how long after it was issued. */
    afterSwap: z.strictObject({ index: count, ms: z.number() }).nullable(),
    message: z.string(),
  }),
  /** The longest time no echo came back, and when it started (ms from the run's start). */
  longestStallMs: z.number().nonnegative().optional(),
  longestStallAtMs: ms.nullable().optional(),
  /** A flow with `tcp: migrate`: its connections moved at the swaps. */
  migrations: z
    .strictObject({
      swaps: count,
      /** Connections moved, summed over swaps. */
      moved: count,
      /** Hold → resume per swap that moved a connection, ms. */
      p50Ms: z.number().nullable(),
      p99Ms: z.number().nullable(),
      maxMs: z.number().nullable(),
    })
    .optional(),
});

const swapSchema = z.strictObject({
  /** The swap's number, from 1 (as every text shows it). */
  index: z.number().int().positive(),
  flow: z.string(),
  from: z.string(),
  to: z.string(),
  issuedMs: ms,
  committedMs: ms,
  conntrackDoneMs: ms,
  /**
   * From the swap being issued: `wait` until the rule change started (the controller's lock, its
   * state, the plan; and the issuing process getting a CPU), `rule` the commit, `conntrack` the
   * cleanup, `total` issued → flow moved (the sum).
   */
  controlMs: z.strictObject({ wait: ms, rule: ms, conntrack: ms, total: ms }),
  /** The controller's own time for the change: rule started → its answer (rule, conntrack, trip). */
  applyMs: ms,
  /** Last packet at the old server to first packet at the new one; <= 0 when they overlapped. */
  gapMs: z.number().nullable(),
  /** Swap issued to the first packet at the new server (the SPEC's measure). */
  firstAtNewMs: z.number().nullable().optional(),
  /** Packets that reached the old server after the swap was issued. */
  inFlight: count.nullable(),
  udp: z.strictObject({ lost: count, duplicated: count, reordered: count }).optional(),
  /** A flow with `tcp: migrate`: connections this swap moved, and hold → resume in ms. */
  tcp: z.strictObject({ moved: count, ms }).optional(),
});

/** A relative path inside the results directory: reports link to it, so it must stay inside. */
const relativeFile = z
  .string()
  .min(1)
  .refine((f) => !f.startsWith('/') && !f.split(/[\\/]/).includes('..'), {
    message: 'must be a relative path inside the results directory',
  });

export const resultsSchema = z.strictObject({
  schema: z.literal(RESULTS_SCHEMA),
  /** Run id, e.g. `20261125T093000Z-default` (see runId): the default results directory's name. */
  id: z.string().min(1),
  /** When the traffic started: time 0 of every `...Ms` time below. */
  startedAt: z.iso.datetime({ offset: true }),
  /** Length of the measured run. */
  durationMs: ms,
  lab: z.strictObject({
    id: z.string(),
    engine: z.enum(ENGINE_NAMES),
    controlPath: z.string(),
    nodes: z.array(
      z.strictObject({
        name: z.string(),
        role: z.enum(ROLES),
        namespace: z.string(),
        /** On a cluster lab: the node's host. */
        host: z.string().optional(),
      }),
    ),
    flows: z.array(
      z.strictObject({
        address: z.string(),
        name: z.string().optional(),
        initiator: z.string(),
        responders: z.array(z.string()),
      }),
    ),
  }),
  /** The options the run used, free-form. */
  config: z.record(z.string(), z.unknown()),
  verdict: z.strictObject({ ok: z.boolean(), lines: z.array(z.string()) }),
  traffic: z.strictObject({
    ping: pingSchema.optional(),
    udp: udpSchema.optional(),
    ncatUdp: ncatUdpSchema.optional(),
    tcp: tcpSchema.optional(),
  }),
  swaps: z.array(swapSchema),
  /** Packets received per node per interval: interval k covers [k*intervalMs, (k+1)*intervalMs). */
  series: z.strictObject({
    intervalMs: z.number().positive(),
    nodes: z.record(z.string(), z.array(count)),
  }),
  /**
   * The flow's packets at each server in `binMs` bins from `fromMs`, over a few swaps in the middle
   * of the run (from the captures): what a swap does, at a scale where each swap can be seen.
   */
  arrivals: z
    .strictObject({
      fromMs: z.number(),
      binMs: z.number().positive(),
      nodes: z.record(z.string(), z.array(count)),
    })
    .optional(),
  /**
   * With TCP traffic: the flow's TCP connections per server over time (conntrack entries in the
   * translator), ms from the start. Shows connections draining on a former server, or moving.
   */
  tcpConnections: z
    .array(z.strictObject({ tMs: z.number(), perNode: z.record(z.string(), count) }))
    .optional(),
  /** Raw files kept in the results directory, relative to it. */
  files: z.array(relativeFile),
});

export type ExperimentResults = z.infer<typeof resultsSchema>;
export type Percentiles = z.infer<typeof percentilesSchema>;
export type PingTraffic = z.infer<typeof pingSchema>;
export type UdpTraffic = z.infer<typeof udpSchema>;
export type NcatUdpTraffic = z.infer<typeof ncatUdpSchema>;
export type TcpTraffic = z.infer<typeof tcpSchema>;
export type SwapRecord = z.infer<typeof swapSchema>;
export type PacketSeries = ExperimentResults['series'];

/** Validates parsed JSON as experiment results. Throws an InputError naming every problem. */
export function parseResults(json: unknown, source = 'results'): ExperimentResults {
  const schema = (json as { schema?: unknown } | null)?.schema;
  if (schema === 'flowmig.experiment/1')
    throw new InputError(source, [
      `schema flowmig.experiment/1 is an older flowmig's (swaps numbered from 0, the wait before the rule inside the rule's time); analyse the run again (analyzeRun on its directory) to write ${RESULTS_SCHEMA}`,
    ]);
  const parsed = resultsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new InputError(
    source,
    parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top)'}: ${i.message}`),
  );
}
