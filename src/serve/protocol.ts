// The serve control protocol: one JSON object per line over a Unix socket (in the binary framing,
// rpc/frames.ts), requests carry an id; the request and result types, and request validation.
import type { Endpoint, TcpSocketState } from '../tcp-repair/types.js';

export type { Endpoint } from '../tcp-repair/types.js';

/** A request line longer than this is answered with an error and skipped. */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** Which connections a migration step works on; both fields given: both must match. */
export interface ConnectionFilter {
  /** The remote address the socket sees (behind a translator: its abstract address). */
  readonly peerAddress?: string;
  readonly ids?: readonly string[];
}

/** One connection in transit between two servers: everything the receiving server needs. */
export interface MigratingConnection {
  readonly id: string;
  readonly socket: TcpSocketState;
  /** The app's `snapshot()`. */
  readonly app: unknown;
  /** Bytes Node had read from the kernel but not yet given to the app, base64. */
  readonly pendingInput: string;
  /** The connection's byte counters so far (carried on so they stay per connection). */
  readonly bytesIn?: number;
  readonly bytesOut?: number;
}

export interface Failure {
  readonly id: string;
  readonly reason: string;
}

export interface PrepareResult {
  readonly ready: string[];
  readonly failed: Failure[];
  readonly prepareMs: number;
}

export interface CheckpointResult {
  readonly connections: MigratingConnection[];
  readonly failed: Failure[];
  readonly checkpointMs: number;
}

export interface RestoreResult {
  readonly restored: string[];
  readonly failed: Failure[];
  readonly restoreMs: number;
}

export interface ResumeResult {
  readonly resumed: string[];
  readonly failed: Failure[];
  readonly resumeMs: number;
}

export interface AbortResult {
  readonly aborted: string[];
  readonly failed: Failure[];
}

/** `prepared`: quiesced, ready for a checkpoint; `restored`: rebuilt here, silent until resumed. */
export type ConnectionState = 'active' | 'prepared' | 'restored';

export interface ConnectionInfo {
  readonly id: string;
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly state: ConnectionState;
}

export interface HelloResult {
  readonly pid: number;
  readonly address: string;
  readonly port: number;
  readonly mode: string;
  /** How many connections this server holds. */
  readonly connections: number;
  /** Why this process cannot checkpoint or restore connections (the addon is missing); else absent. */
  readonly repairUnavailable?: string;
}

export type ServeRequest =
  | { readonly id: number; readonly op: 'hello' }
  | {
      readonly id: number;
      readonly op: 'prepare';
      readonly filter: ConnectionFilter;
      readonly timeoutMs?: number;
    }
  | { readonly id: number; readonly op: 'checkpoint'; readonly ids: readonly string[] }
  | {
      readonly id: number;
      readonly op: 'restore';
      readonly connections: readonly MigratingConnection[];
      readonly localAddress?: string;
    }
  | { readonly id: number; readonly op: 'resume'; readonly ids: readonly string[] }
  | { readonly id: number; readonly op: 'abort'; readonly ids: readonly string[] }
  | { readonly id: number; readonly op: 'status' }
  | { readonly id: number; readonly op: 'shutdown' };

export type ServeOp = ServeRequest['op'];

/** A reply: `id` is null when the request's own id could not be read. */
export type ServeReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number | null; readonly ok: false; readonly error: string };

export type ParsedRequest =
  | { readonly ok: true; readonly request: ServeRequest }
  | { readonly ok: false; readonly id: number | null; readonly error: string };

const OPS: readonly ServeOp[] = [
  'hello',
  'prepare',
  'checkpoint',
  'restore',
  'resume',
  'abort',
  'status',
  'shutdown',
];

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
/**
 * Canonical base64, as Buffer.toString('base64') writes it. Decoding and encoding again takes
 * ~5 ms for 4 MiB of queue, a regular expression ~25 ms: this runs while packets are held.
 */
const isBase64 = (v: unknown): v is string =>
  typeof v === 'string' &&
  (v === '' ||
    (v.length % 4 === 0 &&
      (v.length > LONG_BASE64
        ? BASE64_EDGES.test(v.slice(0, 64)) && BASE64_EDGES.test(v.slice(-64))
        : Buffer.from(v, 'base64').toString('base64') === v)));
/**
 * Above this length only the ends and the length are checked: decoding and encoding a queue of
 * MiB again costs milliseconds while packets are held. The socket is root's only and its peers
 * are flowmig's own processes, so this catches mistakes (a truncated or wrong field), not forgery.
 */
const LONG_BASE64 = 64 * 1024;
const BASE64_EDGES = /^[A-Za-z0-9+/]*={0,2}$/;

