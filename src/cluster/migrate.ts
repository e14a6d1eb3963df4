// Migrations as compare-and-swap txns on each flow's mod revision: of two concurrent migrations
// of one flow exactly one commits, the other gets a ConflictError; bulk moves in chunks of 128.
import type { IKeyValue, IRequestOp } from 'etcd3';
import { InputError } from '../errors.js';
import type { EtcdClient } from '../etcd/client.js';
import { EtcdCallError } from '../etcd/errors.js';
import { canonicalAddress } from '../net/ipv6.js';
import { type Conflict, ConflictError, UnknownFlowError } from './errors.js';
import { readFlow, type StoredFlow } from './flows.js';
import { flowKey, type KeyLayout } from './keys.js';
import { chunks, getOp, MAX_TXN_OPS, putOp, revisionOf, sameModRevision } from './txn.js';
import { flowText } from './values.js';

export interface MigrateOptions {
  /**
   * The flow's mod revision the caller decided on (from list() or a watch event): the migration
   * commits only if nobody wrote the flow since. Default: the revision read just before.
   */
  readonly expectModRevision?: number;
}

export interface Migration {
  /** The revision of the write (hosts have applied it when their applied key reaches it). */
  readonly revision: number;
  readonly address: string;
  readonly from: string;
  readonly to: string;
  /** False when the flow was at `to` already: nothing written, `revision` is the flow's mod revision. */
  readonly changed: boolean;
}

export interface Change {
  readonly address: string;
  readonly responder: string;
  /** A new initiator (a client on any host: the flow's ingress moves with it); default: kept. */
  readonly initiator?: string;
  readonly expectModRevision?: number;
  /**
   * The flow as the caller read it (from get() or list()): not read again, and its mod revision is
   * the one the txn compares (a migration is then one round trip).
   */
  readonly known?: StoredFlow;
}

/**
 * Points one flow at `responder`: reads the flow, then one txn "if its mod revision is still the
 * expected one, put it with the new responder and generation + 1". A flow already at `responder`
 * is left alone (changed: false). Throws UnknownFlowError, ConflictError, or the etcd error.
 */
export async function migrateFlow(
  client: EtcdClient,
  k: KeyLayout,
  address: string,
  responder: string,
  o: MigrateOptions = {},
): Promise<Migration> {
  const [m] = await migrateFlows(client, k, [{ address, responder, ...o }]);
  if (m === undefined) throw new Error('migrateFlows returned nothing');
  return m;
}

/**
 * Moves many flows (an evacuation). All flows are read first (one txn of reads per 128), so an
 * unknown or unreadable flow fails the call before anything is written. Then one txn per chunk of
 * at most 128 flows compares every flow's mod revision and puts all of them, or none.
 *
 * A partial failure: the chunks commit in order, each on its own. When a chunk's compare fails,
 * that chunk writes nothing and the later ones are not tried: the ConflictError names the flows
 * that changed and carries the migrations already committed (`committed`); those stand and are
 * applied by the hosts like any other. Retrying the call moves the rest (committed flows are then
 * at their responder already and are left alone).
 */
