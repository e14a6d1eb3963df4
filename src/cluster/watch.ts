// Watching a key prefix from a revision: changes handed over per revision, in revision order,
// and a watch whose start was compacted away told apart from other failures (so callers relist).
import { type IEvent, type IKeyValue, Range, type Watcher } from 'etcd3';
import { FlowmigError } from '../errors.js';
import type { EtcdClient } from '../etcd/client.js';
import type { EtcdCallError } from '../etcd/errors.js';
import { readFlow, type StoredFlow } from './flows.js';
import { type KeyLayout, nameUnder } from './keys.js';
import type { KeyProblem } from './values.js';

export type FlowEvent =
  | { readonly kind: 'put'; readonly flow: StoredFlow }
  | { readonly kind: 'delete'; readonly address: string };

export interface FlowWatchHandlers {
  /**
   * The flow changes of one revision (one txn: a migration, a chunk of a load or evacuation),
   * called once per revision in increasing order; `problems` are malformed keys or values written
   * in it (skipped).
   */
  changes(revision: number, events: readonly FlowEvent[], problems: readonly KeyProblem[]): void;
  /**
   * The revisions from `fromRevision` were compacted away: the watch has ended; list() again and
   * watch from the list's revision + 1.
   */
  compacted(info: { readonly fromRevision: number }): void;
  /** The watch ended for another reason (it does not end for a lost connection: it resumes). */
  failed?(error: FlowmigError): void;
}

export interface PrefixWatch {
  /** Cancels the watch; resolves when etcd confirmed, or after a second without an answer. */
  stop(): Promise<void>;
}

interface PrefixHandlers {
  revision(revision: number, events: readonly IEvent[]): void;
  /** The watch ended; `compacted` when the revision it needed next was compacted away. */
  ended(
    reason: { compacted: true; fromRevision: number } | { compacted: false; error: FlowmigError },
  ): void;
}

/**
 * Watches every key under `prefix` from `fromRevision` (etcd3's watch with start_revision; after
 * a lost connection etcd3 resumes after the last revision seen, so nothing is missed or repeated).
 * Resolves once etcd created the watch; a start revision compacted away is reported through
 * `ended`, not thrown.
 */
export async function watchPrefix(
  client: EtcdClient,
  prefix: string,
  fromRevision: number,
  on: PrefixHandlers,
): Promise<PrefixWatch> {
  const watcher: Watcher = client.etcd
    .watch()
    .prefix(prefix)
    .startRevision(String(fromRevision))
    .watcher();
  let ended = false;
  /**
   * The revision the watch needs next. etcd3 resumes a watch after a lost connection from its
   * request's start_revision, but moves that to the created response's header revision + 1 (the
   * store's current revision): a watch cut off while catching up from an older revision would
   * skip the rest of the history. So it is kept here and written back: past the last event
   * delivered, or past a progress notification's revision (etcd sends one only when every event
   * up to it has been sent).
   */
  let next = fromRevision;
  const stop = async () => {
    if (ended) return;
    ended = true;
    await Promise.race([watcher.cancel().catch(() => {}), delay(1_000)]);
  };
  const end = async (error: unknown) => {
    if (ended) return;
    ended = true;
    void watcher.cancel().catch(() => {});
    on.ended(
      (await isCompacted(client, prefix, next))
        ? { compacted: true, fromRevision: next }
        : { compacted: false, error: await client.classify('watch', error) },
    );
  };
  // Listeners before the stream connects: etcd3 emits a stream's messages synchronously. They run
  // after etcd3's own (added by the Watcher's constructor), so the revision written here stands.
  watcher.on('connected', () => {
    watcher.request.start_revision = next;
  });
  watcher.on('data', (res) => {
    const last = res.events.at(-1);
    next =
      last === undefined
        ? Math.max(next, Number(res.header.revision) + 1)
        : Number(last.kv.mod_revision) + 1;
    watcher.request.start_revision = next;
    if (ended) return;
    let at: number | undefined;
    let group: IEvent[] = [];
    for (const ev of res.events) {
      const revision = Number(ev.kv.mod_revision);
      if (at !== undefined && revision !== at) on.revision(at, group);
      if (revision !== at) group = [];
      at = revision;
      group.push(ev);
    }
    if (at !== undefined) on.revision(at, group);
  });
  const connected = new Promise<void>((resolve, reject) => {
    watcher.once('connected', () => resolve());
    watcher.once('error', reject);
  });
  watcher.on('error', (error) => void end(error));
  const timeout = client.callTimeoutMs * 2;
  try {
    await Promise.race([
      connected,
      delay(timeout).then(() => {
        throw new FlowmigError(`no etcd member created the watch within ${timeout} ms`);
      }),
    ]);
  } catch (error) {
    // A compacted start is reported through `ended` (the error listener above): not a failure.
    if (ended) return { stop };
    await stop();
    throw await client.classify('watch', error);
  }
  return { stop };
}

/** Watches the flows from `fromRevision` (list()'s revision + 1 to miss nothing after a list). */
export function watchFlows(
  client: EtcdClient,
  k: KeyLayout,
  fromRevision: number,
  handlers: FlowWatchHandlers,
): Promise<PrefixWatch> {
  return watchPrefix(client, k.flows, fromRevision, {
    revision(revision, raw) {
      const events: FlowEvent[] = [];
      const problems: KeyProblem[] = [];
      for (const ev of raw) {
        if (ev.type === 'Delete') {
          const address = nameUnder(k.flows, ev.kv.key.toString()) ?? '';
          events.push({ kind: 'delete', address });
          continue;
        }
        const read = readFlow(k, ev.kv as IKeyValue);
        if ('problem' in read) problems.push(read.problem);
        else events.push({ kind: 'put', flow: read.flow });
      }
      handlers.changes(revision, events, problems);
    },
    ended(reason) {
      if (reason.compacted) handlers.compacted({ fromRevision: reason.fromRevision });
      else handlers.failed?.(reason.error);
    },
  });
}

/** Whether reading `prefix` at `revision` fails because that revision was compacted. */
async function isCompacted(client: EtcdClient, prefix: string, revision: number): Promise<boolean> {
  try {
    await client.call('read', (etcd) =>
      etcd.kv.range({
        key: Buffer.from(prefix),
        range_end: Range.prefix(prefix).end,
        limit: 1,
        revision,
        count_only: true,
      }),
    );
    return false;
  } catch (error) {
    return /compacted/.test(((error as EtcdCallError).cause as Error)?.message ?? '');
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
