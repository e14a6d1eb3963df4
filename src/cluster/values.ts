// The values stored under the cluster's keys, as zod schemas: a flow, a live translator, an
// applied revision. Parsing never throws: a bad value becomes a problem naming its key (pure).
import { z } from 'zod';
import { TCP_POLICIES } from '../lab/schema.js';
import { canonicalAddress } from '../net/ipv6.js';

const address = z
  .string()
  .refine((s) => canonicalAddress(s) === s, 'is not an IPv6 address in canonical form');

/**
 * A flow as the cluster stores it: who initiates it, who answers it now, what a migration does to
 * its TCP connections, and `generation`, bumped by every migration (so a host can tell a replayed
 * value from a new one without comparing revisions). Unknown fields are ignored, so a newer
 * writer's additions do not make older readers skip the flow.
 */
export const flowValueSchema = z.object({
  initiator: address,
  responder: address,
  tcp: z.enum(TCP_POLICIES),
  generation: z.number().int().nonnegative(),
});
export type FlowValue = z.infer<typeof flowValueSchema>;

/** A translator's registration, under its lease: gone when the host stops keeping it alive. */
export const translatorValueSchema = z.object({
  host: z.string().min(1),
  pid: z.number().int().positive(),
  /** ISO 8601. */
  startedAt: z.iso.datetime(),
});
export type TranslatorValue = z.infer<typeof translatorValueSchema>;

/** A key whose value could not be read, with why. */
export interface KeyProblem {
  readonly key: string;
  readonly problem: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: KeyProblem };

/** Parses JSON text with a schema; every issue on one line, prefixed by its field. */
export function parseValue<T>(schema: z.ZodType<T>, key: string, text: string): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: { key, problem: `not JSON: ${excerpt(text)}` } };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map(
    (i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`,
  );
  return { ok: false, problem: { key, problem: issues.join('; ') } };
}

export function parseFlow(key: string, text: string): Parsed<FlowValue> {
  return parseValue(flowValueSchema, key, text);
}

export function parseTranslator(key: string, text: string): Parsed<TranslatorValue> {
  return parseValue(translatorValueSchema, key, text);
}

/** An applied key's value: a revision in decimal. */
export function parseApplied(key: string, text: string): Parsed<number> {
  if (/^(0|[1-9]\d{0,15})$/.test(text)) return { ok: true, value: Number(text) };
  return { ok: false, problem: { key, problem: `not a revision: ${excerpt(text)}` } };
}

/** The stored text of a value (JSON with a stable field order, or a revision). */
export function flowText(v: FlowValue): string {
  return JSON.stringify({
    initiator: v.initiator,
    responder: v.responder,
    tcp: v.tcp,
    generation: v.generation,
  });
}

export function translatorText(v: TranslatorValue): string {
  return JSON.stringify({ host: v.host, pid: v.pid, startedAt: v.startedAt });
}

function excerpt(text: string): string {
  const one = JSON.stringify(text);
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
