// Hosts of a cluster against a real etcd member on 127.0.0.1: translators under a kept-alive lease
// (gone when revoked or no longer kept alive), applied revisions, and waiting until hosts applied
// a revision, with the laggards named when they did not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LagError } from '../../src/cluster/errors.js';
import { FlowTable } from '../../src/cluster/table.js';
import { EtcdClient } from '../../src/etcd/client.js';
import { LoopbackCluster } from '../etcd/etcd-lab.js';

let etcd: LoopbackCluster;
let client: EtcdClient;
let roots = 0;
const table = () => new FlowTable(client, { root: `/h${++roots}/flowmig/v1/` });

/** Polls `check` until it holds or `ms` pass (for the lease expiry, which etcd checks itself). */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

before(async () => {
  etcd = await LoopbackCluster.start(1);
  client = new EtcdClient({ endpoints: etcd.endpoints });
});
after(async () => {
  client?.close();
  await etcd?.stop();
});

describe('translators', () => {
  it('stay registered while kept alive, and go when the keepalive stops', async () => {
    const t = table();
    const started = new Date('2026-12-07T12:00:00.000Z');
    const h1 = await t.register('h1', 1, { pid: 4242, startedAt: started });
    const h2 = await t.register('h2', 1);
    try {
      // Three TTLs: the key outlives its lease's TTL only because etcd3 keeps the lease alive.
      await new Promise((r) => setTimeout(r, 3_000));
      const live = await t.translators();
      assert.deepEqual(live.problems, []);
      assert.deepEqual(
        live.translators.map((x) => ({
          ...x,
          lease: x.lease === h1.lease || x.lease === h2.lease,
        })),
        [
          { host: 'h1', pid: 4242, startedAt: started.toISOString(), lease: true },
          { host: 'h2', pid: process.pid, startedAt: live.translators[1]?.startedAt, lease: true },
        ],
      );
      // h1 stops keeping its lease alive, as a crashed host would: etcd drops the key after the TTL.
      h1.release();
      const gone = await eventually(
        async () => (await t.translators()).translators.every((x) => x.host !== 'h1'),
        10_000,
      );
      assert.ok(gone, 'h1 still registered after its lease ran out');
      assert.deepEqual(
        (await t.translators()).translators.map((x) => x.host),
        ['h2'],
      );
      // Revoking removes the key at once.
      await h2.revoke();
      assert.deepEqual((await t.translators()).translators, []);
    } finally {
      h1.release();
      await h2.revoke().catch(() => {});
    }
  });

  it('tell onLost once when etcd says the lease is gone (revoked behind their back)', async () => {
    const t = table();
    const lost: Error[] = [];
    const h = await t.register('h1', 5, { onLost: (e) => lost.push(e) });
    try {
      // Another client revokes it: the next refresh (every second) is answered with TTL 0.
      await client.call('revoke', (e) => e.leaseClient.leaseRevoke({ ID: h.lease }));
      assert.ok(await eventually(async () => lost.length > 0, 3_000), 'onLost not told within 3 s');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(lost.length, 1, lost.map((e) => e.message).join('; '));
      assert.deepEqual((await t.translators()).translators, []);
    } finally {
      h.release();
    }
  });

  it('refuses a host name that cannot be a key', async () => {
    await assert.rejects(table().register('h/1', 5), /"h\/1" is not a host name/);
  });
});

describe('applied revisions', () => {
  it('are written and read per host', async () => {
    const t = table();
    await t.writeApplied('h1', 10);
    await t.writeApplied('h2', 12);
    const a = await t.applied();
    assert.deepEqual(
      [...a.hosts],
      [
        ['h1', 10],
        ['h2', 12],
      ],
    );
    assert.deepEqual(a.problems, []);
  });

  it('waitApplied resolves once every named host reached the revision (watched, not polled)', async () => {
    const t = table();
    const revision = await t.load([
      { address: 'fe00::1', initiator: 'fc00::1', responder: 'fc01::1' },
    ]);
    await t.writeApplied('h1', revision - 1);
    let resolved = false;
    const wait = t.waitApplied(revision, ['h1', 'h2'], 10_000).then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    await t.writeApplied('h1', revision);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(resolved, false, 'resolved before h2 applied');
    await t.writeApplied('h2', revision + 3);
    await wait;
    assert.equal(resolved, true);
    // Already there: resolves from the first read.
    await t.waitApplied(revision, ['h1', 'h2'], 1);
  });

  it('waitApplied rejects naming the hosts behind and where they stand', async () => {
    const t = table();
    await t.writeApplied('h1', 50);
    await t.writeApplied('h2', 41);
    const started = Date.now();
    const error = await t.waitApplied(50, ['h1', 'h2', 'h3'], 500).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof LagError, String(error));
    assert.equal(
      error.message,
      'revision 50 not applied within 500 ms by h2 (at 41), h3 (applied none)',
    );
    assert.deepEqual(error.lagging, [
      { host: 'h2', applied: 41 },
      { host: 'h3', applied: undefined },
    ]);
    assert.ok(Date.now() - started >= 500);
  });
});
