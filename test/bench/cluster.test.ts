// flowmig bench cluster without root: the generated labs resolve as cluster labs, a migration's
// phases line up against hosts' traces, load and restart times, the targets, the text, and the
// host daemon's trace (acknowledgements cover every revision up to the one written).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterBenchLab, clusterBenchServers } from '../../src/bench/cluster-lab.js';
import { renderClusterBench } from '../../src/bench/cluster-render.js';
import {
  type ClusterBenchResult,
  type ClusterCell,
  clusterTargets,
  inSync,
  loadTimes,
  type MigrationSample,
  migrationStats,
  phasesOf,
  pingSummary,
  servingAt,
} from '../../src/bench/cluster-result.js';
import { abstractAddress } from '../../src/bench/flows.js';
import { clockMs, HostTrace } from '../../src/hostd/trace.js';
import type { HostdTrace, HostdTraceEntry } from '../../src/hostd-api/protocol.js';
import { resolveCluster } from '../../src/lab/cluster-resolve.js';

const trace = (host: string, entries: HostdTraceEntry[], answers: HostdTrace['answers'] = []) => ({
  host,
  pid: 1,
  now: 0,
  entries,
  answers,
});

const entry = (revision: number, receivedAt: number, appliedAt: number, ackedAt?: number) => ({
  revision,
  via: 'watch' as const,
  receivedAt,
  appliedAt,
  ...(ackedAt !== undefined ? { ackedAt } : {}),
});

describe('clusterBenchLab', () => {
  it('8 hosts, 10,000 flows: resolves; T<i> and S<i> on h<i>, A on h1; flows spread from A', () => {
    const lab = resolveCluster(clusterBenchLab(8, 10_000), { prefix: 'fmc-' });
    assert.equal(lab.id, 'fmc-c8x10000');
    assert.deepEqual(
      lab.hosts.map((h) => [h.name, h.translator.name, h.nodes.map((n) => n.name)]),
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => [
        `h${i}`,
        `T${i}`,
        i === 1 ? ['A', 'T1', 'S1'] : [`T${i}`, `S${i}`],
      ]),
    );
    assert.equal(lab.flows.length, 10_000);
    assert.equal(new Set(lab.flows.map((f) => f.address)).size, 10_000);
    assert.ok(lab.flows.every((f) => f.initiator === 'A'));
    const per = new Map<string, number>();
    for (const f of lab.flows) per.set(f.responder, (per.get(f.responder) ?? 0) + 1);
    assert.deepEqual([...per.values()], [1250, 1250, 1250, 1250, 1250, 1250, 1250, 1250]);
    assert.equal(lab.flows[0]?.address, abstractAddress(0));
    assert.equal(lab.flows[0]?.responder, 'S1');
    assert.equal(lab.flows[1]?.responder, 'S2');
  });

  it('host i serves from fc0i::1/64 (fc10:: for host 16), the client from fc00::1/64', () => {
    const d = clusterBenchLab(16, 1);
    const links = d.hosts.flatMap((h) => h.links.map((l) => l.address));
    assert.equal(links[0], 'fc00::1/64');
    assert.equal(links[1], 'fc01::1/64');
    assert.equal(links.at(-1), 'fc10::1/64');
    assert.equal(resolveCluster(d, { prefix: 'x-' }).hosts.length, 16);
    assert.deepEqual(clusterBenchServers(3), ['S1', 'S2', 'S3']);
  });

  it('refuses 0 or 17 hosts and 0 flows', () => {
    assert.throws(() => clusterBenchLab(0, 1), /hosts must be 1\.\.16/);
    assert.throws(() => clusterBenchLab(17, 1), /hosts must be 1\.\.16/);
    assert.throws(() => clusterBenchLab(3, 0), /flows must be ≥ 1/);
  });
});

