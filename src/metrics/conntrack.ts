// Parses `conntrack -L [-o extended,id]` and `conntrack -E [-o timestamp]` lines into typed entries.
import { epochMs } from './epoch.js';
import { type LineSource, type ScanCounts, scanLines, scanText } from './lines.js';

/** One direction of a connection as conntrack prints it. */
export interface ConntrackTuple {
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  /** ICMP type, code and echo identifier. */
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
}

export type ConntrackEvent = 'NEW' | 'UPDATE' | 'DESTROY';

export interface ConntrackRecord {
  /** Event time (epoch ms) from `-E -o timestamp`. */
  readonly tMs?: number;
  /** `-E` only. */
  readonly event?: ConntrackEvent;
  /** Layer-3 family from `-o extended` (`ipv4`, `ipv6`). */
  readonly family?: string;
  /** `tcp`, `udp`, `icmpv6`, `icmp`, `unknown`, ... and its number. */
  readonly protocol: string;
  readonly protocolNumber: number;
  /** Seconds left before the entry expires, as printed (some kernels leave it out of DESTROY events). */
  readonly timeout?: number;
  /** Protocol state (TCP's ESTABLISHED, CLOSE_WAIT, ...; SCTP, DCCP); absent for UDP and ICMP. */
  readonly state?: string;
  readonly original: ConntrackTuple;
  readonly reply: ConntrackTuple;
  /** Bracketed flags in order: UNREPLIED, ASSURED, OFFLOAD, USERSPACE, ... */
  readonly flags: readonly string[];
  readonly mark?: number;
  readonly zone?: number;
  readonly use?: number;
  /** The kernel's entry id (`-o id`), unrelated to the ICMP id of the tuples. */
  readonly entryId?: number;
  /** Every other key=value (portid, progname, secctx, zone-orig, delta-time, ...). */
  readonly extra: Readonly<Record<string, string>>;
}

const HEAD =
  /^\s*(?:\[(\d+)\.(\d+)\]\s*)?(?:\[(NEW|UPDATE|DESTROY)\]\s*)?(?:(ipv4|ipv6)\s+\d+\s+)?([a-z][a-z0-9-]*)\s+(\d+)\s+(?:(\d+)\s+)?(.*)$/;
const TOKEN = /\[[^\]]*\]|\S+/g;
const TUPLE_KEYS = new Set(['dst', 'sport', 'dport', 'type', 'code', 'id']);
const NUMERIC = new Set(['sport', 'dport', 'type', 'code', 'id']);

type MutableTuple = { src: string; dst: string } & Record<string, string | number>;

/** One entry or event line, or undefined for anything else (e.g. the "N flow entries" summary). */
export function parseConntrackLine(line: string): ConntrackRecord | undefined {
  const m = HEAD.exec(line);
  if (!m) return undefined;
  const [, sec, frac, event, family, protocol = '', protoNum, timeout, rest = ''] = m;
  const tuples: MutableTuple[] = [];
  const flags: string[] = [];
  const extra: Record<string, string> = {};
  let state: string | undefined;
  let mark: number | undefined;
  let zone: number | undefined;
  let use: number | undefined;
  let entryId: number | undefined;
  // A tuple runs from its src= to the first key that is not a tuple key (or repeats one): after
  // both tuples, `id=` is the entry id, not an ICMP id.
  let open: MutableTuple | undefined;
  for (const [token] of rest.matchAll(TOKEN)) {
    if (token.startsWith('[')) {
      // [UNREPLIED], [ASSURED], ...; with timestamps on, [start=Tue Nov 25 09:22:40 2026] too.
      const inner = token.slice(1, -1);
      const eq = inner.indexOf('=');
      if (eq < 0) flags.push(inner);
      else extra[inner.slice(0, eq)] = inner.slice(eq + 1);
      open = undefined;
      continue;
    }
    const eq = token.indexOf('=');
    if (eq < 0) {
      if (tuples.length > 0 || state !== undefined || !/^[A-Z_]+$/.test(token)) return undefined;
      state = token;
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (key === 'src' && tuples.length < 2) {
      open = { src: value, dst: '' };
      tuples.push(open);
      continue;
    }
    if (open && TUPLE_KEYS.has(key) && !(key === 'dst' ? open.dst !== '' : key in open)) {
      open[key] = NUMERIC.has(key) ? Number(value) : value;
      continue;
    }
    open = undefined;
    if (key === 'mark') mark = Number(value);
    else if (key === 'zone') zone = Number(value);
    else if (key === 'use') use = Number(value);
    else if (key === 'id' && tuples.length === 2) entryId = Number(value);
    else extra[key] = value;
  }
  const [original, reply] = tuples;
  if (!original || !reply || original.dst === '' || reply.dst === '') return undefined;
  return {
    ...(sec === undefined ? {} : { tMs: epochMs(sec, frac ?? '') }),
    ...(event === undefined ? {} : { event: event as ConntrackEvent }),
    ...(family === undefined ? {} : { family }),
    protocol,
    protocolNumber: Number(protoNum),
    ...(timeout === undefined ? {} : { timeout: Number(timeout) }),
    ...(state === undefined ? {} : { state }),
    original: original as ConntrackTuple,
    reply: reply as ConntrackTuple,
    flags,
    ...(mark === undefined ? {} : { mark }),
    ...(zone === undefined ? {} : { zone }),
    ...(use === undefined ? {} : { use }),
    ...(entryId === undefined ? {} : { entryId }),
    extra,
  };
}

/** conntrack's summary on stderr (`conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.`). */
function isChatter(line: string): boolean {
  return /^conntrack v[\d.]+ \(conntrack-tools\)/.test(line);
}

/** Every entry or event of a listing, in order, with the counts of what was skipped. */
export function parseConntrack(text: string): {
  entries: ConntrackRecord[];
  counts: ScanCounts;
} {
  const { records, counts } = scanText(text, parseConntrackLine, isChatter);
  return { entries: records, counts };
}

/** Streams `conntrack -E` output as it comes: each event goes to `visit`. */
export function scanConntrack(
  lines: LineSource,
  visit: (entry: ConntrackRecord) => void,
): Promise<ScanCounts> {
  return scanLines(lines, parseConntrackLine, visit, isChatter);
}
