// etcd requests the flow table is made of, as plain protobuf objects: puts, ranges, mod-revision
// compares, chunking to etcd's per-txn limit, and a paged range read at one revision.
import { type ICompare, type IKeyValue, type IRequestOp, Range } from 'etcd3';
import type { EtcdClient } from '../etcd/client.js';

/**
 * etcd's `--max-txn-ops` default: a txn may hold at most 128 compares, 128 success and 128
 * failure operations (each list counted on its own); more fails the whole txn with "too many
 * operations in txn request". flowmig's members run with the default (src/etcd/member.ts).
 */
export const MAX_TXN_OPS = 128;

/** Keys per page of a range read: ~150-byte flows keep a page far below gRPC's 4 MiB reply limit. */
export const PAGE = 1_000;

export function putOp(key: string, value: string, lease?: string): IRequestOp {
  return {
    request_put: {
      key: Buffer.from(key),
      value: Buffer.from(value),
      ...(lease === undefined ? {} : { lease }),
    },
  };
}

export function getOp(key: string): IRequestOp {
  return { request_range: { key: Buffer.from(key) } };
}

/** Holds when `key` was last written at `modRevision` (0: the key does not exist). */
export function sameModRevision(key: string, modRevision: number): ICompare {
  return { key: Buffer.from(key), target: 'Mod', result: 'Equal', mod_revision: modRevision };
}

/** `items` in runs of at most `size`, in order. */
export function chunks<T>(items: readonly T[], size = MAX_TXN_OPS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const revisionOf = (r: { header: { revision: string } }): number =>
  Number(r.header.revision);

/**
 * Every key under `prefix` with the revision they were read at: pages of PAGE keys, the later
 * pages pinned to the first page's revision, so the whole read is one consistent snapshot however
 * many pages it takes (each page is its own call with its own deadline).
 */
export async function rangeAll(
  client: EtcdClient,
  what: string,
  prefix: string,
): Promise<{ revision: number; kvs: IKeyValue[] }> {
  const end = Range.prefix(prefix).end;
  const kvs: IKeyValue[] = [];
  let start = Buffer.from(prefix);
  let revision: number | undefined;
  for (;;) {
    const pinned = revision;
    const page = await client.call(
      what,
      (etcd) =>
        etcd.kv.range({
          key: start,
          range_end: end,
          limit: PAGE,
          ...(pinned === undefined ? {} : { revision: pinned }),
        }),
      undefined,
      { idempotent: true },
    );
    revision ??= revisionOf(page);
    kvs.push(...page.kvs);
    const last = page.kvs.at(-1);
    if (!page.more || last === undefined) return { revision, kvs };
    // The next key after `last` in byte order is `last` followed by a zero byte.
    start = Buffer.concat([last.key, Buffer.from([0])]);
  }
}