describe('phases of a migration', () => {
  // Sent at 1000; host 1 committed it at 1005 (answered at 1020, 15 ms after the commit); h1
  // received it at 1006, applied at 1008 (conntrack 0.5), wrote back at 1012; h2 received at
  // 1007, applied at 1007.5, wrote back at 1016 (the last); the caller read the reply at 1021.
  const sample: MigrationSample = {
    sentAt: 1000,
    receivedAt: 1021,
    revision: 42,
    commitMs: 4.5,
    appliedMs: 15,
  };
  const h1 = trace(
    'h1',
    [entry(41, 900, 901, 902), { ...entry(42, 1006, 1008, 1012), conntrackMs: 0.5 }],
    [{ revision: 42, committedAt: 1005, answeredAt: 1020 }],
  );
  const h2 = trace('h2', [entry(42, 1007, 1007.5, 1016)]);

  it('follows the host whose applied write came last; the phases add up to the total', () => {
    const p = phasesOf(sample, [h1, h2]);
    assert.deepEqual(p, {
      total: 21,
      commit: 5,
      delivery: 2,
      deliveryMax: 2,
      apply: 0.5,
      conntrack: 0.5,
      write: 8.5,
      ack: 4,
      reply: 1,
      via: 'write',
    });
  });

  it('with acknowledgements: follows the host learned of last; a peer’s message skips the write', () => {
    // h1 knew itself at 1008.1, h2's message arrived at 1008.4 (long before its write at 1016).
    const acks = [
      { host: 'h1', at: 1008.1, via: 'self' as const },
      { host: 'h2', at: 1008.4, via: 'peer' as const },
    ];
    const answers = [{ revision: 42, committedAt: 1005, answeredAt: 1008.5, acks }];
    const p = phasesOf({ ...sample, receivedAt: 1009 }, [{ ...h1, answers }, h2]);
    assert.deepEqual(p, {
      total: 9,
      commit: 5,
      delivery: 2,
      deliveryMax: 2,
      apply: 0.5,
      conntrack: 0.5,
      write: 8.5,
      ack: 1,
      reply: 0.5,
      via: 'peer',
    });
    const sum = (x: NonNullable<typeof p>) => x.commit + x.delivery + x.apply + x.ack + x.reply;
    assert.equal(p && sum(p), p?.total, 'the write is off the path');
    // A host whose channel was down: etcd told of it, so its write is on the path again.
    const viaEtcd = [
      { host: 'h1', at: 1008.1, via: 'self' as const },
      { host: 'h2', at: 1016.5, via: 'etcd' as const },
    ];
    const late = [{ revision: 42, committedAt: 1005, answeredAt: 1017, acks: viaEtcd }];
    const q = phasesOf({ ...sample, receivedAt: 1018 }, [{ ...h1, answers: late }, h2]);
    assert.equal(q?.via, 'etcd');
    assert.equal(q?.ack, 1, 'the write done → answered');
    assert.equal(q && sum(q) + q.write, q?.total);
    // With acknowledgements a host's write need not be done when the trace is read.
    const unwritten = trace('h2', [entry(42, 1007, 1007.5)]);
    assert.equal(phasesOf(sample, [{ ...h1, answers }, unwritten])?.write, 0);
  });

  it('a host’s event before host 1 saw its txn answered: committed by then', () => {
    const late = { ...h1, answers: [{ revision: 42, committedAt: 1008, answeredAt: 1020 }] };
    const p = phasesOf(sample, [late, h2]);
    assert.equal(p?.commit, 6);
    assert.equal(p?.deliveryMax, 1);
    assert.equal(p?.delivery, 1);
  });

  it('without the answer on record, the commit is the caller’s send + commitMs', () => {
    const p = phasesOf(sample, [{ ...h1, answers: [] }, h2]);
    assert.equal(p?.delivery, 1007 - 1004.5);
    assert.equal(p?.ack, 1021 - 1016, 'the write → the caller');
    assert.equal(p?.reply, 0);
  });

  it('undefined when a host lacks the revision or has not acknowledged it', () => {
    assert.equal(phasesOf(sample, [h1, trace('h2', [entry(41, 1, 2, 3)])]), undefined);
    assert.equal(phasesOf(sample, [h1, trace('h2', [entry(42, 1007, 1008)])]), undefined);
  });

  it('migrationStats: p50/p99 of all, the breakdown of the traced, ping as given', () => {
    const other = { ...sample, revision: 99, receivedAt: 1030 };
    const s = migrationStats([sample, other], [h1, h2], {
      flood: true,
      failed: 1,
      error: 'x',
      ping: { transmitted: 10, received: 10 },
    });
    assert.equal(s.migrations, 2);
    assert.equal(s.traced, 1);
    assert.equal(s.p50_ms, 21);
    assert.equal(s.p99_ms, 30);
    assert.equal(s.breakdown_p50.write, 8.5);
    assert.equal(s.breakdown_p99.ack, 4);
    assert.deepEqual(s.last_ack_via, { write: 1 });
    assert.equal(s.failed, 1);
    assert.equal(s.error, 'x');
    assert.deepEqual(s.ping, { transmitted: 10, received: 10 });
  });
});

