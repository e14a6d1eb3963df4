// Map edits as typed transactions, and the engines' nftables operations (one transaction each).
import type { Element, SetRef } from '../nft/objects.js';
import { addElements, deleteElements, type Transaction, type TxOp } from '../nft/transaction.js';
import type { MapEdit, NetfilterApplyOp } from './engine.js';

function setOf(e: MapEdit, defaultTable: string): SetRef {
  return { family: 'ip6', name: e.table ?? defaultTable, set: e.map, kind: e.set ? 'set' : 'map' };
}

/** An added element: a map element's last part is its value (no spreads: bulk edits make 100,000s). */
function added(parts: readonly string[], set: boolean | undefined, timeoutMs?: number): Element {
  if (set) return timeoutMs === undefined ? { key: parts } : { key: parts, timeoutMs };
  const key = parts.slice(0, -1);
  const value = parts[parts.length - 1] ?? '';
  return timeoutMs === undefined ? { key, value } : { key, value, timeoutMs };
}

/**
 * The transaction of the edits, in the order MapEdit documents: all deletes, all adds, then the
 * elements that must be absent are added and deleted. Edits name their table or the default one.
 */
export function editTransaction(edits: readonly MapEdit[], defaultTable: string): TxOp[] {
  const tx: TxOp[] = [];
  for (const e of edits)
    if (e.remove.length)
      tx.push(
        deleteElements(
          setOf(e, defaultTable),
          e.remove.map((key) => ({ key })),
        ),
      );
  for (const e of edits)
    if (e.add.length)
      tx.push(
        addElements(
          setOf(e, defaultTable),
          e.add.map((p) => added(p, e.set, e.timeoutMs)),
        ),
      );
  for (const e of edits) {
    if (!e.absent?.length) continue;
    // A set element has no value; a map element needs one to be added: its own key's last part.
    const where = setOf(e, defaultTable);
    tx.push(
      addElements(
        where,
        e.absent.map((k) => (e.set ? { key: k } : { key: k, value: k[k.length - 1] ?? '' })),
      ),
      deleteElements(
        where,
        e.absent.map((key) => ({ key })),
      ),
    );
  }
  return tx;
}

/** An nftables transaction in the translator (`nft -f -`, or the agent's netlink batch). */
export function nftOp(
  netns: string,
  nft: Transaction,
  summary: string,
  edits?: readonly MapEdit[],
): NetfilterApplyOp {
  return { kind: 'netfilterApply', netns, nft, summary, ...(edits ? { edits } : {}) };
}

/** Two nftables operations in one namespace as one (one transaction, one program run). */
export function joinNftOps(a: NetfilterApplyOp, b: NetfilterApplyOp): NetfilterApplyOp {
  if (a.netns !== b.netns || !('nft' in a) || !('nft' in b))
    throw new Error('only nftables operations in one namespace can be joined');
  const edits = a.edits && b.edits ? [...a.edits, ...b.edits] : undefined;
  return nftOp(a.netns, [...a.nft, ...b.nft], `${a.summary}; ${b.summary}`, edits);
}