/** Problems with a value that should be a `TcpSocketState` (empty when it looks like one). */
export function socketStateProblems(v: unknown, where: string): string[] {
  if (!isObject(v)) return [`${where} is not an object`];
  const problems: string[] = [];
  if (v.version !== 1) problems.push(`${where}.version is not 1`);
  for (const side of ['local', 'peer'] as const) {
    const e = v[side];
    if (!isObject(e) || typeof e.address !== 'string' || !isUint(e.port, 65_535))
      problems.push(`${where}.${side} is not an {address, port}`);
  }
  for (const k of [
    'sendSeq',
    'recvSeq',
    'unsent',
    'mss',
    'timestamp',
    'options',
    'sndWscale',
    'rcvWscale',
  ]) {
    if (!isUint(v[k])) problems.push(`${where}.${k} is not a non-negative integer`);
  }
  for (const k of ['sendQueue', 'recvQueue']) {
    const q = v[k];
    if (!isBase64(q)) problems.push(`${where}.${k} is not base64`);
  }
  const w = v.window;
  if (
    !isObject(w) ||
    !['sndWl1', 'sndWnd', 'maxWindow', 'rcvWnd', 'rcvWup'].every((k) => isUint(w[k]))
  )
    problems.push(`${where}.window is not a repair window`);
  return problems;
}

/** Problems with a value that should be a `MigratingConnection` (empty when it looks like one). */
export function migratingProblems(v: unknown, where: string): string[] {
  if (!isObject(v)) return [`${where} is not an object`];
  const problems: string[] = [];
  if (typeof v.id !== 'string' || v.id === '') problems.push(`${where}.id is not a string`);
  problems.push(...socketStateProblems(v.socket, `${where}.socket`));
  if (!('app' in v)) problems.push(`${where}.app is missing`);
  if (!isBase64(v.pendingInput)) problems.push(`${where}.pendingInput is not base64`);
  for (const k of ['bytesIn', 'bytesOut'])
    if (v[k] !== undefined && !isUint(v[k])) problems.push(`${where}.${k} is not a count`);
  return problems;
}

function filterProblems(v: unknown): string[] {
  if (!isObject(v)) return ['filter is not an object'];
  const problems: string[] = [];
  if (v.peerAddress !== undefined && typeof v.peerAddress !== 'string')
    problems.push('filter.peerAddress is not a string');
  if (v.ids !== undefined && !isStringArray(v.ids))
    problems.push('filter.ids is not a string list');
  if (v.peerAddress === undefined && v.ids === undefined)
    problems.push('filter names neither peerAddress nor ids');
  return problems;
}

/** Parses and checks one request line; never throws. */
export function parseRequest(line: string): ParsedRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, id: null, error: 'not JSON' };
  }
  return checkRequest(v);
}

/** Checks one request (parsed JSON, see rpc/frames.ts); never throws. */
export function checkRequest(v: unknown): ParsedRequest {
  if (!isObject(v)) return { ok: false, id: null, error: 'not a JSON object' };
  if (!isUint(v.id)) return { ok: false, id: null, error: 'id is not a non-negative integer' };
  const id = v.id;
  const bad = (problems: string[]): ParsedRequest => ({
    ok: false,
    id,
    error: `bad ${String(v.op)} request: ${problems.join('; ')}`,
  });
  if (typeof v.op !== 'string' || !OPS.includes(v.op as ServeOp))
    return { ok: false, id, error: `unknown op ${JSON.stringify(v.op ?? null)}` };
  const op = v.op as ServeOp;
  switch (op) {
    case 'hello':
    case 'status':
    case 'shutdown':
      return { ok: true, request: { id, op } };
    case 'prepare': {
      const problems = filterProblems(v.filter);
      if (v.timeoutMs !== undefined && !isUint(v.timeoutMs, 60_000))
        problems.push('timeoutMs is not an integer 0…60000');
      if (problems.length) return bad(problems);
      return {
        ok: true,
        request: {
          id,
          op,
          filter: v.filter as ConnectionFilter,
          ...(v.timeoutMs === undefined ? {} : { timeoutMs: v.timeoutMs as number }),
        },
      };
    }
    case 'checkpoint':
    case 'resume':
    case 'abort':
      if (!isStringArray(v.ids)) return bad(['ids is not a string list']);
      return { ok: true, request: { id, op, ids: v.ids } };
    case 'restore': {
      const problems: string[] = [];
      if (!Array.isArray(v.connections)) problems.push('connections is not a list');
      else
        for (const [i, c] of v.connections.entries())
          problems.push(...migratingProblems(c, `connections[${i}]`));
      if (v.localAddress !== undefined && typeof v.localAddress !== 'string')
        problems.push('localAddress is not a string');
      if (problems.length) return bad(problems.slice(0, 5));
      return {
        ok: true,
        request: {
          id,
          op,
          connections: v.connections as MigratingConnection[],
          ...(v.localAddress === undefined ? {} : { localAddress: v.localAddress as string }),
        },
      };
    }
  }
}
