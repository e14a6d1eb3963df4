// The daemon's Prometheus metrics: names, types, HELP, labels and buckets; counts after migrations
// that committed or failed; values read from the sources at scrape time (absolute, one kernel read
// per scrape); a failing or hanging source leaves its last values and still answers; and
// `promtool check metrics` accepts the text with no lint warning.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { DaemonMetrics, DURATION_BUCKETS, type MetricSources } from '../../src/daemon/metrics.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of an exposition text (the format prom-client writes: no timestamps). */
function samplesOf(text: string): Sample[] {
  const found: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] ?? ''] = l[2] ?? '';
    found.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return found;
}

/** The value of the one sample named `name` with exactly `labels` (undefined: none). */
function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = samplesOf(text).filter(
    (s) =>
      s.name === name &&
      JSON.stringify(Object.entries(s.labels).sort()) ===
        JSON.stringify(Object.entries(labels).sort()),
  );
  assert.ok(hits.length <= 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** `# TYPE` and `# HELP` lines per metric name. */
function metadataOf(text: string): Map<string, { type?: string; help?: string }> {
  const meta = new Map<string, { type?: string; help?: string }>();
  for (const m of text.matchAll(/^# (TYPE|HELP) (\S+) (.*)$/gm)) {
    const entry = meta.get(m[2] ?? '') ?? {};
    if (m[1] === 'TYPE') entry.type = m[3];
    else entry.help = m[3];
    meta.set(m[2] ?? '', entry);
  }
  return meta;
}

/** Runs `promtool check metrics` on `text`: its exit code and everything it printed. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

/** Sources whose answers the test sets, counting the kernel reads. */
function fakeSources() {
  const state = {
    flows: 1,
    drift: false,
    late: 0,
    nodes: { A: 0, C: 0, D: 0 } as Record<string, number>,
    kernelReads: 0,
    fail: new Set<'flows' | 'kernel' | 'nodes'>(),
    hang: false,
  };
  const sources: MetricSources = {
    flows: () => {
      if (state.fail.has('flows')) throw new Error('no table');
      return state.flows;
    },
    kernel: async () => {
      state.kernelReads++;
      if (state.hang) return new Promise(() => {});
      await new Promise((r) => setTimeout(r, 5)); // a read takes a while: scrapes may overlap it
      if (state.fail.has('kernel')) throw new Error('netlink: no such table');
      return { drift: state.drift, lateTranslated: state.late };
    },
    nodePackets: async () => {
      if (state.fail.has('nodes')) throw new Error('observer gone');
      return { ...state.nodes };
    },
  };
  return { state, sources };
}

const INFO = { lab: 'fmtest-default', engine: 'nftables', version: '0.1.0' };

const FLOWMIG_METRICS = {
  flowmig_migrations_total: 'counter',
  flowmig_migration_duration_seconds: 'histogram',
  flowmig_conntrack_entries_deleted_total: 'counter',
  flowmig_late_packets_translated_total: 'counter',
  flowmig_flows: 'gauge',
  flowmig_drift: 'gauge',
  flowmig_node_packets_total: 'counter',
  flowmig_tcp_connections_moved_total: 'counter',
  flowmig_build_info: 'gauge',
  flowmig_metrics_read_errors_total: 'counter',
};

describe('DaemonMetrics', () => {
  it('exports each flowmig metric with its type and a HELP text, in its own registry', async () => {
    const m = new DaemonMetrics(INFO, fakeSources().sources);
    // A second daemon's metrics in the same process: a shared registry would refuse the names.
    const other = new DaemonMetrics({ ...INFO, lab: 'other' }, fakeSources().sources);
    const text = await m.text();
    const meta = metadataOf(text);
    const ours = [...meta.keys()].filter((n) => n.startsWith('flowmig_')).sort();
    assert.deepEqual(ours, Object.keys(FLOWMIG_METRICS).sort());
    for (const [name, type] of Object.entries(FLOWMIG_METRICS)) {
      assert.equal(meta.get(name)?.type, type, name);
      assert.ok((meta.get(name)?.help ?? '').length > 20, `${name} says what it counts`);
    }
    assert.equal(
      sampleValue(text, 'flowmig_build_info', {
        version: '0.1.0',
        engine: 'nftables',
        lab: INFO.lab,
      }),
      1,
    );
    assert.match(await other.text(), /flowmig_build_info\{[^}]*lab="other"\} 1/);
    assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    // prom-client's global registry holds none of them.
    assert.doesNotMatch(await globalRegistry.metrics(), /flowmig_/);
  });

  it('adds the process metrics under their standard names, without the *_total gauges', async () => {
    const text = await new DaemonMetrics(INFO, fakeSources().sources).text();
    const meta = metadataOf(text);
    assert.equal(meta.get('process_cpu_seconds_total')?.type, 'counter');
    assert.equal(meta.get('process_resident_memory_bytes')?.type, 'gauge');
    assert.ok(meta.has('nodejs_eventloop_lag_p99_seconds'));
    assert.ok(meta.has('nodejs_active_handles'));
    const misnamed = [...meta].filter(([n, e]) => n.endsWith('_total') && e.type !== 'counter');
    assert.deepEqual(misnamed, []);
    assert.ok(
      ![...meta.keys()].some(
        (n) => n.startsWith('flowmig_process') || n.startsWith('flowmig_nodejs'),
      ),
    );
  });

  it('has every phase of the duration histogram from the start, in the agreed buckets', async () => {
    const text = await new DaemonMetrics(INFO, fakeSources().sources).text();
    for (const phase of ['rule', 'conntrack', 'total']) {
      const les = samplesOf(text)
        .filter(
          (s) => s.name === 'flowmig_migration_duration_seconds_bucket' && s.labels.phase === phase,
        )
        .map((s) => s.labels.le);
      assert.deepEqual(les, [...DURATION_BUCKETS.map(String), '+Inf'], phase);
      assert.equal(sampleValue(text, 'flowmig_migration_duration_seconds_count', { phase }), 0);
    }
    assert.deepEqual(
      [...DURATION_BUCKETS],
      [
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
        1,
      ],
    );
    // No migration yet: no series of the counter (its labels are not known before one).
    assert.equal(samplesOf(text).filter((s) => s.name === 'flowmig_migrations_total').length, 0);
  });

  it('counts migrations by result, path and TCP policy, and times their phases', async () => {
    const m = new DaemonMetrics(INFO, fakeSources().sources);
    for (let i = 0; i < 3; i++)
      m.migrated({
        path: 'in-process',
        tcpPolicy: 'reset',
        ruleMs: 0.08,
        conntrackMs: 0.2,
        totalMs: 0.4,
        conntrackDeleted: 2,
      });
    m.migrated({
      path: 'agent',
      tcpPolicy: 'migrate',
      ruleMs: 0.9,
      conntrackMs: 1.5,
      totalMs: 30,
      tcpMoved: 4,
    });
    // Seen in the state, without timings: counted, not timed.
    m.migrated({ path: 'outside', tcpPolicy: 'drain' });
    m.failed({ result: 'refused', tcpPolicy: 'reset' });
    m.failed({ result: 'failed', path: 'programs', tcpPolicy: 'reset' });
    m.failed({ result: 'invalid', tcpPolicy: 'no-such-policy' });
    const text = await m.text();
    const total = (labels: Record<string, string>) =>
      sampleValue(text, 'flowmig_migrations_total', labels);
    assert.equal(total({ result: 'ok', path: 'in-process', tcp_policy: 'reset' }), 3);
    assert.equal(total({ result: 'ok', path: 'agent', tcp_policy: 'migrate' }), 1);
    assert.equal(
      total({ result: 'ok', path: 'none', tcp_policy: 'drain' }),
      1,
      'an unknown path is none',
    );
    assert.equal(total({ result: 'refused', path: 'none', tcp_policy: 'reset' }), 1);
    assert.equal(total({ result: 'failed', path: 'programs', tcp_policy: 'reset' }), 1);
    assert.equal(total({ result: 'invalid', path: 'none', tcp_policy: 'unknown' }), 1);
    assert.equal(samplesOf(text).filter((s) => s.name === 'flowmig_migrations_total').length, 6);

    const count = (phase: string) =>
      sampleValue(text, 'flowmig_migration_duration_seconds_count', { phase });
    const bucket = (phase: string, le: string) =>
      sampleValue(text, 'flowmig_migration_duration_seconds_bucket', { phase, le });
    assert.deepEqual([count('rule'), count('conntrack'), count('total')], [4, 4, 4]);
    // 0.08 ms ≤ 0.1 ms; 0.9 ms ≤ 1 ms. Buckets are cumulative.
    assert.deepEqual(
      [bucket('rule', '0.00005'), bucket('rule', '0.0001'), bucket('rule', '0.001')],
      [0, 3, 4],
    );
    // 0.4 ms ≤ 0.5 ms; 30 ms ≤ 50 ms.
    assert.deepEqual(
      [bucket('total', '0.00025'), bucket('total', '0.0005'), bucket('total', '0.025')],
      [0, 3, 3],
    );
    assert.deepEqual([bucket('total', '0.05'), bucket('total', '+Inf')], [4, 4]);
    const sum =
      sampleValue(text, 'flowmig_migration_duration_seconds_sum', { phase: 'total' }) ?? Number.NaN;
    assert.ok(Math.abs(sum - 0.0312) < 1e-9, `total seconds ${sum}`);
    assert.equal(sampleValue(text, 'flowmig_conntrack_entries_deleted_total'), 6);
    assert.equal(sampleValue(text, 'flowmig_tcp_connections_moved_total'), 4);
  });

  it('reads the sources at each scrape: absolute values, one kernel read per scrape', async () => {
    const { state, sources } = fakeSources();
    const m = new DaemonMetrics(INFO, sources);
    Object.assign(state, { flows: 3, drift: true, late: 7, nodes: { A: 100, C: 60, D: 40 } });
    let text = await m.text();
    assert.equal(sampleValue(text, 'flowmig_flows'), 3);
    assert.equal(sampleValue(text, 'flowmig_drift'), 1);
    assert.equal(sampleValue(text, 'flowmig_late_packets_translated_total'), 7);
    assert.equal(sampleValue(text, 'flowmig_node_packets_total', { node: 'C' }), 60);
    assert.equal(state.kernelReads, 1, 'the drift gauge and the late counter share a read');

    Object.assign(state, { flows: 2, drift: false, late: 10, nodes: { A: 150, D: 90 } });
    text = await m.text();
    assert.equal(sampleValue(text, 'flowmig_flows'), 2);
    assert.equal(sampleValue(text, 'flowmig_drift'), 0);
    assert.equal(sampleValue(text, 'flowmig_late_packets_translated_total'), 10, 'set, not added');
    assert.equal(sampleValue(text, 'flowmig_node_packets_total', { node: 'A' }), 150);
    assert.equal(
      sampleValue(text, 'flowmig_node_packets_total', { node: 'C' }),
      undefined,
      'a node gone',
    );
    assert.equal(state.kernelReads, 2);

    // Two scrapes at once share the read under way.
    const [a, b] = await Promise.all([m.text(), m.text()]);
    assert.equal(state.kernelReads, 3);
    assert.equal(sampleValue(a, 'flowmig_late_packets_translated_total'), 10);
    assert.equal(sampleValue(b, 'flowmig_late_packets_translated_total'), 10);
    assert.equal(sampleValue(b, 'flowmig_metrics_read_errors_total', { source: 'kernel' }), 0);
  });

  it('answers a scrape whose sources fail, with their last values and the errors counted', async () => {
    const { state, sources } = fakeSources();
    const m = new DaemonMetrics(INFO, sources, { sourceTimeoutMs: 100 });
    Object.assign(state, { flows: 4, drift: true, late: 5, nodes: { A: 9 } });
    await m.text();
    Object.assign(state, { flows: 1, drift: false, late: 50, nodes: { A: 99 } });
    state.fail = new Set(['flows', 'kernel', 'nodes']);
    let text = await m.text();
    assert.equal(sampleValue(text, 'flowmig_flows'), 4);
    assert.equal(sampleValue(text, 'flowmig_drift'), 1);
    assert.equal(sampleValue(text, 'flowmig_late_packets_translated_total'), 5);
    assert.equal(sampleValue(text, 'flowmig_node_packets_total', { node: 'A' }), 9);
    for (const source of ['flows', 'kernel', 'nodes'])
      assert.equal(sampleValue(text, 'flowmig_metrics_read_errors_total', { source }), 1, source);

    // A kernel read that never answers: the scrape answers after the timeout.
    state.fail = new Set();
    state.hang = true;
    const started = Date.now();
    text = await m.text();
    assert.ok(Date.now() - started < 5000, 'the scrape answered');
    assert.equal(sampleValue(text, 'flowmig_late_packets_translated_total'), 5);
    assert.equal(sampleValue(text, 'flowmig_metrics_read_errors_total', { source: 'kernel' }), 2);
    assert.equal(sampleValue(text, 'flowmig_flows'), 1, 'the other sources read as usual');

    // A count the kernel cannot have (negative) is an error, not a value.
    state.hang = false;
    state.late = -1;
    text = await m.text();
    assert.equal(sampleValue(text, 'flowmig_late_packets_translated_total'), 5);
    assert.equal(sampleValue(text, 'flowmig_metrics_read_errors_total', { source: 'kernel' }), 3);

    state.late = 60;
    text = await m.text();
    assert.equal(
      sampleValue(text, 'flowmig_late_packets_translated_total'),
      60,
      'back once the read works',
    );
  });

  it('passes promtool check metrics with no lint warning', async () => {
    const { state, sources } = fakeSources();
    const m = new DaemonMetrics(INFO, sources);
    Object.assign(state, { flows: 1, late: 3, nodes: { A: 10, B: 20, C: 5, D: 5 } });
    m.migrated({
      path: 'in-process',
      tcpPolicy: 'reset',
      ruleMs: 0.1,
      conntrackMs: 0.1,
      totalMs: 0.3,
    });
    m.failed({ result: 'refused', tcpPolicy: 'drain' });
    const good = await promtool(await m.text());
    assert.deepEqual(good, { code: 0, output: '' });
    // The check is real: it does find a gauge named like a counter.
    const bad = await promtool('# HELP x_total a\n# TYPE x_total gauge\nx_total 1\n');
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /should not have "_total" suffix/);
  });
});
