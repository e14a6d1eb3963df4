// An in-memory nftables ruleset: applies transactions as the kernel does (all or nothing, the
// kernel's errors), lists a table as `nft -j` does, dumps itself as nft text, and runs a chain's
// rules on a packet (the tracer in engines/fake.ts walks the hooks).
import { type Counter, chainJson, nftStyle, ruleJson, setJson } from './json.js';
import {
  type Chain,
  type CtState,
  type Element,
  type Expr,
  type Hook,
  type NftSet,
  priorityValue,
  type Rule,
  type SetRef,
  type Table,
  type TableRef,
} from './objects.js';
import { renderTransaction } from './text.js';
import { addElements, type Transaction, type TxOp } from './transaction.js';

/** A transaction the kernel refuses; the message is what `nft -f` prints. */
export class NftError extends Error {}

interface ElementState {
  readonly key: readonly string[];
  readonly value: string | undefined;
  /** The timeout it was added with (0: none). */
  readonly timeoutMs: number;
  /** When it expires on the caller's clock (Infinity: never). */
  readonly expiresAt: number;
}

interface SetState {
  readonly decl: NftSet;
  readonly handle: number;
  readonly elements: Map<string, ElementState>;
}

interface RuleState {
  readonly rule: Rule;
  readonly handle: number;
  /** One per counter statement, in order. */
  readonly counters: { packets: number; bytes: number }[];
}

interface ChainState {
  readonly decl: Chain;
  readonly handle: number;
  readonly rules: RuleState[];
}

interface TableState {
  readonly ref: TableRef;
  readonly ruleSemicolons: boolean;
  readonly handle: number;
  readonly sets: Map<string, SetState>;
  readonly chains: Map<string, ChainState>;
}

const ENOENT = 'No such file or directory';
const EEXIST = 'File exists';
const EINVAL = 'Invalid argument';

const tableKey = (t: TableRef) => `${t.family} ${t.name}`;
const elementKey = (key: readonly string[]) => key.join(' . ');

/** A packet as a chain sees it; rules may change its addresses, mark and tracking. */
export interface PacketView {
  src: string;
  dst: string;
  readonly proto: 'icmpv6' | 'udp' | 'tcp';
  readonly length: number;
  mark: number;
  /** Set by `notrack`: conntrack leaves the packet alone. */
  notrack: boolean;
  /** What conntrack knows, once it has seen the packet. */
  ct?: { readonly state: CtState; readonly dnat: boolean; readonly originalDst: string };
  /** Set by a `dnat`/`snat` statement (a nat chain's verdict for a new connection). */
  dnat?: string;
  snat?: string;
  /** Set when a rule rewrote an address (`ip6 saddr set ...`). */
  rewritten?: true;
}

/** A hooked chain: where it sits in the packet path. */
export interface HookedChain {
  readonly table: TableRef;
  readonly chain: string;
  readonly type: 'nat' | 'filter';
  readonly priority: number;
}

export class FakeRuleset {
  private tables = new Map<string, TableState>();
  private handles = 1;

  /**
   * Applies a transaction at time `nowMs` (element timeouts run on this clock), all or nothing:
   * throws NftError, leaving the ruleset as it was, when the kernel would refuse any verb.
   */
  apply(tx: Transaction, nowMs = 0): void {
    this.expire(nowMs);
    const undo: (() => void)[] = [];
    try {
      for (const op of tx) this.applyOp(op, nowMs, undo);
    } catch (error) {
      for (const u of undo.reverse()) u();
      throw error;
    }
  }

