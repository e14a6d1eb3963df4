// FlowTable against a real etcd member on 127.0.0.1: load across txn chunks, list, compare-and-
// swap races, bulk moves and their partial failure, watches in revision order and after a
// compaction, malformed values skipped and reported.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConflictError, UnknownFlowError } from '../../src/cluster/errors.js';
import type { FlowInput } from '../../src/cluster/flows.js';
import { FlowTable } from '../../src/cluster/table.js';
import type { FlowEvent } from '../../src/cluster/watch.js';
import { EtcdClient } from '../../src/etcd/client.js';
import { LoopbackCluster } from '../etcd/etcd-lab.js';

let etcd: LoopbackCluster;
let client: EtcdClient;
let roots = 0;
/** A table under a root of its own, so tests on the one member do not see each other's keys. */
const table = () => new FlowTable(client, { root: `/t${++roots}/flowmig/v1/` });

/** `n` flows fe00::<i> from fc00::1 to fc01::1. */
const flows = (n: number, from = 1): FlowInput[] =>
  Array.from({ length: n }, (_, i) => ({
    address: `fe00::${(from + i).toString(16)}`,
    initiator: 'fc00::1',
    responder: 'fc01::1',
  }));

before(async () => {
  etcd = await LoopbackCluster.start(1);
  client = new EtcdClient({ endpoints: etcd.endpoints });
});
after(async () => {
  client?.close();
  await etcd?.stop();
});

describe('load and list', () => {
  it('loads 1,000 flows in txns of at most 128 and lists them at one revision', async () => {
    const t = table();
    const revision = await t.load(flows(1_000));
    const list = await t.list();
    assert.equal(list.flows.length, 1_000);
    assert.deepEqual(list.problems, []);
    assert.ok(list.revision >= revision);
    // 1,000 flows = 8 txns: 7 of 128 and one of 104, each its own revision, the last returned.
    const byRevision = new Map<number, number>();
    for (const f of list.flows)
      byRevision.set(f.modRevision, (byRevision.get(f.modRevision) ?? 0) + 1);
    assert.deepEqual(
      [...byRevision.values()].sort((a, b) => b - a),
      [128, 128, 128, 128, 128, 128, 128, 104],
    );
    assert.equal(Math.max(...byRevision.keys()), revision);
    const f = list.flows.find((x) => x.address === 'fe00::3e8');
    assert.deepEqual(
      { ...f, modRevision: 0 },
      {
        address: 'fe00::3e8',
        initiator: 'fc00::1',
        responder: 'fc01::1',
        tcp: 'reset',
        generation: 0,
        modRevision: 0,
      },
    );
  });

  it('reads a table larger than a page (1,000 keys) as one snapshot', async () => {
    const t = table();
    await t.load(flows(2_345));
    const list = await t.list();
    assert.equal(list.flows.length, 2_345);
    assert.equal(new Set(list.flows.map((f) => f.address)).size, 2_345);
  });
});