export async function migrateFlows(
  client: EtcdClient,
  k: KeyLayout,
  changes: readonly Change[],
): Promise<Migration[]> {
  const wanted = checkChanges(changes);
  const current = await readFlows(
    client,
    k,
    wanted.filter((c) => c.known === undefined).map((c) => c.address),
  );
  for (const c of wanted) if (c.known) current.set(c.address, c.known);
  const unknown: string[] = [];
  const plans = wanted.map((c) => {
    const flow = current.get(c.address);
    if (typeof flow === 'string') unknown.push(flow);
    return { change: c, flow: typeof flow === 'string' ? undefined : flow };
  });
  if (unknown.length > 0) throw new UnknownFlowError(unknown);

  const done: Migration[] = [];
  const writes: { change: Change; flow: StoredFlow; expected: number }[] = [];
  const conflicts: Conflict[] = [];
  for (const { change, flow } of plans) {
    if (flow === undefined) continue;
    const expected = change.expectModRevision ?? flow.modRevision;
    if (expected !== flow.modRevision) {
      conflicts.push({ address: flow.address, expected, actual: flow.modRevision });
    } else if (
      flow.responder === change.responder &&
      (change.initiator === undefined || flow.initiator === change.initiator)
    ) {
      done.push({ ...unchanged(flow), revision: flow.modRevision });
    } else writes.push({ change, flow, expected });
  }
  if (conflicts.length > 0) throw new ConflictError(conflicts);

  const committed: { address: string; revision: number }[] = [];
  for (const chunk of chunks(writes)) {
    const keys = chunk.map((w) => flowKey(k, w.flow.address));
    const txn = () =>
      client.call('migrate', (etcd) =>
        etcd.kv.txn({
          compare: chunk.map((w, i) => sameModRevision(keys[i] ?? '', w.expected)),
          success: chunk.map((w, i) =>
            putOp(
              keys[i] ?? '',
              flowText({
                ...w.flow,
                responder: w.change.responder,
                initiator: w.change.initiator ?? w.flow.initiator,
                generation: w.flow.generation + 1,
              }),
            ),
          ),
          // Read the chunk's flows in the same txn when it fails, to name exactly those that moved.
          failure: keys.map(getOp),
        }),
      );
    let settled = 0;
    const r = await txn().catch(async (error: unknown) => {
      // The txn may or may not have committed (its member died with it in flight): the flows
      // say which. Committed: each at its new responder, one generation on, one mod revision.
      // Not: each as it was, and the compare makes sending it again safe. Only when a quorum
      // answered after the failure (no quorum, unreachable, or the call's own error: as it is).
      if (!(error instanceof EtcdCallError) || error.kind !== 'failed' || !error.answering)
        throw error;
      const now = await readFlows(
        client,
        k,
        chunk.map((w) => w.flow.address),
      ).catch(() => undefined);
      if (!now) throw error;
      const after = chunk.map((w) => now.get(w.flow.address));
      const moved = after.every(
        (f, i) =>
          typeof f !== 'string' &&
          f !== undefined &&
          f.responder === chunk[i]?.change.responder &&
          f.initiator === (chunk[i]?.change.initiator ?? chunk[i]?.flow.initiator) &&
          f.generation === (chunk[i]?.flow.generation ?? -2) + 1 &&
          f.modRevision === (typeof after[0] === 'object' ? after[0].modRevision : -1),
      );
      if (moved) {
        settled = (after[0] as StoredFlow).modRevision;
        return 'committed' as const;
      }
      // Not committed (or moved on by another writer since): the compare decides again.
      return txn();
    });
    const revision = r === 'committed' ? settled : revisionOf(r);
    if (r !== 'committed' && !r.succeeded) {
      const lost = chunk.flatMap((w, i): Conflict[] => {
        const kv = r.responses[i]?.response_range?.kvs[0];
        const actual = kv === undefined ? 0 : Number(kv.mod_revision);
        return actual === w.expected
          ? []
          : [{ address: w.flow.address, expected: w.expected, actual }];
      });
      throw new ConflictError(lost, committed);
    }
    for (const w of chunk) {
      committed.push({ address: w.flow.address, revision });
      done.push({
        revision,
        address: w.flow.address,
        from: w.flow.responder,
        to: w.change.responder,
        changed: true,
      });
    }
  }
  // In the order asked.
  const byAddress = new Map(done.map((m) => [m.address, m]));
  return wanted.flatMap((c) => byAddress.get(c.address) ?? []);
}

function unchanged(flow: StoredFlow): Omit<Migration, 'revision'> {
  return { address: flow.address, from: flow.responder, to: flow.responder, changed: false };
}

/** Canonical changes, or an InputError naming every bad one (and flows named twice). */
function checkChanges(changes: readonly Change[]): Change[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: Change[] = [];
  for (const c of changes) {
    const address = canonicalAddress(c.address);
    const responder = canonicalAddress(c.responder);
    const initiator = c.initiator === undefined ? undefined : canonicalAddress(c.initiator);
    if (c.initiator !== undefined && initiator === undefined)
      problems.push(`initiator ${JSON.stringify(c.initiator)} is not an IPv6 address`);
    if (address === undefined) problems.push(`${JSON.stringify(c.address)} is not an IPv6 address`);
    if (responder === undefined) {
      problems.push(`responder ${JSON.stringify(c.responder)} is not an IPv6 address`);
    }
    if (address !== undefined && seen.has(address)) problems.push(`flow ${address} named twice`);
    if (address !== undefined) seen.add(address);
    if (address !== undefined && responder !== undefined)
      out.push({ ...c, address, responder, ...(initiator === undefined ? {} : { initiator }) });
  }
  if (problems.length > 0) throw new InputError('migration', problems);
  return out;
}

/**
 * The named flows as stored (one txn of up to 128 reads each), or for each one that is missing or
 * unreadable the problem, as text.
 */
async function readFlows(
  client: EtcdClient,
  k: KeyLayout,
  addresses: readonly string[],
): Promise<Map<string, StoredFlow | string>> {
  const found = new Map<string, StoredFlow | string>();
  for (const chunk of chunks(addresses, MAX_TXN_OPS)) {
    const ops: IRequestOp[] = chunk.map((a) => getOp(flowKey(k, a)));
    const r = await client.call('read', (etcd) => etcd.kv.txn({ success: ops }), undefined, {
      idempotent: true,
    });
    chunk.forEach((address, i) => {
      const kv: IKeyValue | undefined = r.responses[i]?.response_range?.kvs[0];
      if (kv === undefined) {
        found.set(address, `no flow ${address} in the cluster`);
        return;
      }
      const read = readFlow(k, kv);
      found.set(address, 'flow' in read ? read.flow : `flow ${address}: ${read.problem.problem}`);
    });
  }
  return found;
}
