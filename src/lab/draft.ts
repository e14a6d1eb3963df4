// Lenient parsing: each field as its schema parsed it, or REFUSED, so checks across fields still run.
import { z } from 'zod';

/**
 * Stands for a value the schema refused. Its problem is already listed (by the schema), so a
 * check that needs the value is skipped instead of reporting the same mistake again.
 */
export const REFUSED: unique symbol = Symbol('refused');
export type Refused = typeof REFUSED;

/** `T` with every part the schema may refuse (values, objects, lists, items) allowed to be REFUSED. */
export type Draft<T> = T extends readonly (infer E)[]
  ? readonly Draft<E>[] | Refused
  : T extends object
    ? { readonly [K in keyof T]: Draft<T[K]> } | Refused
    : T | Refused;

export interface Parsed<T> {
  /** The whole value, when the schema accepted all of it. */
  readonly value: T | undefined;
  /** The schema's problems, one line each, prefixed with the path (`(top)` for the root). */
  readonly problems: string[];
  /** What each part parsed to, or REFUSED; equal to `value` when there is no problem. */
  readonly draft: Draft<T>;
}

/** Parses `raw` whole (for the problems and the value) and part by part (for the draft). */
export function parseLeniently<S extends z.ZodType>(schema: S, raw: unknown): Parsed<z.output<S>> {
  const whole = schema.safeParse(raw);
  if (whole.success) {
    return { value: whole.data, problems: [], draft: whole.data as Draft<z.output<S>> };
  }
  return {
    value: undefined,
    problems: whole.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`),
    draft: draftOf(schema, raw) as Draft<z.output<S>>,
  };
}

function draftOf(schema: z.ZodType, raw: unknown): unknown {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  // A wrapper only fills in a missing value; what it wraps refused what was there.
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
    return draftOf(schema.unwrap() as z.ZodType, raw);
  }
  if (schema instanceof z.ZodPrefault) {
    return draftOf(schema.unwrap() as z.ZodType, raw === undefined ? schema.def.defaultValue : raw);
  }
  // Fields one by one: an unknown key is the object's problem, not its fields'.
  if (schema instanceof z.ZodObject && isRecord(raw)) {
    const shape = schema.shape as Record<string, z.ZodType>;
    return Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, draftOf(s, raw[k])]));
  }
  // Items one by one, unless the list itself is wrong (too short, say): then none is trusted.
  if (
    schema instanceof z.ZodArray &&
    Array.isArray(raw) &&
    r.error.issues.every((i) => i.path.length > 0)
  ) {
    return raw.map((item: unknown) => draftOf(schema.element as z.ZodType, item));
  }
  return REFUSED;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
