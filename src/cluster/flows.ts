// Writing and reading the whole flow table: load puts many flows in txns of etcd's size, list
// reads them at one revision with each flow's mod revision and the keys that could not be read.
import type { IKeyValue } from 'etcd3';
import { FlowmigError, InputError } from '../errors.js';
import type { EtcdClient } from '../etcd/client.js';
import type { TcpPolicy } from '../lab/schema.js';
import { canonicalAddress } from '../net/ipv6.js';
import { flowKey, type KeyLayout, nameUnder } from './keys.js';
import { chunks, putOp, rangeAll, revisionOf } from './txn.js';
import { type FlowValue, flowText, type KeyProblem, parseFlow } from './values.js';

export interface FlowInput {
  /** The abstract address. */
  readonly address: string;
  readonly initiator: string;
  readonly responder: string;
  readonly tcp?: TcpPolicy;
  /** Default 0: a flow loaded afresh. */
  readonly generation?: number;
}

export interface StoredFlow extends FlowValue {
  /** The abstract address (canonical). */
  readonly address: string;
  /** The revision of the flow's last write: what a migration's compare-and-swap is based on. */
  readonly modRevision: number;
}

export interface FlowList {
  /** The revision the table was read at: a watch from revision + 1 misses nothing. */
  readonly revision: number;
  readonly flows: readonly StoredFlow[];
  /** Keys under the flow prefix whose key or value is malformed (skipped, not fatal). */
  readonly problems: readonly KeyProblem[];
}

/** Canonical flows from inputs, or an InputError naming every bad one. */
export function checkFlows(flows: readonly FlowInput[]): { address: string; value: FlowValue }[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const out: { address: string; value: FlowValue }[] = [];
  flows.forEach((f, i) => {
    const address = canonicalAddress(f.address);
    const initiator = canonicalAddress(f.initiator);
    const responder = canonicalAddress(f.responder);
    const bad = (what: string, text: string) =>
      problems.push(`flow ${i + 1}: ${what} ${JSON.stringify(text)} is not an IPv6 address`);
    if (address === undefined) bad('address', f.address);
    if (initiator === undefined) bad('initiator', f.initiator);
    if (responder === undefined) bad('responder', f.responder);
    if (address !== undefined && seen.has(address)) problems.push(`flow ${address} given twice`);
    if (address !== undefined) seen.add(address);
    const generation = f.generation ?? 0;
    if (!Number.isSafeInteger(generation) || generation < 0) {
      problems.push(`flow ${i + 1}: generation ${generation} is not a whole number >= 0`);
    }
    if (address !== undefined && initiator !== undefined && responder !== undefined) {
      out.push({ address, value: { initiator, responder, tcp: f.tcp ?? 'reset', generation } });
    }
  });
  if (problems.length > 0) throw new InputError('cluster flows', problems);
  return out;
}

/**
 * Puts `flows` (replacing any flow of the same address) and returns the revision of the last
 * write. etcd refuses a txn of more than 128 operations (`--max-txn-ops`), so the flows go in
 * txns of at most 128 puts, one after the other: each chunk is atomic, the whole load is not. A
 * failure after some chunks leaves those written and says how many; loading again is safe.
 */
export async function loadFlows(
  client: EtcdClient,
  k: KeyLayout,
  flows: readonly FlowInput[],
): Promise<number> {
  const checked = checkFlows(flows);
  let revision = 0;
  let written = 0;
  for (const chunk of chunks(checked)) {
    try {
      const r = await client.call('load', (etcd) =>
        etcd.kv.txn({ success: chunk.map((f) => putOp(flowKey(k, f.address), flowText(f.value))) }),
      );
      revision = revisionOf(r);
      written += chunk.length;
    } catch (error) {
      if (written === 0) throw error;
      throw new FlowmigError(
        `loaded ${written} of ${checked.length} flows: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  if (revision === 0) revision = await currentRevision(client);
  return revision;
}

/** The cluster's current revision (a read of nothing). */
export async function currentRevision(client: EtcdClient): Promise<number> {
  return revisionOf(
    await client.call(
      'read',
      (etcd) => etcd.kv.range({ key: Buffer.from('\0'), limit: 1 }),
      undefined,
      { idempotent: true },
    ),
  );
}

/** Every flow at one revision, sorted by key, with the keys that could not be read. */
export async function listFlows(client: EtcdClient, k: KeyLayout): Promise<FlowList> {
  const { revision, kvs } = await rangeAll(client, 'list', k.flows);
  const flows: StoredFlow[] = [];
  const problems: KeyProblem[] = [];
  for (const kv of kvs) {
    const read = readFlow(k, kv);
    if ('problem' in read) problems.push(read.problem);
    else flows.push(read.flow);
  }
  return { revision, flows, problems };
}

/** One stored flow from its key-value, or the problem with it (never throws). */
export function readFlow(
  k: KeyLayout,
  kv: Pick<IKeyValue, 'key' | 'value' | 'mod_revision'>,
): { flow: StoredFlow } | { problem: KeyProblem } {
  const key = kv.key.toString();
  const name = nameUnder(k.flows, key) ?? '';
  if (canonicalAddress(name) !== name) {
    return { problem: { key, problem: 'the key does not end in a canonical IPv6 address' } };
  }
  const parsed = parseFlow(key, kv.value.toString());
  if (!parsed.ok) return { problem: parsed.problem };
  return { flow: { address: name, ...parsed.value, modRevision: Number(kv.mod_revision) } };
}

/** One flow as stored now (undefined: no such key), or the problem with its value. */
export async function getFlow(
  client: EtcdClient,
  k: KeyLayout,
  address: string,
): Promise<{ flow: StoredFlow | undefined } | { problem: KeyProblem }> {
  const key = flowKey(k, address);
  const r = await client.call(
    'read',
    (etcd) => etcd.kv.range({ key: Buffer.from(key) }),
    undefined,
    {
      idempotent: true,
    },
  );
  const kv = r.kvs[0];
  if (!kv) return { flow: undefined };
  return readFlow(k, kv);
}
