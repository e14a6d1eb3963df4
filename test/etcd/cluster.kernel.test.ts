// A real 3-member etcd cluster on 127.0.0.1: members started, found and stopped as flowmig's
// processes; faults (SIGKILL one member, then a second, then restart both) seen through the flow
// table and its watch; put → watch event and CAS txn latencies recorded as a diagnostic.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { flowKey } from '../../src/cluster/keys.js';
import { FlowTable } from '../../src/cluster/table.js';
import { putOp, sameModRevision } from '../../src/cluster/txn.js';
import { flowText } from '../../src/cluster/values.js';
import { EtcdClient } from '../../src/etcd/client.js';
import { EtcdCallError } from '../../src/etcd/errors.js';
import { dataDirOf, ETCD_MARKER, logFileOf } from '../../src/etcd/member.js';
import { findMembers, waitHealthy } from '../../src/etcd/member-process.js';
import { isOurProcess } from '../../src/procs/find.js';
import { LoopbackCluster } from './etcd-lab.js';

let etcd: LoopbackCluster;
let client: EtcdClient;

before(async () => {
  etcd = await LoopbackCluster.start(3);
  client = new EtcdClient({ endpoints: etcd.endpoints });
});
after(async () => {
  client?.close();
  const token = etcd?.token;
  await etcd?.stop();
  if (token !== undefined) assert.deepEqual(await findMembers(token), [], 'members left running');
});

/** Which member (index) leads, asked of each live member alone. */
async function leaderIndex(): Promise<number> {
  const ids: string[] = [];
  let leader = '';
  for (const endpoint of etcd.endpoints) {
    const one = new EtcdClient({ endpoints: [endpoint] });
    try {
      const s = await one.call('status', (e) => e.maintenance.status());
      ids.push(s.header.member_id);
      leader = s.leader;
    } catch {
      ids.push('');
    } finally {
      one.close();
    }
  }
  return ids.indexOf(leader);
}

/** Restarts the members a test killed, so a failed test leaves the next a whole cluster. */
async function restartKilled(): Promise<void> {
  await Promise.all(etcd.running.flatMap((r, i) => (r === undefined ? [etcd.startMember(i)] : [])));
  await waitHealthy(etcd.endpoints, { timeoutMs: 15_000 });
}

const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

describe('members as managed processes', () => {
  it('are found by their token, private on disk, and marked in their command line', async () => {
    const found = await findMembers(etcd.token);
    assert.deepEqual(
      found.map((m) => [m.pid, m.name]).sort(),
      etcd.running.map((r) => [r?.pid, r?.name]).sort(),
    );
    for (const [i, m] of etcd.members.entries()) {
      const pid = etcd.running[i]?.pid ?? 0;
      assert.ok(await isOurProcess(pid, [ETCD_MARKER, etcd.token, '--name', m.name]));
      assert.equal((await stat(dataDirOf(m))).mode & 0o777, 0o700);
      assert.equal((await stat(logFileOf(m))).mode & 0o777, 0o600);
    }
    assert.equal((await stat(etcd.dir)).mode & 0o777, 0o700);
  });
});

