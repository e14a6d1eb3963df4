// FlowTable: a multi-host cluster's desired flow table on etcd, the one object the host daemon
// and the CLI use (a facade; the verbs live in flows.ts, migrate.ts, watch.ts and hosts.ts).
import type { EtcdClient } from '../etcd/client.js';
import {
  type FlowInput,
  type FlowList,
  getFlow,
  listFlows,
  loadFlows,
  type StoredFlow,
} from './flows.js';
import {
  type AppliedTable,
  type LiveTranslator,
  listTranslators,
  type Registration,
  readApplied,
  registerTranslator,
  waitApplied,
  writeApplied,
} from './hosts.js';
import { DEFAULT_ROOT, type KeyLayout, layout } from './keys.js';
import {
  type Change,
  type MigrateOptions,
  type Migration,
  migrateFlow,
  migrateFlows,
} from './migrate.js';
import type { KeyProblem } from './values.js';
import { type FlowWatchHandlers, type PrefixWatch, watchFlows } from './watch.js';

export class FlowTable {
  readonly keys: KeyLayout;

  /** `root`: the key prefix of the layout (default `/flowmig/v1/`); the client stays the caller's. */
  constructor(
    readonly client: EtcdClient,
    options: { root?: string } = {},
  ) {
    this.keys = layout(options.root ?? DEFAULT_ROOT);
  }

  /**
   * Puts many flows (replacing flows of the same address), in txns of at most 128 puts: etcd's
   * default `--max-txn-ops`. Each chunk is atomic, the load as a whole is not (see loadFlows).
   * Returns the revision of the last write.
   */
  load(flows: readonly FlowInput[]): Promise<number> {
    return loadFlows(this.client, this.keys, flows);
  }

  /** Every flow with its mod revision, the revision read at, and malformed keys (skipped). */
  list(): Promise<FlowList> {
    return listFlows(this.client, this.keys);
  }

  /** One flow as stored now (undefined: none), or the problem with its value. */
  get(address: string): Promise<{ flow: StoredFlow | undefined } | { problem: KeyProblem }> {
    return getFlow(this.client, this.keys, address);
  }

  /** One compare-and-swap txn on the flow's mod revision; ConflictError when it lost a race. */
  migrate(address: string, responder: string, options: MigrateOptions = {}): Promise<Migration> {
    return migrateFlow(this.client, this.keys, address, responder, options);
  }

  /** Many flows, one txn per 128, each chunk all-or-nothing (partial failure: migrateFlows). */
  migrateMany(changes: readonly Change[]): Promise<Migration[]> {
    return migrateFlows(this.client, this.keys, changes);
  }

  /** Flow changes from `fromRevision`, per revision in order; `compacted` when it is gone. */
  watch(fromRevision: number, handlers: FlowWatchHandlers): Promise<PrefixWatch> {
    return watchFlows(this.client, this.keys, fromRevision, handlers);
  }

  /** Registers a host's translator under a lease kept alive until revoke() or release(). */
  register(
    host: string,
    ttlSeconds: number,
    options: { pid?: number; startedAt?: Date; onLost?: (error: Error) => void } = {},
  ): Promise<Registration> {
    return registerTranslator(this.client, this.keys, host, ttlSeconds, options);
  }

  /** Translators whose lease is alive. */
  async translators(): Promise<{ translators: LiveTranslator[]; problems: KeyProblem[] }> {
    const { translators, problems } = await listTranslators(this.client, this.keys);
    return { translators, problems };
  }

  /** Records that `host` applied every change up to `revision`; returns the write's revision. */
  writeApplied(host: string, revision: number): Promise<number> {
    return writeApplied(this.client, this.keys, host, revision);
  }

  /** Each host's applied revision. */
  applied(): Promise<AppliedTable> {
    return readApplied(this.client, this.keys);
  }

  /** Until every host in `hosts` applied `revision`, or a LagError naming those behind. */
  waitApplied(revision: number, hosts: readonly string[], timeoutMs: number): Promise<void> {
    return waitApplied(this.client, this.keys, revision, hosts, timeoutMs);
  }
}
