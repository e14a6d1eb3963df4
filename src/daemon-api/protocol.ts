// The daemon's local API, the contract between the daemon and its clients: one JSON object per
// line each way over a Unix socket (root only), or one per POST over HTTP (docs/http-api.md).
// Requests are checked against a schema before anything runs; every reply carries the request's
// id, or null when the request had none.
import { z } from 'zod';

/** Longest request line accepted; a longer one gets an error and the connection is closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Optional: a client that pipelines requests on one connection matches replies by it. */
const id = z.number().int().nonnegative().optional();
const name = z.string().min(1).max(200);

export const requestSchema = z.discriminatedUnion('verb', [
  z.strictObject({ id, verb: z.literal('hello') }),
  z.strictObject({ id, verb: z.literal('status') }),
  z.strictObject({ id, verb: z.literal('flows') }),
  z.strictObject({ id, verb: z.literal('swap'), flow: name.optional() }),
  z.strictObject({
    id,
    verb: z.literal('migrate'),
    flow: name,
    node: name,
    // Which end moves: said by a caller that means one (the dashboard's "serve from" control);
    // absent, the node's role decides (a server: the responder; a client: the initiator).
    end: z.enum(['responder', 'initiator']).optional(),
  }),
  z.strictObject({ id, verb: z.literal('evacuate'), from: name, to: name }),
  z.strictObject({ id, verb: z.literal('reconcile') }),
  z.strictObject({ id, verb: z.literal('down') }),
  z.strictObject({ id, verb: z.literal('lend') }),
  z.strictObject({
    id,
    verb: z.literal('serve'),
    port: z.number().int().min(1).max(65_535).optional(),
    mode: z.enum(['echo', 'stream']).optional(),
    nodes: z.array(name).max(1_000).optional(),
  }),
  z.strictObject({ id, verb: z.literal('unserve'), nodes: z.array(name).max(1_000).optional() }),
  // A traffic load from a client (the dashboard's controls): ping or flowmig's UDP load.
  z.strictObject({
    id,
    verb: z.literal('load'),
    kind: z.enum(['ping', 'udp']),
    from: name.optional(),
    flow: name.optional(),
  }),
  z.strictObject({ id, verb: z.literal('unload'), load: z.number().int().positive() }),
]);

export type DaemonRequest = z.infer<typeof requestSchema>;
export type Verb = DaemonRequest['verb'];
/** A request without its id (the client numbers it). */
export type RequestBody = DaemonRequest extends infer R
  ? R extends { verb: Verb }
    ? Omit<R, 'id'>
    : never
  : never;

/** How many batches of each size (moves) a daemon applied. */
export interface BatchSizes {
  '1': number;
  '2-9': number;
  '10-99': number;
  '100+': number;
}

export interface HelloReply {
  readonly lab: string;
  readonly pid: number;
  readonly socket: string;
  readonly startedAt: string;
  /** Changes applied by this daemon so far. */
  readonly changes: number;
  readonly queued: number;
  /**
   * Batches of swaps and migrations applied so far (each one rule transaction per round and one
   * commit), and how many of each size (absent: a daemon older than batches).
   */
  readonly batches?: number;
  readonly sizes?: Readonly<BatchSizes>;
  /** Where the HTTP API listens, and the file holding its bearer token (absent: no HTTP). */
  readonly http?: { readonly url: string; readonly tokenFile: string };
}

export type DaemonReply =
  | { readonly id: number | null; readonly ok: true; readonly result: unknown }
  | {
      readonly id: number | null;
      readonly ok: false;
      readonly error: string;
      readonly code?: string;
    };

/** Parses one request line: the request, or the reason it is refused (with the id if readable). */
export function parseRequest(
  line: string,
): { request: DaemonRequest } | { error: string; id: number | null } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: NOT_JSON, id: null };
  }
  return checkRequest(value);
}

/** Why a line that is not JSON is refused. */
export const NOT_JSON = 'malformed request: not JSON';

/** Checks one parsed request against the schema (never throws). */
export function checkRequest(
  value: unknown,
): { request: DaemonRequest } | { error: string; id: number | null } {
  const maybeId = (value as { id?: unknown } | null)?.id;
  const replyId = typeof maybeId === 'number' && Number.isInteger(maybeId) ? maybeId : null;
  const verb = (value as { verb?: unknown } | null)?.verb;
  const parsed = requestSchema.safeParse(value);
  if (parsed.success) return { request: parsed.data };
  if (typeof verb === 'string' && !requestSchema.options.some((o) => o.shape.verb.value === verb))
    return { error: `unknown verb '${verb.slice(0, 40)}'`, id: replyId };
  const issue = parsed.error.issues[0];
  return {
    error: `malformed request: ${issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'invalid'}`,
    id: replyId,
  };
}

/**
 * Verbs that change the lab: applied in arrival order, swaps and migrations that arrive while a
 * batch is applied together as the next batch, every other one alone.
 */
export const MUTATING: ReadonlySet<Verb> = new Set([
  'swap',
  'migrate',
  'evacuate',
  'reconcile',
  'down',
  'serve',
  'unserve',
]);