  private applyOp(op: TxOp, nowMs: number, undo: (() => void)[]): void {
    /** Fails as nft does: the kernel's reason, then the command (with the one element at fault). */
    const fail = (reason: string, element?: Element): never => {
      const shown: TxOp = element && op.object === 'element' ? { ...op, elements: [element] } : op;
      throw new NftError(
        `Error: Could not process rule: ${reason}\n${renderTransaction([shown]).trimEnd()}`,
      );
    };
    if (op.object === 'table') {
      const key = tableKey(op.table);
      const before = this.tables.get(key);
      if (op.verb === 'delete') {
        const gone = before ?? fail(ENOENT);
        this.tables.delete(key);
        undo.push(() => this.tables.set(key, gone));
        return;
      }
      const t = op.table;
      // Declaring into a table that is there changes it in place: undo restores a copy.
      const saved = before ? cloneTable(before) : undefined;
      undo.push(() => {
        if (saved) this.tables.set(key, saved);
        else this.tables.delete(key);
      });
      const state: TableState = before ?? {
        ref: { family: t.family, name: t.name },
        ruleSemicolons: t.ruleSemicolons === true,
        handle: this.handles++,
        sets: new Map(),
        chains: new Map(),
      };
      this.tables.set(key, state);
      for (const s of t.sets) {
        const there = state.sets.get(s.name);
        if (there && JSON.stringify(there.decl) !== JSON.stringify(s)) fail(EEXIST);
        if (!there)
          state.sets.set(s.name, { decl: s, handle: this.handles++, elements: new Map() });
      }
      for (const c of t.chains) {
        let chain = state.chains.get(c.name);
        if (chain && JSON.stringify(chain.decl.base) !== JSON.stringify(c.base)) fail(EEXIST);
        if (!chain) {
          chain = {
            decl: { name: c.name, ...(c.base ? { base: c.base } : {}), rules: [] },
            handle: this.handles++,
            rules: [],
          };
          state.chains.set(c.name, chain);
        }
        // A declared chain's rules are appended to what it holds (nft -f does the same).
        for (const rule of c.rules) {
          const counters = rule
            .filter((s) => s.kind === 'counter')
            .map(() => ({ packets: 0, bytes: 0 }));
          chain.rules.push({ rule, handle: this.handles++, counters });
        }
      }
      return;
    }
    const set = this.setOf(op.set) ?? fail(ENOENT);
    if (set.decl.value ? op.set.kind !== 'map' : op.set.kind !== 'set') fail(ENOENT);
    const saved = new Map(set.elements);
    undo.push(() => {
      set.elements.clear();
      for (const [k, v] of saved) set.elements.set(k, v);
    });
    if (op.object === 'set') {
      set.elements.clear();
      return;
    }
    for (const e of op.elements) {
      const key = elementKey(e.key);
      if (e.key.length !== set.decl.key.length) fail(EINVAL, e);
      const there = set.elements.get(key);
      if (op.verb === 'delete') {
        if (!there) fail(ENOENT, e);
        set.elements.delete(key);
        continue;
      }
      if ((e.value !== undefined) !== (set.decl.value !== undefined)) fail(EINVAL, e);
      if (e.timeoutMs !== undefined && !set.decl.flags?.includes('timeout')) fail(EINVAL, e);
      if (there) {
        // The same element again: a map's value must be the same. Its timeout restarts only if
        // the timeout changes (as kernel 6.18 does); none given means none.
        if (there.value !== e.value) fail(EEXIST, e);
        if (there.timeoutMs === (e.timeoutMs ?? 0)) continue;
      }
      set.elements.set(key, {
        key: e.key,
        value: e.value,
        timeoutMs: e.timeoutMs ?? 0,
        expiresAt: e.timeoutMs ? nowMs + e.timeoutMs : Number.POSITIVE_INFINITY,
      });
    }
  }

  /** Elements whose time has come are gone (the kernel's garbage collection, done on reads). */
  private expire(nowMs: number): void {
    for (const t of this.tables.values())
      for (const s of t.sets.values())
        for (const [k, e] of s.elements) if (e.expiresAt <= nowMs) s.elements.delete(k);
  }

  private setOf(ref: { family: string; name: string; set: string }): SetState | undefined {
    return this.tables.get(`${ref.family} ${ref.name}`)?.sets.get(ref.set);
  }

  has(t: TableRef): boolean {
    return this.tables.has(tableKey(t));
  }

  /** The elements of a set or map at `nowMs`, with their time left (a timeout, when they have one). */
  elements(ref: { family: TableRef['family']; name: string; set: string }, nowMs = 0): Element[] {
    this.expire(nowMs);
    return [...(this.setOf(ref)?.elements.values() ?? [])].map((e) => ({
      key: e.key,
      ...(e.value !== undefined ? { value: e.value } : {}),
      ...(e.timeoutMs ? { timeoutMs: e.expiresAt - nowMs } : {}),
    }));
  }

