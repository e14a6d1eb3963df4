// A transaction: nftables verbs on typed objects, committed as one (by `nft -f -` or one netlink
// batch). Verbs apply in order; if one fails, none of them has any effect.
import type { Element, SetRef, Table, TableRef } from './objects.js';

export type TxOp =
  /**
   * Declares a table and what it holds (`table ip6 x { ... }`): creates it, or adds to the one
   * that is there (sets and chains that exist stay, rules are appended).
   */
  | { readonly verb: 'add'; readonly object: 'table'; readonly table: Table }
  | { readonly verb: 'delete'; readonly object: 'table'; readonly table: TableRef }
  /** Removes every element of a set or map. */
  | { readonly verb: 'flush'; readonly object: 'set'; readonly set: SetRef }
  /**
   * Adds elements (an element that is there with the same value stays; with another value the
   * transaction fails) or deletes them (a missing one fails the transaction).
   */
  | {
      readonly verb: 'add' | 'delete';
      readonly object: 'element';
      readonly set: SetRef;
      readonly elements: readonly Element[];
    };

export type Transaction = readonly TxOp[];

export const addTable = (table: Table): TxOp => ({ verb: 'add', object: 'table', table });

/** `table ip6 x {}`: the table exists afterwards (a delete that follows cannot fail). */
export const declareTable = (t: TableRef): TxOp =>
  addTable({ family: t.family, name: t.name, sets: [], chains: [] });

export const deleteTable = (t: TableRef): TxOp => ({
  verb: 'delete',
  object: 'table',
  table: { family: t.family, name: t.name },
});

export const flushSet = (set: SetRef): TxOp => ({ verb: 'flush', object: 'set', set });

export const addElements = (set: SetRef, elements: readonly Element[]): TxOp => ({
  verb: 'add',
  object: 'element',
  set,
  elements,
});

export const deleteElements = (set: SetRef, elements: readonly Element[]): TxOp => ({
  verb: 'delete',
  object: 'element',
  set,
  elements,
});
