// The dashboard's live view without a kernel: which flows moved, the status as the page shows it,
// the event stream's framing and backlog limit, the rate arithmetic, and the view's log: its own
// migrations logged the moment they commit, evacuations and other processes' changes by the flows
// that moved, metrics told of each, and the kept rows bounded.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { LabStatus, MigrationResult } from '../../src/control/results.js';
import { Feed, MAX_BACKLOG, sseFrame } from '../../src/daemon/feed.js';
import { LiveView, liveStatus, type MigrationSink, movedFlows } from '../../src/daemon/live.js';
import { singleHostLab } from '../../src/daemon/live-lab.js';
import { rateOf } from '../../src/daemon/rates.js';
import { type LiveEvent, LOG_KEPT } from '../../src/daemon-api/live.js';
import type { Lab, LabFlow } from '../../src/lab/model.js';

const flow = (address: string, responder: string, initiator = 'A'): LabFlow => ({
  name: undefined,
  address,
  initiator,
  responder,
});

describe('movedFlows', () => {
  it('lists each end that changed, by address; new and gone flows are not moves', () => {
    const before = [flow('fe00::1', 'C'), flow('fe00::2', 'C'), flow('fe00::3', 'D')];
    const after = [flow('fe00::1', 'D'), flow('fe00::2', 'C', 'A2'), flow('fe00::4', 'C')];
    assert.deepEqual(
      movedFlows(before, after).map((m) => [m.flow.address, m.role, m.from, m.to]),
      [
        ['fe00::1', 'responder', 'C', 'D'],
        ['fe00::2', 'initiator', 'A', 'A2'],
      ],
    );
  });
});

describe('rateOf', () => {
  it('is packets per second over the period; a counter that went back reads 0', () => {
    assert.equal(rateOf(100, 200, 100), 1000);
    assert.equal(rateOf(100, 100, 100), 0);
    assert.equal(rateOf(200, 100, 100), 0);
    assert.equal(rateOf(0, 5, 0), 0);
  });
});

describe('sseFrame and Feed', () => {
  it('frames an event as one event line and one data line', () => {
    const e: LiveEvent = { type: 'late', seq: 3, late: 7 };
    assert.equal(sseFrame(e), 'event: late\ndata: {"type":"late","seq":3,"late":7}\n\n');
  });

  it('cuts off a stream whose backlog passed the limit, and tells how many watch', () => {
    const counts: number[] = [];
    const feed = new Feed((n) => counts.push(n));
    // A response that never drains: writableLength grows with every write.
    const res = new PassThrough({
      highWaterMark: 1,
    }) as unknown as import('node:http').ServerResponse;
    Object.assign(res, { writeHead: () => res });
    feed.open(res, { type: 'late', seq: 1, late: 1 });
    assert.equal(feed.size, 1);
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i * big.length <= MAX_BACKLOG + big.length; i++)
      feed.send({ type: 'flows', flows: [{ ...flow(big, 'C'), tcp: 'reset' }] });
    feed.send({ type: 'late', seq: 1, late: 2 });
    assert.equal((res as unknown as PassThrough).destroyed, true);
    feed.close();
    assert.deepEqual(counts.slice(0, 1), [1]);
  });
});

const lab = {
  id: 'lab1',
  engine: 'nftables',
  nodes: [],
  links: [],
  translator: { name: 'B', role: 'translator', netns: 'x' },
  policies: new Map([['fe00::2', { tcp: 'migrate', drainMs: 0 }]]),
} as unknown as Lab;

function result(address: string, from: string, to: string): MigrationResult {
  return {
    lab: 'lab1',
    flow: address,
    role: 'responder',
    from,
    to,
    changed: true,
    totalMs: 2,
    ruleMs: 1,
    conntrackMs: 0.5,
    conntrackDeleted: 3,
    path: 'in-process',
    note: undefined,
    steps: [],
  };
}

async function view(initial: LabFlow[]) {
  let stateFlows = initial;
  const told: string[] = [];
  const metrics: MigrationSink = {
    migrated: (m) => told.push(`ok ${m.path} ${m.tcpPolicy} ${m.totalMs ?? '-'}`),
    failed: (m) => told.push(`${m.result} ${m.tcpPolicy}`),
  };
  const v = new LiveView(
    {
      lab: singleHostLab(lab),
      version: '0',
      flows: async () => stateFlows,
      read: async () => {
        throw new Error('no kernel here');
      },
    },
    metrics,
  );
  await v.start();
  const sent: LiveEvent[] = [];
  (v as unknown as { send(e: LiveEvent): void }).send = (e) => sent.push(e);
  return { v, sent, told, setFlows: (f: LabFlow[]) => (stateFlows = f) };
}