describe('migrate', () => {
  it('lets exactly one of two concurrent migrations of a flow win; the other names the flow', async () => {
    const t = table();
    await t.load(flows(3));
    for (let round = 0; round < 10; round++) {
      const before = (await t.list()).flows.find((f) => f.address === 'fe00::2');
      assert.ok(before);
      const expectModRevision = before.modRevision;
      // Two responders the flow is not at: both migrations must write.
      const results = await Promise.allSettled([
        t.migrate('fe00::2', `fc10::${round + 1}`, { expectModRevision }),
        t.migrate('fe00::2', `fc20::${round + 1}`, { expectModRevision }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.equal(lost.length, 1);
      const error = (lost[0] as PromiseRejectedResult).reason;
      assert.ok(error instanceof ConflictError, String(error));
      assert.match(error.message, /^flow fe00::2 \(based on mod revision \d+, now \d+\) changed/);
      const winner = (won[0] as PromiseFulfilledResult<{ to: string; revision: number }>).value;
      const afterwards = (await t.list()).flows.find((f) => f.address === 'fe00::2');
      assert.equal(afterwards?.responder, winner.to);
      assert.equal(afterwards?.modRevision, winner.revision);
      assert.equal(afterwards?.generation, before.generation + 1);
    }
  });

  it('reads the mod revision itself when none is given, and reports from and to', async () => {
    const t = table();
    await t.load(flows(1));
    const m = await t.migrate('fe00:0::1', 'fc02::1');
    assert.deepEqual(
      { ...m, revision: 0 },
      {
        revision: 0,
        address: 'fe00::1',
        from: 'fc01::1',
        to: 'fc02::1',
        changed: true,
      },
    );
    const again = await t.migrate('fe00::1', 'fc02::1');
    assert.equal(again.changed, false);
    assert.equal(again.revision, m.revision);
    await assert.rejects(t.migrate('fe00::99', 'fc02::1'), UnknownFlowError);
    await assert.rejects(t.migrate('fe00::1', 'fc02::1', { expectModRevision: 1 }), ConflictError);
  });

  it('moves many flows in chunks of 128, all in the order asked', async () => {
    const t = table();
    await t.load(flows(300));
    const moved = await t.migrateMany(
      flows(300).map((f) => ({ address: f.address, responder: 'fc09::1' })),
    );
    assert.equal(moved.length, 300);
    assert.deepEqual(
      moved.map((m) => m.address),
      flows(300).map((f) => f.address),
    );
    assert.equal(new Set(moved.map((m) => m.revision)).size, 3);
    const list = await t.list();
    assert.ok(list.flows.every((f) => f.responder === 'fc09::1' && f.generation === 1));
  });

  it('names an unknown flow and writes nothing', async () => {
    const t = table();
    await t.load(flows(2));
    const before = await t.list();
    await assert.rejects(
      t.migrateMany([
        { address: 'fe00::1', responder: 'fc02::1' },
        { address: 'fe00::7', responder: 'fc02::1' },
      ]),
      (e: unknown) =>
        e instanceof UnknownFlowError && e.message === 'no flow fe00::7 in the cluster',
    );
    assert.deepEqual((await t.list()).flows, before.flows);
  });

  it('a chunk that lost a race writes nothing; the chunks before it stand and are reported', async () => {
    const t = table();
    await t.load(flows(300));
    let migrateCalls = 0;
    // Another writer moves fe00::c8 (in the second chunk) between the read and that chunk's txn.
    const racing = new (class extends EtcdClient {
      override async call<T>(what: string, fn: Parameters<EtcdClient['call']>[1], ms?: number) {
        if (what === 'migrate' && ++migrateCalls === 2) await t.migrate('fe00::c8', 'fc05::1');
        return super.call(what, fn, ms) as Promise<T>;
      }
    })({ endpoints: etcd.endpoints });
    try {
      const other = new FlowTable(racing, { root: t.keys.root });
      const error = await other
        .migrateMany(flows(300).map((f) => ({ address: f.address, responder: 'fc09::1' })))
        .then(
          () => assert.fail('no conflict'),
          (e: unknown) => e,
        );
      assert.ok(error instanceof ConflictError, String(error));
      assert.deepEqual(
        error.conflicts.map((c) => c.address),
        ['fe00::c8'],
      );
      assert.equal(error.committed.length, 128);
      assert.match(
        error.message,
        /fe00::c8 .* changed under this migration; 128 migrations before them committed/,
      );
      const list = await t.list();
      const at = (a: string) => list.flows.find((f) => f.address === a)?.responder;
      assert.equal(list.flows.filter((f) => f.responder === 'fc09::1').length, 128);
      assert.equal(at('fe00::80'), 'fc09::1'); // 128th: first chunk
      assert.equal(at('fe00::81'), 'fc01::1'); // 129th: the chunk that lost
      assert.equal(at('fe00::c8'), 'fc05::1');
      // Retrying moves the rest; the committed ones are left alone.
      const retry = await t.migrateMany(
        flows(300).map((f) => ({ address: f.address, responder: 'fc09::1' })),
      );
      assert.equal(retry.filter((m) => m.changed).length, 172);
    } finally {
      racing.close();
    }
  });
});

describe('watch', () => {
  it('sees every change from a revision, once per revision, in order', async () => {
    const t = table();
    const start = await t.load(flows(200));
    const seen: { revision: number; events: readonly FlowEvent[] }[] = [];
    let last = 0;
    let reached: () => void = () => {};
    let target = Number.POSITIVE_INFINITY;
    const done = new Promise<void>((r) => {
      reached = r;
    });
    const w = await t.watch(start + 1, {
      changes(revision, events) {
        seen.push({ revision, events });
        last = revision;
        if (last >= target) reached();
      },
      compacted: () => assert.fail('compacted'),
    });
    try {
      const writes: number[] = [];
      for (let i = 1; i <= 20; i++) {
        writes.push(
          (await t.migrate(`fe00::${i.toString(16)}`, i % 2 ? 'fc02::1' : 'fc03::1')).revision,
        );
      }
      const bulk = await t.migrateMany(
        flows(200).map((f) => ({ address: f.address, responder: 'fc04::1' })),
      );
      writes.push(...new Set(bulk.map((m) => m.revision)));
      target = writes.at(-1) ?? 0;
      if (last >= target) reached();
      await done;
      assert.deepEqual(
        seen.map((s) => s.revision),
        writes,
      );
      assert.deepEqual(
        seen.slice(0, 20).map((s) => s.events.length),
        Array(20).fill(1),
      );
      const first = seen[0]?.events[0];
      assert.ok(
        first?.kind === 'put' &&
          first.flow.address === 'fe00::1' &&
          first.flow.responder === 'fc02::1',
      );
      assert.deepEqual(
        seen.slice(20).map((s) => s.events.length),
        [128, 72],
      );
    } finally {
      await w.stop();
    }
  });

  it('reports a start revision compacted away, and a relist watches on', async () => {
    const t = table();
    const start = await t.load(flows(5));
    await t.migrate('fe00::1', 'fc02::1');
    const now = (await t.migrate('fe00::2', 'fc02::1')).revision;
    await client.call('compact', (e) => e.kv.compact({ revision: now, physical: true }));
    const compacted = new Promise<number>((resolve) => {
      void t.watch(start, {
        changes: () => assert.fail('a change from a compacted revision'),
        compacted: (info) => resolve(info.fromRevision),
      });
    });
    assert.equal(await compacted, start);
    const list = await t.list();
    let seen: (revision: number) => void = () => {};
    const next = new Promise<number>((resolve) => {
      seen = resolve;
    });
    const w = await t.watch(list.revision + 1, {
      changes: (revision) => seen(revision),
      compacted: () => assert.fail('compacted after a relist'),
    });
    try {
      const m = await t.migrate('fe00::3', 'fc02::1');
      assert.equal(await next, m.revision);
    } finally {
      await w.stop();
    }
  });
});

describe('malformed values', () => {
  it('are skipped and reported by list, watch and migrate, never stopping the rest', async () => {
    const t = table();
    const start = await t.load(flows(3));
    const changes: { flows: string[]; problems: string[] }[] = [];
    let seen: () => void = () => {};
    const got = new Promise<void>((r) => {
      seen = r;
    });
    const w = await t.watch(start + 1, {
      changes(_revision, events, problems) {
        changes.push({
          flows: events.map((e) => (e.kind === 'put' ? e.flow.address : e.address)),
          problems: problems.map((p) => `${p.key}: ${p.problem}`),
        });
        if (changes.length === 2) seen();
      },
      compacted: () => assert.fail('compacted'),
    });
    try {
      const flowsPrefix = t.keys.flows;
      await client.call('put', (e) =>
        e.put(`${flowsPrefix}fe00::2`).value('{"initiator":"fc00::1"').exec(),
      );
      await client.call('put', (e) => e.put(`${flowsPrefix}not-an-address`).value('{}').exec());
      await got;
      const list = await t.list();
      assert.deepEqual(
        list.flows.map((f) => f.address),
        ['fe00::1', 'fe00::3'],
      );
      assert.deepEqual(list.problems, [
        { key: `${flowsPrefix}fe00::2`, problem: 'not JSON: "{\\"initiator\\":\\"fc00::1\\""' },
        {
          key: `${flowsPrefix}not-an-address`,
          problem: 'the key does not end in a canonical IPv6 address',
        },
      ]);
      assert.deepEqual(changes, [
        {
          flows: [],
          problems: [`${flowsPrefix}fe00::2: not JSON: "{\\"initiator\\":\\"fc00::1\\""`],
        },
        {
          flows: [],
          problems: [
            `${flowsPrefix}not-an-address: the key does not end in a canonical IPv6 address`,
          ],
        },
      ]);
      await assert.rejects(
        t.migrate('fe00::2', 'fc02::1'),
        /^UnknownFlowError: flow fe00::2: not JSON/,
      );
      assert.equal((await t.migrate('fe00::3', 'fc02::1')).changed, true);
    } finally {
      await w.stop();
    }
  });
});
