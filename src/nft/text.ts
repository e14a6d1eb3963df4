// The nft text renderer: a transaction as `nft -f -` input (nft commits the script as one).
import type {
  Chain,
  Element,
  Expr,
  NftSet,
  Priority,
  Rule,
  SetRef,
  Statement,
  Table,
} from './objects.js';
import type { Transaction, TxOp } from './transaction.js';

export function renderExpr(e: Expr): string {
  switch (e.kind) {
    case 'payload':
      return `ip6 ${e.field}`;
    case 'ctOriginal':
      return `ct original ip6 ${e.field}`;
    case 'concat':
      return e.parts.map(renderExpr).join(' . ');
    case 'map':
      return `${renderExpr(e.key)} map @${e.map}`;
  }
}

function renderStatement(s: Statement): string {
  switch (s.kind) {
    case 'l4proto':
      return s.op === '==' ? `meta l4proto ${s.proto}` : `meta l4proto != ${s.proto}`;
    case 'ctState':
      return `ct state ${s.states.join(',')}`;
    case 'ctStatus':
      return `ct status ${s.status}`;
    case 'lookup':
      return `${renderExpr(s.key)} @${s.set}`;
    case 'dnat':
      return `dnat to ${renderExpr(s.to)}`;
    case 'snat':
      return `snat to ${renderExpr(s.to)}`;
    case 'notrack':
      return 'notrack';
    case 'mangle':
      return `ip6 ${s.field} set ${renderExpr(s.value)}`;
    case 'mark':
      return `meta mark set 0x${s.value.toString(16)}`;
    case 'counter':
      return 'counter';
  }
}

export function renderRule(rule: Rule): string {
  return rule.map(renderStatement).join(' ');
}

export function renderPriority(p: Priority): string {
  const offset = p.offset ?? 0;
  if (offset === 0) return p.name;
  return `${p.name} ${offset < 0 ? '-' : '+'} ${Math.abs(offset)}`;
}

function renderSet(s: NftSet): string {
  const key = s.key.join(' . ');
  const flags = s.flags?.length ? ` flags ${s.flags.join(', ')};` : '';
  return s.value
    ? `map ${s.name} { type ${key} : ${s.value};${flags} }`
    : `set ${s.name} { type ${key};${flags} }`;
}

function renderChain(c: Chain, semicolons: boolean): string[] {
  const lines = [`  chain ${c.name} {`];
  if (c.base) {
    const b = c.base;
    lines.push(
      `    type ${b.type} hook ${b.hook} priority ${renderPriority(b.priority)}; policy ${b.policy};`,
    );
  }
  for (const r of c.rules) lines.push(`    ${renderRule(r)}${semicolons ? ';' : ''}`);
  lines.push('  }');
  return lines;
}

/** A table declared whole, as one block (`table ip6 x {}` when it declares nothing). */
export function renderTable(t: Table): string {
  const head = `table ${t.family} ${t.name}`;
  if (t.sets.length === 0 && t.chains.length === 0) return `${head} {}`;
  return [
    `${head} {`,
    ...t.sets.map((s) => `  ${renderSet(s)}`),
    ...t.chains.flatMap((c) => renderChain(c, t.ruleSemicolons === true)),
    '}',
  ].join('\n');
}

function renderElement(e: Element): string {
  const timeout = e.timeoutMs !== undefined ? ` timeout ${e.timeoutMs}ms` : '';
  const value = e.value !== undefined ? ` : ${e.value}` : '';
  return `${e.key.join(' . ')}${timeout}${value}`;
}

const where = (s: SetRef) => `${s.family} ${s.name} ${s.set}`;

/** One verb as nft text; undefined when it does nothing (an element verb with no elements). */
export function renderOp(op: TxOp): string | undefined {
  switch (op.object) {
    case 'table':
      return op.verb === 'add'
        ? renderTable(op.table)
        : `delete table ${op.table.family} ${op.table.name}`;
    case 'set':
      return `flush ${op.set.kind} ${where(op.set)}`;
    case 'element':
      if (op.elements.length === 0) return undefined;
      return `${op.verb} element ${where(op.set)} { ${op.elements.map(renderElement).join(', ')} }`;
  }
}

/** The transaction as `nft -f -` input: one line (or block) per verb, newline-terminated. */
export function renderTransaction(tx: Transaction): string {
  const lines: string[] = [];
  for (const op of tx) {
    const text = renderOp(op);
    if (text !== undefined) lines.push(text);
  }
  return `${lines.join('\n')}\n`;
}
