// The hosts of a cluster: translators registered under a kept-alive lease, the revision each has
// applied, and a wait (on a watch, not a poll) until every named host applied a revision.
import type { Lease } from 'etcd3';
import type { FlowmigError } from '../errors.js';
import type { EtcdClient } from '../etcd/client.js';
import { LagError } from './errors.js';
import { appliedKey, checkHost, type KeyLayout, nameUnder, translatorKey } from './keys.js';
import { putOp, rangeAll } from './txn.js';
import {
  type KeyProblem,
  parseApplied,
  parseTranslator,
  type TranslatorValue,
  translatorText,
} from './values.js';
import { watchPrefix } from './watch.js';

export interface Registration {
  readonly host: string;
  /** The lease's id (decimal). */
  readonly lease: string;
  /** Deletes the registration now: revokes the lease (its key goes with it). */
  revoke(): Promise<void>;
  /**
   * Stops the keepalive without revoking, as a crashed host would: the key goes when the TTL
   * runs out (tests; a daemon that must leave its key to expire).
   */
  release(): void;
}

/**
 * How often a registration refreshes its lease: at most every second, so a refresh that went to a
 * member cut off a moment ago (its channel not yet seen dead: ~2 s) is followed by others long
 * before the TTL runs out.
 */
export function keepaliveEveryMs(ttlSeconds: number): number {
  return Math.min(1_000, (ttlSeconds * 1_000) / 3);
}
/** One refresh's deadline; a refresh that failed is tried again after KEEPALIVE_RETRY_MS. */
const KEEPALIVE_TIMEOUT_MS = 600;
const KEEPALIVE_RETRY_MS = 100;

/**
 * Registers `host`'s translator: a lease of `ttlSeconds` and the translator key put under it, so
 * the key disappears within the TTL of the host's death. The lease is refreshed here, one
 * request at a time with a deadline, not by etcd3's keepalive stream: that stream has no deadline
 * (on a member cut off it waits up to the TTL before trying another) and says a lease is lost
 * only 2 × TTL after its last refresh, so a host back on the fabric went on believing in a lease
 * etcd had dropped. `onLost` is told once, when etcd answers that the lease is gone, or when no
 * refresh was answered for the TTL (etcd has dropped it, or will: a key put again under a new
 * lease moves to it, so registering again is safe either way): register again.
 */
export async function registerTranslator(
  client: EtcdClient,
  k: KeyLayout,
  host: string,
  ttlSeconds: number,
  o: { pid?: number; startedAt?: Date; onLost?: (error: Error) => void } = {},
): Promise<Registration> {
  const key = translatorKey(k, checkHost(host));
  const value: TranslatorValue = {
    host,
    pid: o.pid ?? process.pid,
    startedAt: (o.startedAt ?? new Date()).toISOString(),
  };
  let lease: Lease | undefined;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  const end = () => {
    ended = true;
    clearTimeout(timer);
  };
  const lost = (error: Error) => {
    if (ended) return;
    end();
    lease?.release();
    o.onLost?.(error);
  };
  try {
    // Sent again on another member after a silence: a second grant leaves a lease without keys,
    // which expires after the TTL, and the put is the same value (the key goes to the lease that
    // was granted last). A host back on the fabric then registers as soon as a member can serve it.
    const id = await client.call(
      'register',
      async (etcd) => {
        lease = etcd.lease(ttlSeconds, { autoKeepAlive: false });
        // etcd3 emits `lost` with no listener as an error event: always listen. It is emitted for
        // a grant that failed too (thrown below), and for a refresh answered with TTL 0.
        lease.on('lost', (error: Error) => {
          if (timer !== undefined) lost(error);
        });
        const granted = String(await lease.grant());
        await etcd.kv.txn({ success: [putOp(key, translatorText(value), granted)] });
        return granted;
      },
      undefined,
      { idempotent: true },
    );
    const held = lease as Lease;
    let answeredAt = Date.now();
    const refresh = async () => {
      try {
        const deadline = new Date(Date.now() + KEEPALIVE_TIMEOUT_MS);
        await held.keepaliveOnce({ deadline });
        answeredAt = Date.now();
      } catch (error) {
        if (ended) return;
        if (Date.now() - answeredAt >= ttlSeconds * 1_000) {
          lost(
            new Error(
              `no refresh of lease ${id} answered for ${ttlSeconds} s: ${(error as Error).message}`,
            ),
          );
          return;
        }
        timer = setTimeout(() => void refresh(), KEEPALIVE_RETRY_MS);
        return;
      }
      if (!ended) timer = setTimeout(() => void refresh(), keepaliveEveryMs(ttlSeconds));
    };
    timer = setTimeout(() => void refresh(), keepaliveEveryMs(ttlSeconds));
    return {
      host,
      lease: id,
      revoke: () => {
        end();
        return client.call('revoke', () => held.revoke());
      },
      release: () => {
        end();
        held.release();
      },
    };
  } catch (error) {
    end();
    lease?.release();
    throw error;
  }
}

