// nft script text for map and set edits (the program fallback of the agent's netlink batches).
import type { MapEdit, NetfilterApplyOp } from './engine.js';

function element(parts: readonly string[], withValue: boolean, timeoutMs?: number): string {
  const key = withValue ? parts.slice(0, -1) : parts;
  const text = `${key.join(' . ')}${timeoutMs !== undefined ? ` timeout ${timeoutMs}ms` : ''}`;
  return withValue ? `${text} : ${parts[parts.length - 1] ?? ''}` : text;
}

/**
 * nft script lines for the edits, in the order MapEdit documents: all deletes, all adds, then the
 * elements that must be absent are added and deleted. `nft -f` commits the script as one.
 */
export function renderEdits(edits: readonly MapEdit[], defaultTable: string): string[] {
  const lines: string[] = [];
  const where = (e: MapEdit) => `ip6 ${e.table ?? defaultTable} ${e.map}`;
  const list = (keys: readonly (readonly string[])[], withValue: boolean, timeoutMs?: number) =>
    keys.map((k) => element(k, withValue, timeoutMs)).join(', ');
  for (const e of edits)
    if (e.remove.length) lines.push(`delete element ${where(e)} { ${list(e.remove, false)} }`);
  for (const e of edits)
    if (e.add.length) lines.push(`add element ${where(e)} { ${list(e.add, !e.set, e.timeoutMs)} }`);
  for (const e of edits) {
    if (!e.absent?.length) continue;
    // A set element has no value; a map element needs one to be added: its own key serves.
    const keys = e.set ? e.absent : e.absent.map((k) => [...k, k[k.length - 1] ?? '']);
    lines.push(`add element ${where(e)} { ${list(keys, !e.set)} }`);
    lines.push(`delete element ${where(e)} { ${list(e.absent, false)} }`);
  }
  return lines;
}

/** An `nft -f -` operation in the translator. */
export function nftOp(
  netns: string,
  lines: readonly string[],
  summary: string,
  edits?: readonly MapEdit[],
): NetfilterApplyOp {
  return {
    kind: 'netfilterApply',
    netns,
    argv: ['nft', '-f', '-'],
    stdin: `${lines.join('\n')}\n`,
    summary,
    ...(edits ? { edits } : {}),
  };
}

/** Two `nft -f -` operations in one namespace as one (one transaction, one program run). */
export function joinNftOps(a: NetfilterApplyOp, b: NetfilterApplyOp): NetfilterApplyOp {
  if (a.netns !== b.netns || a.argv.join(' ') !== 'nft -f -' || b.argv.join(' ') !== 'nft -f -')
    throw new Error('only nft -f - operations in one namespace can be joined');
  const edits = a.edits && b.edits ? [...a.edits, ...b.edits] : undefined;
  return {
    kind: 'netfilterApply',
    netns: a.netns,
    argv: a.argv,
    stdin: a.stdin + b.stdin,
    summary: `${a.summary}; ${b.summary}`,
    ...(edits ? { edits } : {}),
  };
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

/**
 * Counts what in a table is not one of the expected rules and chains (each expected once): a
 * foreign or changed rule, a second copy of a rule, a foreign chain. Also says whether every
 * expected rule and chain is there.
 */
export function compareShapes(
  items: readonly Record<string, unknown>[],
  table: string,
  expected: { rules: readonly string[]; chains: readonly string[] },
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
