// analyzeRun on small run directories written by hand: what results.json says about a run's id,
// its swaps, its traffic per kind, its TCP outcome under each policy, and its packet series.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { analyzeRun } from '../../src/experiment/analyze.js';
import { parseExperiment } from '../../src/experiment/options.js';
import type { RunRecord } from '../../src/experiment/record.js';
import { removeDir, tempDir } from '../support/tmp.js';

const T0 = 1_796_000_000_000;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await removeDir(d);
});

type Swap = RunRecord['swaps'][number];

/** A swap issued at `atMs` (ms after T0) whose rule started `waitMs` later. */
function swap(index: number, atMs: number, waitMs = 0.2, extra: Partial<Swap> = {}): Swap {
  const from = index % 2 === 0 ? 'C' : 'D';
  return {
    index,
    from,
    to: from === 'C' ? 'D' : 'C',
    issuedMs: T0 + atMs,
    ruleStartedMs: T0 + atMs + waitMs,
    ruleMs: 0.3,
    conntrackMs: 0.1,
    totalMs: 0.45,
    conntrackDeleted: 1,
    path: 'agent',
    ...extra,
  };
}

/** Counter samples every `everyMs` (at the given offsets) with each node counting `perMs` per ms. */
function samples(
  offsets: readonly number[],
  perMs: Record<string, Record<string, number>>,
): RunRecord['counters']['samples'] {
  return offsets.map((t) => ({
    tMs: T0 + t,
    values: Object.fromEntries(
      Object.entries(perMs).map(([node, counters]) => [
        node,
        Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, Math.round(v * t)])),
      ]),
    ),
  }));
}

interface RunInput {
  readonly traffic?: string[];
  readonly tcpPolicy?: 'reset' | 'drain' | 'migrate';
  readonly drainMs?: number;
  readonly swaps?: Swap[];
  readonly offsets?: number[];
  readonly perMs?: Record<string, Record<string, number>>;
  readonly files?: Record<string, string>;
  /** File contents by file name. */
  readonly contents?: Record<string, string>;
  readonly extra?: Record<string, unknown>;
}