export interface LiveTranslator extends TranslatorValue {
  /** The lease the key lives under (decimal). */
  readonly lease: string;
}

/** The translators whose lease is alive, with the keys that could not be read. */
export async function listTranslators(
  client: EtcdClient,
  k: KeyLayout,
): Promise<{ revision: number; translators: LiveTranslator[]; problems: KeyProblem[] }> {
  const { revision, kvs } = await rangeAll(client, 'translators', k.translators);
  const translators: LiveTranslator[] = [];
  const problems: KeyProblem[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    const parsed = parseTranslator(key, kv.value.toString());
    if (!parsed.ok) problems.push(parsed.problem);
    else if (parsed.value.host !== nameUnder(k.translators, key)) {
      problems.push({ key, problem: `names host ${parsed.value.host}` });
    } else translators.push({ ...parsed.value, lease: kv.lease });
  }
  return { revision, translators, problems };
}

/** Records that `host` applied everything up to `revision` (the host's translator writes it). */
export async function writeApplied(
  client: EtcdClient,
  k: KeyLayout,
  host: string,
  revision: number,
): Promise<number> {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new Error(`applied revision ${revision} is not a whole number >= 0`);
  }
  // The same put sent twice leaves the same value: safe to try on another member.
  const r = await client.call(
    'applied',
    (etcd) => etcd.kv.txn({ success: [putOp(appliedKey(k, host), String(revision))] }),
    undefined,
    { idempotent: true },
  );
  return Number(r.header.revision);
}

export interface AppliedTable {
  readonly revision: number;
  /** Host → the revision it applied. */
  readonly hosts: ReadonlyMap<string, number>;
  readonly problems: readonly KeyProblem[];
}

export async function readApplied(client: EtcdClient, k: KeyLayout): Promise<AppliedTable> {
  const { revision, kvs } = await rangeAll(client, 'applied', k.applied);
  const hosts = new Map<string, number>();
  const problems: KeyProblem[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    const parsed = parseApplied(key, kv.value.toString());
    if (parsed.ok) hosts.set(nameUnder(k.applied, key) ?? key, parsed.value);
    else problems.push(parsed.problem);
  }
  return { revision, hosts, problems };
}

/**
 * Resolves when every host in `hosts` has an applied revision >= `revision`; rejects with a
 * LagError naming the hosts that lag and where they stand when `timeoutMs` passes first. Reads
 * the applied keys once, then watches them from the read's revision + 1 (no poll, no gap).
 */
export async function waitApplied(
  client: EtcdClient,
  k: KeyLayout,
  revision: number,
  hosts: readonly string[],
  timeoutMs: number,
): Promise<void> {
  for (const h of hosts) checkHost(h);
  const started = Date.now();
  const table = await readApplied(client, k);
  const at = new Map(table.hosts);
  const lagging = () =>
    hosts.filter((h) => (at.get(h) ?? -1) < revision).map((h) => ({ host: h, applied: at.get(h) }));
  if (lagging().length === 0) return;

  let settle: (error?: FlowmigError) => void = () => {};
  const settled = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  const watching = watchPrefix(client, k.applied, table.revision + 1, {
    revision(_revision, events) {
      for (const ev of events) {
        const host = nameUnder(k.applied, ev.kv.key.toString()) ?? '';
        const parsed = parseApplied(host, ev.kv.value.toString());
        if (ev.type === 'Delete') at.delete(host);
        else if (parsed.ok) at.set(host, parsed.value);
      }
      if (lagging().length === 0) settle();
    },
    ended(reason) {
      // Applied keys change rarely enough that a compaction past the wait's start is unlikely;
      // either way the wait cannot see the keys any more.
      settle(reason.compacted ? new LagError(revision, lagging(), timeoutMs) : reason.error);
    },
  });
  const timer = setTimeout(
    () => settle(new LagError(revision, lagging(), timeoutMs)),
    Math.max(0, timeoutMs - (Date.now() - started)),
  );
  // A watch that cannot be created now (its stream on a member cut off, until the client's
  // keepalive moves it) does not end the wait: the applied keys are read again until it can.
  let watch: Awaited<typeof watching> | undefined;
  let polling = true;
  const poll = async () => {
    while (polling) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (!polling) return;
      try {
        const again = await readApplied(client, k);
        for (const [h, r] of again.hosts) at.set(h, Math.max(at.get(h) ?? -1, r));
        if (lagging().length === 0) settle();
      } catch {
        // no answer this time: the next read, the watch or the timer settles it
      }
    }
  };
  watching.then(
    (w) => {
      watch = w;
      polling = false;
    },
    () => void poll(),
  );
  try {
    await settled;
  } finally {
    polling = false;
    clearTimeout(timer);
    await (watch ?? (await watching.catch(() => undefined)))?.stop();
  }
}

/** How often a wait whose watch could not be created reads the applied keys. */
const POLL_MS = 50;