describe('LiveView', () => {
  it('logs its own migration the moment it commits, with the flows, and tells the metrics', async () => {
    const { v, sent, told } = await view([flow('fe00::1', 'C'), flow('fe00::2', 'C')]);
    v.changed({ kind: 'migrated', result: result('fe00::2', 'C', 'D') });
    assert.deepEqual(
      sent.map((e) => e.type),
      ['migration', 'flows'],
    );
    const row = sent[0]?.type === 'migration' ? sent[0].row : undefined;
    assert.equal(row?.seq, 1);
    assert.equal(row?.source, 'daemon');
    assert.deepEqual([row?.from, row?.to, row?.conntrackDeleted], ['C', 'D', 3]);
    const flows = sent[1]?.type === 'flows' ? sent[1].flows : [];
    assert.deepEqual(
      flows.map((f) => [f.address, f.responder, f.tcp]),
      [
        ['fe00::1', 'C', 'reset'],
        ['fe00::2', 'D', 'migrate'],
      ],
    );
    assert.deepEqual(told, ['ok in-process migrate 2']);
    v.failed('fe00::1', 'invalid');
    assert.deepEqual(told.slice(1), ['invalid reset']);
    await v.close();
  });

  it('logs an evacuation as one row per flow that moved', async () => {
    const { v, sent } = await view([
      flow('fe00::1', 'C'),
      flow('fe00::2', 'D'),
      flow('fe00::3', 'C'),
    ]);
    v.changed({
      kind: 'evacuated',
      result: {
        lab: 'lab1',
        from: 'C',
        to: 'D',
        moved: 2,
        totalMs: 3,
        ruleMs: 1,
        conntrackMs: 1,
        conntrackDeleted: 4,
        path: 'agent',
        note: undefined,
      },
    });
    const rows = sent.flatMap((e) => (e.type === 'migration' ? [e.row] : []));
    assert.deepEqual(
      rows.map((r) => [r.flow, r.from, r.to, r.batched, r.conntrackDeleted, r.path]),
      [
        ['fe00::1', 'C', 'D', 2, 4, 'agent'],
        ['fe00::3', 'C', 'D', 2, undefined, 'agent'],
      ],
    );
    assert.equal(v.snapshot().flows.filter((f) => f.responder === 'D').length, 3);
    await v.close();
  });

  it("logs another process's change from the state, with its timings when recorded", async () => {
    const { v, sent, setFlows } = await view([flow('fe00::1', 'C')]);
    setFlows([flow('fe00::1', 'D')]);
    const at = '2026-12-07T00:00:00.000Z';
    await v.outsideChange({
      flow: 'fe00::1',
      from: 'C',
      to: 'D',
      at,
      totalMs: 5,
      ruleMs: 2,
      conntrackMs: 1,
      conntrackDeleted: 1,
      path: 'programs',
    });
    const row = sent.find((e) => e.type === 'migration');
    assert.ok(row?.type === 'migration');
    assert.deepEqual(
      [row.row.source, row.row.at, row.row.totalMs, row.row.path],
      ['outside', at, 5, 'programs'],
    );
    // The same state read again (the daemon's own commit also touches the files): nothing new.
    sent.length = 0;
    await v.outsideChange(undefined);
    assert.deepEqual(sent, []);
    await v.close();
  });

  it(`keeps at most ${LOG_KEPT} rows for a page that connects`, async () => {
    const { v } = await view([flow('fe00::1', 'C')]);
    let at = 'C';
    for (let i = 0; i < LOG_KEPT + 50; i++) {
      const to = at === 'C' ? 'D' : 'C';
      v.changed({ kind: 'migrated', result: result('fe00::1', at, to) });
      at = to;
    }
    const log = v.snapshot().log;
    assert.equal(log.length, LOG_KEPT);
    assert.equal(log[log.length - 1]?.seq, LOG_KEPT + 50);
    await v.close();
  });
});

describe('liveStatus', () => {
  it('shows the drift, control path, late table, drains, servers and this host', () => {
    const st = {
      drift: ['fe00::1: kernel → D, table → C'],
      controlPath: { kind: 'agent', pid: 42, conntrackIndexed: 1 },
      late: { installed: true, graceMs: 5000, translated: 9, afterConntrack: 0, former: [{}, {}] },
      flows: [{ address: 'fe00::1', drains: [{ responder: 'C', endsInMs: 1200 }] }],
      servers: [{ node: 'C', running: true, connections: 3 }],
    } as unknown as LabStatus;
    const s = liveStatus(st, { pid: 1, startedAt: 'x', changes: 2, queued: 0 });
    assert.deepEqual(s.drift, st.drift);
    assert.equal(s.controlPath, 'agent (pid 42)');
    assert.deepEqual(s.late, { installed: true, translated: 9, former: 2 });
    assert.deepEqual(s.drains, [{ flow: 'fe00::1', responder: 'C', endsInMs: 1200 }]);
    assert.deepEqual(s.servers, [{ node: 'C', running: true, connections: 3 }]);
    assert.equal(s.hosts.length, 1);
    assert.equal(s.hosts[0]?.lag, undefined); // it drifts: not in sync
  });
});