describe('faults', () => {
  it('one member down: calls succeed; two down: "no quorum" within 2 s; both back: calls succeed', async () => {
    const t = new FlowTable(client, { root: '/faults/' });
    const start = await t.load([
      { address: 'fe00::1', initiator: 'fc00::1', responder: 'fc01::1' },
    ]);
    // A watch across every fault: it must see each committed migration once, in order.
    const seen: number[] = [];
    const w = await t.watch(start + 1, {
      changes: (revision) => seen.push(revision),
      compacted: () => assert.fail('compacted'),
    });
    const committed: number[] = [];
    let n = 0;
    const migrate = async () => {
      const m = await t.migrate('fe00::1', `fc09::${(++n).toString(16)}`);
      committed.push(m.revision);
      return m;
    };
    try {
      // A follower dies: every call still succeeds (the client moves to a live member).
      const leader = await leaderIndex();
      const follower = [0, 1, 2].find((i) => i !== leader) ?? 0;
      await etcd.kill(follower);
      for (let i = 0; i < 10; i++) await migrate();

      // The leader dies too: no quorum. The call fails with the count, within 2 s.
      await etcd.kill(leader);
      for (let i = 0; i < 3; i++) {
        const began = Date.now();
        const error = await migrate().then(
          () => assert.fail('a migration committed without a quorum'),
          (e: unknown) => e,
        );
        const took = Date.now() - began;
        assert.ok(error instanceof EtcdCallError, String(error));
        assert.equal(error.message, 'etcd has no quorum: 1 of 3 members answer');
        assert.ok(took < 2_000, `failed after ${took} ms`);
      }

      // Both restart on their data: after the new cluster's election, calls succeed again.
      await Promise.all([etcd.startMember(follower), etcd.startMember(leader)]);
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          await migrate();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
      }
      for (let i = 0; i < 10; i++) await migrate();
      const last = committed.at(-1) ?? 0;
      for (let waited = 0; (seen.at(-1) ?? 0) < last && waited < 10_000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(seen, committed);
    } finally {
      await w.stop();
      await restartKilled();
    }
  });

  it('the leader killed: calls succeed once another is elected; meanwhile they fail as the call’s, not quorum', async () => {
    const t = new FlowTable(client, { root: '/leader/' });
    await t.load([{ address: 'fe00::1', initiator: 'fc00::1', responder: 'fc01::1' }]);
    const leader = await leaderIndex();
    await etcd.kill(leader);
    try {
      let failures = 0;
      let successes = 0;
      for (let i = 0; successes < 10; i++) {
        try {
          await t.migrate('fe00::1', `fc02::${(i + 1).toString(16)}`);
          successes++;
        } catch (error) {
          // A proposal forwarded to the dead leader is lost; it fails at the call's deadline.
          assert.ok(error instanceof EtcdCallError && error.kind === 'failed', String(error));
          assert.match(error.message, /\(2 of 3 members answer\)$/);
          assert.ok(++failures <= 3, `${failures} calls failed with a quorum up`);
        }
      }
    } finally {
      await restartKilled();
    }
  });
});

describe('latency on the 3-member loopback cluster', () => {
  it('records put → watch event and CAS txn times (diagnostic, no timing asserted)', async (ctx) => {
    const t = new FlowTable(client, { root: '/latency/' });
    const start = await t.load([
      { address: 'fe00::1', initiator: 'fc00::1', responder: 'fc01::1' },
    ]);
    const events = new Map<number, number>();
    const w = await t.watch(start + 1, {
      changes: (revision) => events.set(revision, performance.now()),
      compacted: () => assert.fail('compacted'),
    });
    const rounds = 200;
    const txn: number[] = [];
    const toEvent: number[] = [];
    const migrations: number[] = [];
    try {
      // The CAS txn alone (what a migration's write is): compare the mod revision, put.
      const key = flowKey(t.keys, 'fe00::1');
      let mod = start;
      const sent: { revision: number; at: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        const value = flowText({
          initiator: 'fc00::1',
          responder: `fc03::${(i + 1).toString(16)}`,
          tcp: 'reset',
          generation: i + 1,
        });
        const at = performance.now();
        const r = await client.call('txn', (e) =>
          e.kv.txn({ compare: [sameModRevision(key, mod)], success: [putOp(key, value)] }),
        );
        txn.push(performance.now() - at);
        assert.equal(r.succeeded, true);
        mod = Number(r.header.revision);
        sent.push({ revision: mod, at });
      }
      for (let waited = 0; !events.has(mod) && waited < 10_000; waited += 20) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const s of sent) {
        const got = events.get(s.revision);
        assert.ok(got !== undefined, `no watch event for revision ${s.revision}`);
        toEvent.push(got - s.at);
      }
      // A whole migrate() call: read the flow, then the CAS txn.
      for (let i = 0; i < rounds; i++) {
        const at = performance.now();
        await t.migrate('fe00::1', `fc04::${(i + 1).toString(16)}`);
        migrations.push(performance.now() - at);
      }
    } finally {
      await w.stop();
    }
    const ms = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(2)} ms p99 ${percentile(xs, 99).toFixed(2)} ms`;
    ctx.diagnostic(
      `${rounds} each: CAS txn ${ms(txn)}; txn sent → watch event ${ms(toEvent)}; migrate() (read + txn) ${ms(migrations)}`,
    );
  });
});