describe('load, restart, ping', () => {
  it('loadTimes: to the last host’s last apply and write after the start; null if one did none', () => {
    const a = trace('h1', [entry(5, 10, 11, 12), entry(9, 100, 150, 160)]);
    const b = trace('h2', [entry(9, 100, 170, 175)]);
    assert.deepEqual(loadTimes([a, b], 100), {
      received_ms: 0,
      applied_ms: 70,
      acked_ms: 75,
      revisions: 1,
    });
    assert.equal(loadTimes([a, trace('h3', [entry(5, 10, 11, 12)])], 100), null);
  });

  it('inSync: the first revision at or past the target applied after the spawn; when asked', () => {
    const t = trace('h2', [{ ...entry(30, 500, 900, 905), via: 'list' }, entry(31, 950, 960, 970)]);
    assert.deepEqual(inSync(t, 400, 30), { in_sync_ms: 500, asked_ms: 100 });
    assert.deepEqual(inSync(t, 400, 31), { in_sync_ms: 560, asked_ms: 550 });
    assert.deepEqual(inSync(t, 400, 32), { in_sync_ms: null, asked_ms: null });
    assert.deepEqual(
      inSync(t, 950, 30),
      { in_sync_ms: 10, asked_ms: 0 },
      'applied after the spawn',
    );
  });

  it('servingAt: the last "serving on" line of the daemon log, null without one', () => {
    const log = [
      '2026-12-07T13:00:00.100Z host h2 of lab x: serving on /s/x.h2.sock (pid 1); translator x-T2',
      '2026-12-07T13:00:00.500Z caught up at revision 5: 1 flows, 0 restated, 0 route change(s)',
      '2026-12-07T13:00:09.250Z host h2 of lab x: serving on /s/x.h2.sock (pid 2); translator x-T2',
      '2026-12-07T13:00:09.400Z caught up at revision 9: 1 flows, 0 restated, 0 route change(s)',
      '',
    ].join('\n');
    assert.equal(servingAt(log), Date.parse('2026-12-07T13:00:09.250Z'));
    assert.equal(servingAt('2026-12-07T13:00:00.500Z caught up'), null);
  });

  it('pingSummary reads iputils’ line, null without one', () => {
    assert.deepEqual(
      pingSummary(
        '--- fe00::1 ping statistics ---\n149511 packets transmitted, 149509 received, 0% packet loss',
      ),
      { transmitted: 149_511, received: 149_509 },
    );
    assert.equal(pingSummary(''), null);
  });
});

const stats = (p50: number, p99: number) => ({
  ...migrationStats([], [], { flood: false, failed: 0 }),
  migrations: 200,
  p50_ms: p50,
  p99_ms: p99,
  last_ack_via: { etcd: 3, peer: 197 },
});

const cell = (over: Partial<ClusterCell>): ClusterCell => ({
  hosts: 8,
  flows: 1,
  lab: 'fmc-c8x1',
  up_ms: 3000,
  load: { received_ms: 150, applied_ms: 200, acked_ms: 210, revisions: 1 },
  idle: stats(6, 30),
  flood: null,
  restart: { in_sync_ms: 400, serving_ms: 200, asked_ms: 300, status_ms: 420, revision: 10 },
  p50_vs_inprocess: 3,
  ...over,
});

