// nftables objects as flowmig declares them: tables, sets and maps, base chains, rules written in
// a small typed rule language, and set elements. Plain data: the renderers (text.ts, netlink.ts),
// the `nft -j` forms (json.ts) and the in-memory ruleset (fake.ts) give them meaning.

export type Family = 'ip6';
/** The only data type flowmig's sets and maps use (16 bytes on the wire). */
export type DataType = 'ipv6_addr';

export interface TableRef {
  readonly family: Family;
  readonly name: string;
}

/** A named set, or a map when it has a value type. */
export interface NftSet {
  readonly name: string;
  readonly key: readonly DataType[];
  /** A map's value type; absent for a set. */
  readonly value?: DataType;
  /** `timeout`: elements may carry a timeout and expire. */
  readonly flags?: readonly 'timeout'[];
}

/** A set or map of a table, as verbs name it (`flush map ip6 flowmig dnat_to`). */
export interface SetRef extends TableRef {
  readonly set: string;
  readonly kind: 'set' | 'map';
}

export type Hook = 'prerouting' | 'forward' | 'postrouting';

/** A named priority and an offset from it (`raw - 10`). */
export interface Priority {
  readonly name: 'raw' | 'mangle' | 'dstnat' | 'srcnat';
  readonly offset?: number;
}

/** The numbers nft gives the named priorities of the ip6 family. */
export const PRIORITY_VALUES: Readonly<Record<Priority['name'], number>> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  srcnat: 100,
};

export function priorityValue(p: Priority): number {
  return PRIORITY_VALUES[p.name] + (p.offset ?? 0);
}

export interface BaseChain {
  readonly type: 'nat' | 'filter';
  readonly hook: Hook;
  readonly priority: Priority;
  readonly policy: 'accept';
}

export interface Chain {
  readonly name: string;
  /** Hooked into the packet path; absent for a regular chain. */
  readonly base?: BaseChain;
  readonly rules: readonly Rule[];
}

/** A rule: statements evaluated in order; a match that fails ends the rule. */
export type Rule = readonly Statement[];

/** A table declared whole: its sets and maps, then its chains. */
export interface Table extends TableRef {
  readonly sets: readonly NftSet[];
  readonly chains: readonly Chain[];
  /**
   * Its text ends every rule line with `;` (the flowmig table was written so; the late and hold
   * tables not). nft reads both alike; kept so each table's text stays what it always was.
   */
  readonly ruleSemicolons?: boolean;
}

/** An element of a set (key) or map (key and value); a timeout only in a set with `timeout`. */
export interface Element {
  readonly key: readonly string[];
  readonly value?: string;
  readonly timeoutMs?: number;
}

export type Ip6Field = 'saddr' | 'daddr';

/** Values a rule reads. */
export type Expr =
  /** `ip6 saddr` */
  | { readonly kind: 'payload'; readonly field: Ip6Field }
  /** `ct original ip6 daddr`: the destination the connection was opened to */
  | { readonly kind: 'ctOriginal'; readonly field: 'daddr' }
  /** `a . b` */
  | { readonly kind: 'concat'; readonly parts: readonly Expr[] }
  /** `key map @name`: the value of the map's element for the key */
  | { readonly kind: 'map'; readonly key: Expr; readonly map: string };

export type CtState = 'invalid' | 'established' | 'related' | 'new' | 'untracked';

export type Statement =
  /** `meta l4proto tcp`, `meta l4proto != tcp` */
  | { readonly kind: 'l4proto'; readonly op: '==' | '!='; readonly proto: 'tcp' }
  /** `ct state new,invalid` */
  | { readonly kind: 'ctState'; readonly states: readonly CtState[] }
  /** `ct status dnat` */
  | { readonly kind: 'ctStatus'; readonly status: 'dnat' }
  /** `key @set`: the key is an element of the set */
  | { readonly kind: 'lookup'; readonly key: Expr; readonly set: string }
  /** `dnat to <expr>` */
  | { readonly kind: 'dnat'; readonly to: Expr }
  /** `snat to <expr>` */
  | { readonly kind: 'snat'; readonly to: Expr }
  /** `notrack`: the packet is not tracked by conntrack */
  | { readonly kind: 'notrack' }
  /** `ip6 saddr set <expr>` */
  | { readonly kind: 'mangle'; readonly field: Ip6Field; readonly value: Expr }
  /** `meta mark set 0x...` */
  | { readonly kind: 'mark'; readonly value: number }
  | { readonly kind: 'counter' };

// Builders, so declarations read close to the nft text they render to.

export const ip6 = (field: Ip6Field): Expr => ({ kind: 'payload', field });
export const ctOriginal = (field: 'daddr'): Expr => ({ kind: 'ctOriginal', field });
export const concat = (...parts: Expr[]): Expr => ({ kind: 'concat', parts });
export const mapOf = (key: Expr, map: string): Expr => ({ kind: 'map', key, map });

export const l4proto = (op: '==' | '!=', proto: 'tcp'): Statement => ({
  kind: 'l4proto',
  op,
  proto,
});
export const ctState = (...states: CtState[]): Statement => ({ kind: 'ctState', states });
export const ctStatus = (status: 'dnat'): Statement => ({ kind: 'ctStatus', status });
export const lookup = (key: Expr, set: string): Statement => ({ kind: 'lookup', key, set });
export const dnat = (to: Expr): Statement => ({ kind: 'dnat', to });
export const snat = (to: Expr): Statement => ({ kind: 'snat', to });
export const notrack: Statement = { kind: 'notrack' };
export const mangle = (field: Ip6Field, value: Expr): Statement => ({
  kind: 'mangle',
  field,
  value,
});
export const markSet = (value: number): Statement => ({ kind: 'mark', value });
export const counter: Statement = { kind: 'counter' };

/** The ref of a table's set or map (its kind from its declaration). */
export function setRef(table: Table, name: string): SetRef {
  const s = table.sets.find((x) => x.name === name);
  if (!s) throw new Error(`table ${table.name} declares no set or map ${name}`);
  return { family: table.family, name: table.name, set: name, kind: s.value ? 'map' : 'set' };
}

export function tableRef(t: TableRef): TableRef {
  return { family: t.family, name: t.name };
}