/** Writes run.json (and the files it names) into a fresh directory; returns the directory. */
async function runDir(input: RunInput = {}): Promise<string> {
  const dir = await tempDir('analyze');
  dirs.push(dir);
  const traffic = input.traffic ?? ['ping'];
  const offsets = input.offsets ?? [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  const run = {
    id: '20261207T083210Z-demo-fmt-default',
    lab: {
      id: 'fmt-default',
      engine: 'nftables',
      nodes: [
        { name: 'A', role: 'client', namespace: 'fmt-A' },
        { name: 'B', role: 'translator', namespace: 'fmt-B' },
        { name: 'C', role: 'server', namespace: 'fmt-C' },
        { name: 'D', role: 'server', namespace: 'fmt-D' },
      ],
      flows: [{ address: 'fe00::1', initiator: 'A', responders: ['C', 'D'] }],
    },
    flow: {
      address: 'fe00::1',
      initiator: 'A',
      initiatorAddress: 'fc00::1',
      tcpPolicy: input.tcpPolicy ?? 'reset',
      ...(input.drainMs === undefined ? {} : { drainMs: input.drainMs }),
    },
    serverAddresses: { C: 'fc01::1', D: 'fc02::2' },
    options: parseExperiment({ traffic, sampleMs: 10, capture: 'none' }),
    // The traffic started two seconds after the command (the lab was built in between).
    startMs: T0,
    swapsFromMs: T0 + 20,
    endMs: T0 + (offsets.at(-1) ?? 100),
    swaps: input.swaps ?? [swap(0, 20), swap(1, 40), swap(2, 60)],
    swapsPlanned: (input.swaps ?? [0, 1, 2]).length,
    controlPath: 'agent',
    lateTranslated: 0,
    interrupted: false,
    counters: {
      names: ['Ip6InReceives', 'Icmp6InEchos', 'Udp6InDatagrams', 'Ip6OutForwDatagrams'],
      samples: samples(
        offsets,
        input.perMs ?? {
          C: { Ip6InReceives: 1 },
          D: { Ip6InReceives: 1 },
          B: { Ip6InReceives: 2 },
        },
      ),
    },
    captureDrops: {},
    files: input.files ?? {},
    tools: {},
    ...input.extra,
  };
  await writeFile(join(dir, 'run.json'), `${JSON.stringify(run)}\n`);
  for (const [name, text] of Object.entries(input.contents ?? {}))
    await writeFile(join(dir, name), text);
  return dir;
}

/** tcp-stream's last line: how the connection ended, `atMs` after T0 (null: still open). */
function tcpStream(kind: 'reset' | 'closed' | 'error' | 'open', atMs: number | null): string {
  return `${JSON.stringify({
    connectedMs: T0,
    bytesSent: 84_992,
    bytesIntact: 83_968,
    chunksIntact: 82,
    corrupt: 0,
    ended: {
      kind,
      atMs: atMs === null ? null : T0 + atMs,
      message: kind === 'reset' ? 'read ECONNRESET' : '',
    },
  })}\n`;
}

describe('analyzeRun: the run', () => {
  it('names the run with the id its runner recorded (the results directory is named with it)', async () => {
    const r = await analyzeRun(await runDir());
    assert.equal(r.id, '20261207T083210Z-demo-fmt-default');
    assert.equal(r.startedAt, new Date(T0).toISOString(), 'startedAt stays the traffic start');
  });

  it('numbers swaps from 1, as the text does, in the swaps and in the TCP end', async () => {
    const dir = await runDir({
      traffic: ['tcp'],
      files: { tcp: 'tcp-stream.json' },
      contents: { 'tcp-stream.json': tcpStream('reset', 21) },
    });
    const r = await analyzeRun(dir);
    assert.deepEqual(
      r.swaps.map((s) => s.index),
      [1, 2, 3],
    );
    assert.equal(r.traffic.tcp?.ended.afterSwap?.index, 1, 'reset after the first swap');
  });
});

describe('analyzeRun: swap timing', () => {
  it('keeps the wait before the rule apart from the rule, and the controller’s own apply time', async () => {
    const dir = await runDir({ swaps: [swap(0, 20, 29.5, { totalMs: 0.7 }), swap(1, 60, 0.25)] });
    const [first, second] = (await analyzeRun(dir)).swaps;
    assert.ok(first && second);
    // Epoch milliseconds carry ~0.1 µs of float error: compared to the µs.
    const us = (x: number) => Math.round(x * 1000) / 1000;
    const c = first.controlMs;
    assert.deepEqual([c.wait, c.rule, c.conntrack, c.total].map(us), [29.5, 0.3, 0.1, 29.9]);
    assert.equal(first.applyMs, 0.7, 'what the controller timed: rule start → its answer');
    assert.equal(us(second.controlMs.wait), 0.25);
    assert.equal(us(first.committedMs - first.issuedMs), 29.8, 'committed = issued + wait + rule');
  });
});

describe('analyzeRun: UDP per server', () => {
  it('counts each server’s datagrams of the UDP load only, not the ncat lines beside it', async () => {
    // Udp6InDatagrams counts every UDP datagram: here the load (C 90, D 45) and ncat (C 10, D 5).
    const log = Array.from({ length: 135 }, (_, i) => {
      const sent = T0 + 1 + i * 0.5;
      return `${i} ${sent.toFixed(3)} ${(sent + 0.2).toFixed(3)} 1`;
    }).join('\n');
    const dir = await runDir({
      traffic: ['udp', 'ncat-udp'],
      perMs: {
        C: { Ip6InReceives: 1, Udp6InDatagrams: 1 },
        D: { Ip6InReceives: 1, Udp6InDatagrams: 0.5 },
        B: { Ip6InReceives: 2 },
      },
      files: {
        'udp log': 'udp.log',
        'udp echo C': 'udp-echo-C.json',
        'udp echo D': 'udp-echo-D.json',
        'ncat sent': 'ncat-sent.txt',
        'ncat C': 'ncat-C.txt',
        'ncat D': 'ncat-D.txt',
      },
      contents: {
        'udp.log': `${log}\n`,
        'udp-echo-C.json': '{"received":90}\n',
        'udp-echo-D.json': '{"received":45}\n',
        'ncat-sent.txt': '15\n',
        'ncat-C.txt': Array.from({ length: 10 }, (_, i) => `ncat line ${i}\n`).join(''),
        'ncat-D.txt': Array.from({ length: 5 }, (_, i) => `ncat line ${10 + i}\n`).join(''),
      },
    });
    const r = await analyzeRun(dir);
    const udp = r.traffic.udp;
    assert.ok(udp);
    assert.equal(udp.sent, 135);
    assert.deepEqual(udp.perServer, { C: 90, D: 45 });
    const sum = Object.values(udp.perServer ?? {}).reduce((a, b) => a + b, 0);
    assert.ok(sum <= udp.sent, `per server ${sum} ≤ sent ${udp.sent}`);
    assert.deepEqual(r.traffic.ncatUdp?.perServer, { C: 10, D: 5 });
  });
});

describe('analyzeRun: the TCP outcome against the flow’s policy', () => {
  const tcpRun = (policy: 'reset' | 'drain' | 'migrate', text: string) =>
    runDir({
      traffic: ['tcp'],
      tcpPolicy: policy,
      drainMs: policy === 'drain' ? 30_000 : undefined,
      files: { tcp: 'tcp-stream.json' },
      contents: { 'tcp-stream.json': text },
    });

  it('reset: a reset after a swap is what the policy promises, and the verdict says so', async () => {
    const r = await analyzeRun(await tcpRun('reset', tcpStream('reset', 20.4)));
    assert.equal(r.verdict.ok, true, r.verdict.lines.join('; '));
    assert.ok(
      r.verdict.lines.some((l) =>
        /tcp: .*reset.*swap 1.*as the flow's tcp policy reset promises/.test(l),
      ),
      r.verdict.lines.join('; '),
    );
    assert.equal(r.traffic.tcp?.policy, 'reset');
    assert.equal(r.traffic.tcp?.asPromised, true);
  });

  for (const policy of ['drain', 'migrate'] as const) {
    it(`${policy}: a reset fails the verdict`, async () => {
      const r = await analyzeRun(await tcpRun(policy, tcpStream('reset', 20.4)));
      assert.equal(r.verdict.ok, false);
      assert.ok(
        r.verdict.lines.some((l) => new RegExp(`tcp: .*reset.*policy ${policy}`).test(l)),
        r.verdict.lines.join('; '),
      );
      assert.equal(r.traffic.tcp?.asPromised, false);
    });

    it(`${policy}: a connection still open at the end passes`, async () => {
      const r = await analyzeRun(await tcpRun(policy, tcpStream('open', null)));
      assert.equal(r.verdict.ok, true, r.verdict.lines.join('; '));
      assert.equal(r.traffic.tcp?.asPromised, true);
    });
  }

  it('a connection that ended before any swap fails under every policy', async () => {
    const r = await analyzeRun(await tcpRun('reset', tcpStream('closed', 5)));
    assert.equal(r.verdict.ok, false);
    assert.equal(r.traffic.tcp?.asPromised, false);
  });
});

describe('analyzeRun: packet series', () => {
  it('spreads a late sample’s packets over the intervals it covers (no spike at a late sample)', async () => {
    // 1 packet per ms at every node; the sample due at 40 ms came at 48 ms, the next at 50.
    const dir = await runDir({ offsets: [0, 10, 20, 30, 48, 50, 60, 70, 80, 90, 100] });
    const r = await analyzeRun(dir);
    for (const [node, counts] of Object.entries(r.series.nodes)) {
      const perMs = node === 'B' ? 2 : 1;
      for (const [k, c] of counts.entries())
        assert.ok(
          Math.abs(c - 10 * perMs) <= 1,
          `${node} interval ${k}: ${c} packets, not ${10 * perMs} (${counts.join(', ')})`,
        );
    }
  });
});
