// The in-process fast path (Flowmig's `inProcess`, every controller's default): migrations over
// netlink sockets this process made in the translator namespace, the agent and programs behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AgentClient } from '../../src/agent/client.js';
import { Flowmig } from '../../src/control/flowmig.js';
import { conntrackLinesTo, runner, TWO_FLOW_LAB, withLab } from '../kernel-support/lab.js';

async function ping(netns: string, address: string): Promise<void> {
  await runner.run(['ping', '-6', '-c', '1', '-W', '2', address], { netns });
}

describe('in-process fast path', () => {
  it('status says so; a migration is applied in-process and deletes only its flow’s entries', async () => {
    await withLab(
      TWO_FLOW_LAB,
      async ({ fm, lab, ns }) => {
        const before = await fm.status(lab.id);
        assert.deepEqual(before.controlPath, { kind: 'in-process', conntrackIndexed: undefined });
        await ping(ns('A'), 'fe00::1');
        await ping(ns('A'), 'fe00::2');
        const other = await conntrackLinesTo(ns('B'), 'fe00::2');
        assert.equal((await conntrackLinesTo(ns('B'), 'fe00::1')).length, 1);
        assert.equal(other.length, 1);
        const r = await fm.migrate(lab.id, 'one', 'D');
        assert.equal(r.path, 'in-process', r.note);
        assert.equal(r.note, undefined);
        assert.equal(r.conntrackDeleted, 1);
        assert.deepEqual(await conntrackLinesTo(ns('B'), 'fe00::1'), []);
        // The same entry: its tuple, not its remaining time (conntrack -L prints the timeout
        // counting down, so two reads a second apart differ in that field alone).
        const tuple = (l: string) => l.replace(/^(\S+\s+\d+\s+)\d+\s+/, '$1');
        assert.deepEqual(
          (await conntrackLinesTo(ns('B'), 'fe00::2')).map(tuple),
          other.map(tuple),
          'the other flow’s entry stays',
        );
        await ping(ns('A'), 'fe00::1'); // answered by D now
        const after = await fm.status(lab.id);
        assert.equal(after.controlPath.kind, 'in-process');
        assert.ok(
          after.flows.every((f) => f.inSync),
          JSON.stringify(after.flows),
        );
        assert.match((await conntrackLinesTo(ns('B'), 'fe00::1'))[0] ?? '', /src=fc02::2 /);
      },
      { inProcess: true },
    );
  });

  it('the agent indexes conntrack only while it migrates: it stands by once migrations are in-process', async () => {
    await withLab(
      undefined,
      async ({ fm, lab, ns, stateDir }) => {
        const hello = async () => {
          const agent = (await fm.store.read(lab.id))?.agent;
          assert.ok(agent, 'the lab has an agent');
          const c = await AgentClient.connect(agent.socket);
          try {
            return await c.hello();
          } finally {
            c.close();
          }
        };
        assert.equal((await hello()).indexing, false, 'not before its first migration');
        const byAgent = new Flowmig({ stateDir, inProcess: false });
        try {
          await ping(ns('A'), 'fe00::1');
          const r = await byAgent.swap(lab.id);
          assert.deepEqual([r.path, r.conntrackDeleted], ['agent', 1]);
          assert.equal((await hello()).indexing, true);
          const s = await byAgent.status(lab.id);
          assert.equal(s.controlPath.kind, 'agent');
          assert.equal(typeof s.controlPath.conntrackIndexed, 'number');
        } finally {
          byAgent.close();
        }
        await ping(ns('A'), 'fe00::1');
        const r = await fm.swap(lab.id);
        assert.deepEqual([r.path, r.conntrackDeleted], ['in-process', 1]);
        const h = await hello();
        assert.deepEqual([h.indexing, h.entries], [false, 0], 'standing by');
        // Still the fallback: asked again, it indexes by a dump and deletes the flow's entry.
        await ping(ns('A'), 'fe00::1');
        const fallback = new Flowmig({ stateDir, inProcess: false });
        try {
          const back = await fallback.swap(lab.id);
          assert.deepEqual([back.path, back.conntrackDeleted], ['agent', 1]);
        } finally {
          fallback.close();
        }
        assert.equal((await hello()).indexing, true);
      },
      { inProcess: true },
    );
  });

  it('a lab rebuilt under the same name is reached in its new namespace', async () => {
    await withLab(
      undefined,
      async ({ fm, lab }) => {
        assert.equal((await fm.swap(lab.id)).path, 'in-process');
        await fm.down(lab.id);
        await fm.up(lab);
        const r = await fm.swap(lab.id);
        assert.equal(r.path, 'in-process', r.note);
        const s = await fm.status(lab.id);
        assert.ok(
          s.flows.every((f) => f.inSync),
          JSON.stringify(s.flows),
        );
        assert.equal(s.flows[0]?.responder, 'D');
      },
      { inProcess: true },
    );
  });

  it('without the native addon: the agent (on its event-loop netlink path) migrates, and says why', async () => {
    const saved = process.env.FLOWMIG_NETLINK;
    process.env.FLOWMIG_NETLINK = 'event-loop'; // the agent process inherits it
    try {
      await withLab(
        undefined,
        async ({ fm, lab, ns }) => {
          const s = await fm.status(lab.id);
          assert.equal(s.controlPath.kind, 'agent', JSON.stringify(s.controlPath));
          await ping(ns('A'), 'fe00::1');
          const r = await fm.swap(lab.id);
          assert.equal(r.path, 'agent');
          assert.match(r.note ?? '', /in-process path unavailable .*FLOWMIG_NETLINK=event-loop/);
          assert.equal(r.conntrackDeleted, 1);
          const again = await fm.status(lab.id);
          assert.ok(again.flows.every((f) => f.inSync));
        },
        { inProcess: true },
      );
    } finally {
      if (saved === undefined) delete process.env.FLOWMIG_NETLINK;
      else process.env.FLOWMIG_NETLINK = saved;
    }
  });
});