describe('targets and text', () => {
  it('8-host cells get the latency targets, 8 × 10,000 the load target, every cell the restart', () => {
    const t = clusterTargets([
      cell({
        hosts: 3,
        lab: 'fmc-c3x1',
        restart: { in_sync_ms: null, serving_ms: null, asked_ms: null, status_ms: 0, revision: 1 },
      }),
      cell({}),
      cell({
        flows: 10_000,
        lab: 'fmc-c8x10000',
        idle: stats(9, 41),
        load: { received_ms: 4_900, applied_ms: 5_001, acked_ms: 5_100, revisions: 79 },
        restart: {
          in_sync_ms: 1_000,
          serving_ms: 500,
          asked_ms: 700,
          status_ms: 1_010,
          revision: 90,
        },
      }),
    ]);
    assert.deepEqual(
      t.map((x) => [x.name, x.value, x.limit, x.met]),
      [
        ['idle migration at 8 hosts, 1 flows: p50 ms', 6, 8, true],
        ['idle migration at 8 hosts, 1 flows: p99 ms', 30, 40, true],
        ['idle migration at 8 hosts, 10000 flows: p50 ms', 9, 8, false],
        ['idle migration at 8 hosts, 10000 flows: p99 ms', 41, 40, false],
        ['10,000 flows loaded and applied on 8 translators: ms', 5_001, 5_000, false],
        ['restarted host daemon in sync at 3 hosts, 1 flows: ms', null, 1_000, false],
        ['restarted host daemon in sync at 8 hosts, 1 flows: ms', 400, 1_000, true],
        ['restarted host daemon in sync at 8 hosts, 10000 flows: ms', 1_000, 1_000, true],
      ],
    );
  });

  it('renders a row per cell and mode, the baseline, ratios, ping and targets', () => {
    const flood = { ...stats(12, 50), flood: true, ping: { transmitted: 5, received: 5 } };
    const cells = [cell({ flood, idle: { ...stats(6, 30), failed: 2, error: 'boom' } })];
    const r: ClusterBenchResult = {
      startedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:01:00.000Z',
      cpus: 2,
      load: { atStart: [1, 2, 3], atEnd: [1, 2, 3] },
      labs: ['fmc-ic', 'fmc-c8x1'],
      cells,
      baseline: [{ flows: 1, swaps: 200, p50_ms: 2, p99_ms: 5, apply_p50_ms: 0.3 }],
      targets: clusterTargets(cells),
      notes: ['a note'],
    };
    const text = renderClusterBench(r);
    const lines = text.split('\n');
    assert.match(
      lines.find((l) => l.startsWith('8 ') && l.includes('idle')) ?? '',
      /200 \(2 failed\)\s+6\.00\s+30 .*peer 197 etcd 3 .*200 \(150\)\s+400 \(200, 300, 420\)$/,
    );
    assert.match(text, /ACK\s+REPLY\s+LAST ACK VIA\s+WRITE\*/);
    assert.match(lines.find((l) => l.includes('flood')) ?? '', /^8\s+1\s+flood\s+200\s+12\s+50/);
    assert.match(text, /^1\s+200\s+2\.00\s+5\.00\s+0\.30$/m);
    assert.match(text, /the phases’ p99 \(ms\):\nHOSTS\s+FLOWS\s+MODE\s+COMMIT/);
    assert.match(text, /^8\s+1\s+3\.0×$/m);
    assert.match(text, /flood at 8 hosts, 1 flows: ping sent 5, received 5/);
    assert.match(text, /target: idle migration at 8 hosts, 1 flows: p50 ms ≤ 8: 6\.00 \(met\)/);
    assert.match(text, /error at 8 hosts, 1 flows: boom/);
    assert.match(text, /note: a note/);
  });
});

describe('HostTrace', () => {
  it('an applied write acknowledges every revision up to it, once; capacity bounds it', () => {
    const t = new HostTrace(3);
    t.applied(1, 'list', 10);
    t.applied(2, 'watch', 11, { ruleMs: 0.2, conntrackMs: 0.1 });
    t.acked(2);
    const first = t.snapshot('h1').entries.map((e) => e.ackedAt);
    assert.ok(first.every((a) => a !== undefined));
    t.applied(3, 'watch', 12);
    t.applied(4, 'watch', 13);
    t.acked(3);
    const s = t.snapshot('h1');
    assert.deepEqual(
      s.entries.map((e) => [e.revision, e.via]),
      [
        [2, 'watch'],
        [3, 'watch'],
        [4, 'watch'],
      ],
    );
    assert.equal(s.entries[0]?.ackedAt, first[1], 'revision 2 keeps its first acknowledgement');
    assert.ok((s.entries[1]?.ackedAt ?? 0) >= (first[1] ?? 0));
    assert.equal(s.entries[2]?.ackedAt, undefined);
    assert.equal(s.entries[0]?.conntrackMs, 0.1);
    assert.ok(Math.abs((s.entries[2]?.appliedAt ?? 0) - clockMs()) < 1_000, 'the monotonic clock');
    t.answered(4, 2.5);
    const a = t.snapshot('h1').answers[0];
    assert.ok(a && Math.abs(a.answeredAt - a.committedAt - 2.5) < 1e-6);
    assert.equal(a?.acks, undefined);
    t.answered(5, 1, [{ host: 'h2', at: 7, via: 'peer' }]);
    assert.deepEqual(t.snapshot('h1').answers[1]?.acks, [{ host: 'h2', at: 7, via: 'peer' }]);
    assert.equal(s.host, 'h1');
    assert.equal(s.pid, process.pid);
  });
});
