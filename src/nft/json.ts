// nftables objects as `nft -j` lists them (nft 1.0.6), and what readers of that output compare:
// the shape of a rule or chain, whether a table holds exactly its declared rules and chains.
import {
  type Chain,
  type CtState,
  type Expr,
  type NftSet,
  priorityValue,
  type Rule,
  type Statement,
  type Table,
} from './objects.js';

type Json = Record<string, unknown>;

export function exprJson(e: Expr): unknown {
  switch (e.kind) {
    case 'payload':
      return { payload: { protocol: 'ip6', field: e.field } };
    case 'ctOriginal':
      return { ct: { key: `ip6 ${e.field}`, dir: 'original' } };
    case 'concat':
      return { concat: e.parts.map(exprJson) };
    case 'map':
      return { map: { key: exprJson(e.key), data: `@${e.map}` } };
  }
}

/** nft lists conntrack states in the order of their bits. */
const STATE_ORDER: readonly CtState[] = ['invalid', 'established', 'related', 'new', 'untracked'];

export interface Counter {
  readonly packets: number;
  readonly bytes: number;
}

function statementJson(s: Statement, counter: Counter): Json {
  switch (s.kind) {
    case 'l4proto':
      return { match: { op: s.op, left: { meta: { key: 'l4proto' } }, right: s.proto } };
    case 'ctState': {
      const states = STATE_ORDER.filter((x) => s.states.includes(x));
      return {
        match: {
          op: 'in',
          left: { ct: { key: 'state' } },
          right: states.length === 1 ? states[0] : states,
        },
      };
    }
    case 'ctStatus':
      return { match: { op: 'in', left: { ct: { key: 'status' } }, right: s.status } };
    case 'lookup':
      return { match: { op: '==', left: exprJson(s.key), right: `@${s.set}` } };
    case 'dnat':
      return { dnat: { addr: exprJson(s.to) } };
    case 'snat':
      return { snat: { addr: exprJson(s.to) } };
    case 'notrack':
      return { notrack: null };
    case 'mangle':
      return {
        mangle: { key: exprJson({ kind: 'payload', field: s.field }), value: exprJson(s.value) },
      };
    case 'mark':
      return { mangle: { key: { meta: { key: 'mark' } }, value: s.value } };
    case 'counter':
      return { counter: { packets: counter.packets, bytes: counter.bytes } };
  }
}

/** A rule's expressions as `nft -j` lists them; `counters` gives each counter's values in order. */
export function ruleJson(rule: Rule, counters: readonly Counter[] = []): Json[] {
  let n = 0;
  return rule.map((s) => statementJson(s, s.kind === 'counter' ? (counters[n++] ?? ZERO) : ZERO));
}

const ZERO: Counter = { packets: 0, bytes: 0 };

/** A chain's `nft -j` item (without its rules, which are items of their own). */
export function chainJson(table: Table, chain: Chain, handle: number): Json {
  const item: Json = { family: table.family, table: table.name, name: chain.name, handle };
  if (chain.base) {
    item.type = chain.base.type;
    item.hook = chain.base.hook;
    item.prio = priorityValue(chain.base.priority);
    item.policy = chain.base.policy;
  }
  return item;
}

/** A set's or map's `nft -j` item without its elements. */
export function setJson(table: Table, set: NftSet, handle: number): Json {
  const item: Json = {
    family: table.family,
    name: set.name,
    table: table.name,
    type: set.key.length === 1 ? set.key[0] : set.key,
    handle,
  };
  if (set.value) item.map = set.value;
  if (set.flags?.length) item.flags = set.flags;
  return item;
}

/** Element parts from `nft -j` output: a plain value, or the fields of a concatenation. */
export function jsonParts(k: unknown): string[] {
  if (typeof k === 'string') return [k];
  const concat = (k as { concat?: unknown[] } | null)?.concat;
  return Array.isArray(concat) ? concat.map(String) : [];
}

/**
 * A rule or chain of `nft -j` output reduced to what makes it what it is: its chain and
 * expressions (counters without their values), or a chain's type, hook and priority. Two rules
 * with one shape do the same thing; handles and counts do not matter.
 */
export function nftShape(item: Record<string, unknown>, kind: 'rule' | 'chain'): string {
  if (kind === 'chain') return `${item.name} ${item.type} ${item.hook} ${item.prio}`;
  const expr = ((item.expr ?? []) as Record<string, unknown>[]).map((x) =>
    'counter' in x ? { counter: null } : x,
  );
  return `${item.chain} ${JSON.stringify(expr)}`;
}

export interface Shapes {
  readonly rules: readonly string[];
  readonly chains: readonly string[];
}

/** The shapes of a declared table's rules and chains, as `nft -j` will list them. */
export function expectedShapes(table: Table): Shapes {
  return {
    rules: table.chains.flatMap((c) =>
      c.rules.map((r) => nftShape({ chain: c.name, expr: ruleJson(r) }, 'rule')),
    ),
    chains: table.chains.map((c) => nftShape(chainJson(table, c, 0), 'chain')),
  };
}

/**
 * Counts what in a table is not one of the expected rules and chains (each expected once): a
 * foreign or changed rule, a second copy of a rule, a foreign chain. Also says whether every
 * expected rule and chain is there.
 */
export function compareShapes(
  items: readonly Record<string, unknown>[],
  table: string,
  expected: Shapes,
): { complete: boolean; foreign: number } {
  const want = { rule: new Set(expected.rules), chain: new Set(expected.chains) };
  const seen = { rule: new Set<string>(), chain: new Set<string>() };
  let foreign = 0;
  for (const item of items)
    for (const kind of ['rule', 'chain'] as const) {
      const x = item[kind] as Record<string, unknown> | undefined;
      if (x?.table !== table) continue;
      const shape = nftShape(x, kind);
      if (want[kind].has(shape) && !seen[kind].has(shape)) seen[kind].add(shape);
      else foreign++;
    }
  const complete = seen.rule.size === want.rule.size && seen.chain.size === want.chain.size;
  return { complete, foreign };
}

/** JSON as nft prints it: one line, ", " between items and ": " after keys. */
export function nftStyle(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(nftStyle).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${nftStyle(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}