  /** What `nft -j list table` prints, or undefined when there is no such table. */
  list(t: TableRef, nowMs = 0): string | undefined {
    this.expire(nowMs);
    const state = this.tables.get(tableKey(t));
    if (!state) return undefined;
    const table: Table = { ...state.ref, sets: [], chains: [] };
    const items: Record<string, unknown>[] = [
      { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
      { table: { family: t.family, name: t.name, handle: state.handle } },
    ];
    for (const s of state.sets.values()) {
      const item = setJson(table, s.decl, s.handle);
      if (s.elements.size > 0)
        item.elem = [...s.elements.values()].map((e) => elementJson(e, nowMs));
      items.push({ [s.decl.value ? 'map' : 'set']: item });
    }
    for (const c of state.chains.values())
      items.push({ chain: chainJson(table, c.decl, c.handle) });
    for (const c of state.chains.values())
      for (const r of c.rules)
        items.push({
          rule: {
            family: t.family,
            table: t.name,
            chain: c.decl.name,
            handle: r.handle,
            expr: ruleJson(r.rule, r.counters as Counter[]),
          },
        });
    return nftStyle({ nftables: items });
  }

  /**
   * The ruleset as nft text: each table declared whole, then its elements (with the timeouts they
   * were added with). Loaded into an empty ruleset, it makes this one again.
   */
  dump(nowMs = 0): string {
    this.expire(nowMs);
    const tx: TxOp[] = [];
    for (const state of this.tables.values()) {
      const sets = [...state.sets.values()];
      tx.push({
        verb: 'add',
        object: 'table',
        table: {
          ...state.ref,
          ...(state.ruleSemicolons ? { ruleSemicolons: true } : {}),
          sets: sets.map((s) => s.decl),
          chains: [...state.chains.values()].map((c) => ({
            ...c.decl,
            rules: c.rules.map((r) => r.rule),
          })),
        },
      });
      for (const s of sets) {
        if (s.elements.size === 0) continue;
        const ref: SetRef = { ...state.ref, set: s.decl.name, kind: s.decl.value ? 'map' : 'set' };
        tx.push(
          addElements(
            ref,
            [...s.elements.values()].map((e) => ({
              key: e.key,
              ...(e.timeoutMs ? { timeoutMs: e.timeoutMs } : {}),
              ...(e.value !== undefined ? { value: e.value } : {}),
            })),
          ),
        );
      }
    }
    return tx.length ? renderTransaction(tx) : '';
  }

  /** Every base chain on `hook`, in the order packets meet them (priority). */
  hooked(hook: Hook): HookedChain[] {
    const out: HookedChain[] = [];
    for (const t of this.tables.values())
      for (const c of t.chains.values())
        if (c.decl.base?.hook === hook)
          out.push({
            table: t.ref,
            chain: c.decl.name,
            type: c.decl.base.type,
            priority: priorityValue(c.decl.base.priority),
          });
    return out.sort((a, b) => a.priority - b.priority);
  }

  /**
   * Runs a chain's rules on the packet at `nowMs`, in order: a match that fails ends its rule, a
   * nat statement ends the chain. Counters count what reaches them.
   */
  run(at: HookedChain, p: PacketView, nowMs = 0): void {
    this.expire(nowMs);
    const t = this.tables.get(tableKey(at.table));
    const chain = t?.chains.get(at.chain);
    if (!t || !chain) return;
    for (const r of chain.rules) {
      const verdict = this.runRule(t, r, p);
      if (verdict === 'stop') return;
    }
  }

  private runRule(t: TableState, r: RuleState, p: PacketView): 'next' | 'stop' {
    let counter = 0;
    for (const s of r.rule) {
      switch (s.kind) {
        case 'l4proto':
          if ((p.proto === s.proto) !== (s.op === '==')) return 'next';
          break;
        case 'ctState': {
          const state: CtState = p.notrack ? 'untracked' : (p.ct?.state ?? 'new');
          if (!s.states.includes(state)) return 'next';
          break;
        }
        case 'ctStatus':
          if (!p.ct?.dnat) return 'next';
          break;
        case 'lookup': {
          const key = this.values(s.key, p);
          if (!key || !t.sets.get(s.set)?.elements.has(elementKey(key))) return 'next';
          break;
        }
        case 'dnat':
        case 'snat': {
          const [to] = this.values(s.to, p, t) ?? [];
          if (to === undefined) return 'next';
          if (s.kind === 'dnat') p.dnat = to;
          else p.snat = to;
          return 'stop';
        }
        case 'notrack':
          p.notrack = true;
          break;
        case 'mangle': {
          const [v] = this.values(s.value, p, t) ?? [];
          if (v === undefined) return 'next';
          p[s.field === 'saddr' ? 'src' : 'dst'] = v;
          p.rewritten = true;
          break;
        }
        case 'mark':
          p.mark = s.value;
          break;
        case 'counter': {
          const c = r.counters[counter++];
          if (c) {
            c.packets++;
            c.bytes += p.length;
          }
          break;
        }
      }
    }
    return 'next';
  }

  /** The values an expression reads from the packet (a concatenation gives several). */
  private values(e: Expr, p: PacketView, t?: TableState): string[] | undefined {
    switch (e.kind) {
      case 'payload':
        return [e.field === 'saddr' ? p.src : p.dst];
      case 'ctOriginal':
        return p.ct && !p.notrack ? [p.ct.originalDst] : undefined;
      case 'concat': {
        const out: string[] = [];
        for (const part of e.parts) {
          const v = this.values(part, p, t);
          if (!v) return undefined;
          out.push(...v);
        }
        return out;
      }
      case 'map': {
        const key = this.values(e.key, p, t);
        const value = key && t?.sets.get(e.map)?.elements.get(elementKey(key))?.value;
        return value === undefined ? undefined : [value];
      }
    }
  }
}

function elementJson(e: ElementState, nowMs: number): unknown {
  const key = e.key.length === 1 ? e.key[0] : { concat: e.key };
  if (e.value !== undefined) return [key, e.value];
  if (!e.timeoutMs) return key;
  // With a timeout: the element's timeout and time left, in seconds.
  return {
    elem: {
      val: key,
      timeout: e.timeoutMs / 1000,
      expires: Math.max(0, e.expiresAt - nowMs) / 1000,
    },
  };
}

function cloneTable(t: TableState): TableState {
  return {
    ...t,
    sets: new Map([...t.sets].map(([k, s]) => [k, { ...s, elements: new Map(s.elements) }])),
    chains: new Map(
      [...t.chains].map(([k, c]) => [
        k,
        {
          ...c,
          rules: c.rules.map((r) => ({ ...r, counters: r.counters.map((x) => ({ ...x })) })),
        },
      ]),
    ),
  };
}
