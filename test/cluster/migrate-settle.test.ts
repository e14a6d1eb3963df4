// A migration whose txn failed with its outcome unknown (its member died with it in flight, a
// quorum answering after): settled by reading the flow back — committed (at the new responder,
// one generation on) is a success with its revision; not committed is sent again (the compare on
// the mod revision makes that safe). No quorum and the call's own errors are reported as they are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flowKey, layout } from '../../src/cluster/keys.js';
import { flowText } from '../../src/cluster/values.js';
import type { EtcdClient } from '../../src/etcd/client.js';
import { EtcdCallError } from '../../src/etcd/errors.js';

const k = layout();
const ADDRESS = 'fe00::1';
const before = { initiator: 'fc00::1', responder: 'fc01::1', tcp: 'reset' as const, generation: 4 };

/** A stored key-value as etcd3 returns it. */
const kv = (value: object, modRevision: number) => ({
  key: Buffer.from(flowKey(k, ADDRESS)),
  value: Buffer.from(flowText(value as Parameters<typeof flowText>[0])),
  mod_revision: String(modRevision),
});

/**
 * An etcd client whose migrate txns follow `txns` in turn (an error, or whether it succeeds) and
 * whose reads return the flow as `stored()` says; records the calls by kind.
 */
function fakeClient(txns: (Error | 'ok')[], stored: () => ReturnType<typeof kv>) {
  const calls: string[] = [];
  const client = {
    call: async (what: string, fn: (etcd: unknown) => Promise<unknown>) => {
      calls.push(what);
      const etcd = {
        kv: {
          txn: async (req: { compare?: unknown[] }) => {
            if (what === 'read' || !req.compare)
              return {
                succeeded: true,
                header: { revision: '20' },
                responses: [{ response_range: { kvs: [stored()] } }],
              };
            const next = txns.shift();
            if (next instanceof Error) throw next;
            return { succeeded: true, header: { revision: '21' }, responses: [] };
          },
        },
      };
      return fn(etcd);
    },
  } as unknown as EtcdClient;
  return { client, calls };
}

const dropped = (kind: 'failed' | 'no-quorum', answering: number | undefined) =>
  new EtcdCallError(
    'etcd migrate failed: 14 UNAVAILABLE: Connection dropped',
    kind,
    ['a', 'b', 'c'],
    answering,
    undefined,
  );

describe('a migration whose outcome the error leaves unknown', () => {
  it('committed: the answer is the write read back (its revision), sent once', async () => {
    let stored = kv(before, 12);
    const { client, calls } = fakeClient([dropped('failed', 2)], () => stored);
    const known = { address: ADDRESS, ...before, modRevision: 12 };
    const p = migrateFlowKnown(client, known, () => {
      stored = kv({ ...before, responder: 'fc02::1', generation: 5 }, 17);
    });
    const m = await p;
    assert.deepEqual(m, {
      revision: 17,
      address: ADDRESS,
      from: 'fc01::1',
      to: 'fc02::1',
      changed: true,
    });
    assert.deepEqual(calls, ['migrate', 'read']);
  });

  it('not committed: sent again, and the second commits', async () => {
    const { client, calls } = fakeClient([dropped('failed', 2), 'ok'], () => kv(before, 12));
    const known = { address: ADDRESS, ...before, modRevision: 12 };
    const m = await migrateFlowKnown(client, known);
    assert.deepEqual(m, {
      revision: 21,
      address: ADDRESS,
      from: 'fc01::1',
      to: 'fc02::1',
      changed: true,
    });
    assert.deepEqual(calls, ['migrate', 'read', 'migrate']);
  });

  it('no quorum, or no member probed (the call’s own error): reported as it is, nothing read', async () => {
    for (const error of [dropped('no-quorum', 1), dropped('failed', undefined)]) {
      const { client, calls } = fakeClient([error], () => kv(before, 12));
      const known = { address: ADDRESS, ...before, modRevision: 12 };
      await assert.rejects(migrateFlowKnown(client, known), (e) => e === error);
      assert.deepEqual(calls, ['migrate']);
    }
  });
});

/** migrateFlows with the flow known (no read before the txn); `afterTxn` runs when a txn fails. */
async function migrateFlowKnown(
  client: EtcdClient,
  known: Parameters<
    typeof import('../../src/cluster/migrate.js').migrateFlows
  >[2][number]['known'] &
    object,
  afterTxn?: () => void,
) {
  const { migrateFlows } = await import('../../src/cluster/migrate.js');
  const wrapped = {
    call: async (what: string, fn: (etcd: unknown) => Promise<unknown>, ...rest: unknown[]) => {
      try {
        return await (client.call as (...a: unknown[]) => Promise<unknown>)(what, fn, ...rest);
      } catch (e) {
        if (what === 'migrate') afterTxn?.();
        throw e;
      }
    },
  } as unknown as EtcdClient;
  const [m] = await migrateFlows(wrapped, k, [{ address: ADDRESS, responder: 'fc02::1', known }]);
  return m;
}
