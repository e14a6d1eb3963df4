// flowmig bench swap --dashboard's pure parts: the phases alternate quiet and loaded, the ratios
// and the verdict come from all samples of each kind, the text says the target and whether it is
// met; the Prometheus config scrapes one target every second, and its query replies are read or
// refused with Prometheus's message; the page counts as streaming only connected with samples.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { streaming } from '../../src/bench/dashboard-browser.js';
import { cpuShare, machineTicks, processTicks, treeTicks } from '../../src/bench/dashboard-cpu.js';
import {
  type DashboardBenchResult,
  P50_RATIO_LIMIT,
  phasePlan,
  renderDashboardBench,
  summarize,
} from '../../src/bench/dashboard-result.js';
import { prometheusConfig, queryValues } from '../../src/bench/prometheus.js';

/** `n` samples, all `ms`. */
const flat = (n: number, ms: number) => Array.from({ length: n }, () => ms);

describe('bench swap --dashboard', () => {
  it('alternates quiet and loaded phases, quiet first, pairs of each', () => {
    assert.deepEqual(phasePlan(3), ['quiet', 'loaded', 'quiet', 'loaded', 'quiet', 'loaded']);
    assert.deepEqual(phasePlan(1), ['quiet', 'loaded']);
    assert.throws(() => phasePlan(0), RangeError);
    assert.throws(() => phasePlan(1.5), RangeError);
  });

  it('takes the ratios over all samples of each kind, and pair by pair', () => {
    const s = summarize([
      { kind: 'quiet', ms: flat(10, 1) },
      { kind: 'loaded', ms: flat(10, 1.05) },
      { kind: 'quiet', ms: flat(10, 2) },
      { kind: 'loaded', ms: [...flat(9, 2.2), 50] },
    ]);
    assert.equal(s.quiet.phases, 2);
    assert.equal(s.quiet.samples, 20);
    assert.equal(s.loaded.samples, 20);
    // Nearest rank: the 10th of 20 sorted samples.
    assert.equal(s.quiet.p50_ms, 1);
    assert.equal(s.loaded.p50_ms, 1.05);
    assert.equal(s.loaded.max_ms, 50);
    assert.equal(s.ratio_p50, 1.05);
    assert.equal(s.ratio_p99, 50 / 2);
    assert.deepEqual(
      s.pair_ratios_p50.map((r) => r.toFixed(3)),
      ['1.050', '1.100'],
    );
    assert.equal(s.target.limit, P50_RATIO_LIMIT);
    assert.equal(s.target.ratio, 1.05);
    assert.equal(s.target.met, true);
  });

  it('meets the target at exactly 1.10 and not above; never without samples', () => {
    const at = (loaded: number) =>
      summarize([
        { kind: 'quiet', ms: flat(5, 1) },
        { kind: 'loaded', ms: flat(5, loaded) },
      ]).target.met;
    assert.equal(at(1.1), true);
    assert.equal(at(1.1001), false);
    assert.equal(at(0.5), true);
    const none = summarize([]);
    assert.ok(Number.isNaN(none.ratio_p50));
    assert.equal(none.target.met, false);
    assert.deepEqual(none.pair_ratios_p50, []);
  });

  it('renders the phases, both kinds, the ratios and the verdict', () => {
    const s = summarize([
      { kind: 'quiet', ms: flat(4, 0.8) },
      { kind: 'loaded', ms: flat(4, 1.2) },
    ]);
    const r: DashboardBenchResult = {
      lab: 'fmw-default',
      startedAt: '2026-12-07T17:00:00.000Z',
      endedAt: '2026-12-07T17:01:00.000Z',
      cpus: 2,
      load: { atStart: [1, 1, 1], atEnd: [2, 2, 2] },
      samples: 4,
      loadKind: 'ping',
      viewer: 'chromium',
      gapMs: 10,
      phases: [
        {
          index: 0,
          kind: 'quiet',
          samples: 4,
          seconds: 1,
          p50_ms: 0.8,
          p99_ms: 0.8,
          max_ms: 0.8,
          daemon_cpu_pct: 12.25,
          browser_cpu_pct: 0,
          prometheus_cpu_pct: 0,
          machine_busy_pct: 51.4,
        },
        {
          index: 1,
          kind: 'loaded',
          samples: 4,
          seconds: 1,
          p50_ms: 1.2,
          p99_ms: 1.2,
          max_ms: 1.2,
          daemon_cpu_pct: 20,
          browser_cpu_pct: 35.55,
          prometheus_cpu_pct: 2.04,
          machine_busy_pct: 80.6,
          loaded: {
            scrapes: 6,
            migrations_total: 12,
            page_streamed_s: 6.1,
            page_connection: 'connected',
          },
        },
      ],
      ...s,
      notes: ['a note'],
    };
    const text = renderDashboardBench(r);
    assert.match(
      text,
      /^1\s+quiet\s+4\s+1\.0\s+0\.800\s+0\.800\s+0\.800\s+12\.3\s+0\.0\s+0\.0\s+51\s+-\s+-$/m,
    );
    assert.match(
      text,
      /^2\s+loaded\s+4\s+1\.0\s+1\.200\s+1\.200\s+1\.200\s+20\.0\s+35\.5\s+2\.0\s+81\s+6\s+6\.1$/m,
    );
    assert.match(
      text,
      /\(a ping load from A throughout\), quiet and with the dashboard streaming in Chromium/,
    );
    assert.match(text, /^quiet\s+1\s+4\s+0\.800/m);
    assert.match(text, /^loaded\s+1\s+4\s+1\.200/m);
    assert.match(text, /loaded \/ quiet: p50 1\.500×, p99 1\.500×; p50 pair by pair: 1\.500×/);
    assert.match(text, /≤ 1\.10: 1\.500× \(not met\)$/m);
    assert.match(text, /^note: a note$/m);
    // JSON: a NaN ratio (no samples) becomes null, not a string.
    assert.equal(JSON.parse(JSON.stringify({ r: summarize([]).ratio_p50 })).r, null);
  });

  it('writes a Prometheus config scraping one target at /metrics every second', () => {
    const text = prometheusConfig('127.0.0.1:41234');
    assert.match(text, /^ {2}scrape_interval: 1s$/m);
    assert.match(text, /^ {4}metrics_path: \/metrics$/m);
    assert.match(text, /^ {6}- targets: \['127\.0\.0\.1:41234'\]$/m);
    assert.equal(text.match(/job_name:/g)?.length, 1);
  });

  it("reads a query's values and refuses a failed query with Prometheus's message", () => {
    assert.deepEqual(
      queryValues({
        status: 'success',
        data: {
          result: [{ value: [1, '3'] }, { value: [1, '0.5'] }],
        },
      }),
      [3, 0.5],
    );
    assert.deepEqual(queryValues({ status: 'success', data: { result: [] } }), []);
    assert.throws(
      () => queryValues({ status: 'error', error: 'parse error at char 3' }),
      /Prometheus query failed: parse error at char 3/,
    );
  });

  it('counts the page as streaming only when connected with rate samples drawn', () => {
    assert.equal(streaming({ connection: 'connected', points: 30, last: '1765000000000' }), true);
    assert.equal(streaming({ connection: 'connected', points: 0, last: '' }), false);
    assert.equal(streaming({ connection: 'reconnecting', points: 30, last: '1' }), false);
    assert.equal(streaming({ connection: 'unauthorized', points: 0, last: '' }), false);
  });

  it("reads a process's and the machine's CPU ticks from /proc and shares them over a span", () => {
    // A command with spaces and parentheses: the fields count from the last ')'.
    const stat =
      '4242 (node (a) b) S 1 4242 4242 0 -1 4194560 5000 0 0 0 731 269 0 0 20 0 11 0 100 1 1';
    assert.equal(processTicks(stat), 1000);
    assert.throws(() => processTicks('4242 (x) S 1'), /unexpected \/proc\/<pid>\/stat/);
    const all = 'cpu  100 5 50 800 20 0 25 0 7 0\ncpu0 50 2 25 400 10 0 12 0 0 0\n';
    // guest (7) is inside user already: total 1000, idle 800 + iowait 20.
    assert.deepEqual(machineTicks(all), { busy: 180, total: 1000 });
    assert.throws(() => machineTicks('intr 1 2 3\n'), /unexpected \/proc\/stat/);
    const a = {
      at: 1_000,
      processes: [1000, 0],
      tree: 10,
      machine: { busy: 180, total: 1000 },
    };
    // 2 s later: 50 ticks of the process (0.5 s: 25 % of one CPU), 200 of its descendants
    // (100 %); 100 of 400 busy.
    // The second process is gone meanwhile (0): not a negative share.
    const b = {
      at: 3_000,
      processes: [1050, 0],
      tree: 210,
      machine: { busy: 280, total: 1400 },
    };
    assert.deepEqual(cpuShare(a, b), {
      processes_pct: [25, 0],
      tree_pct: 100,
      machine_pct: 25,
    });
    assert.deepEqual(cpuShare(a, a), { processes_pct: [0, 0], tree_pct: 0, machine_pct: 0 });
  });

  it('sums the CPU of a process and its descendants, not of others', () => {
    // pid (comm) state ppid ... utime stime: 10 fields between ppid and utime.
    const stat = (pid: number, ppid: number, ticks: number, comm = 'x') =>
      `${pid} (${comm}) S ${ppid} 0 0 0 -1 0 0 0 0 0 ${ticks} 0 0 0`;
    const stats = [
      stat(1, 0, 1000, 'init'),
      stat(100, 1, 7, 'node'),
      stat(200, 100, 30, 'chromium'), // the root
      stat(201, 200, 20, 'chromium (zygote)'),
      stat(202, 201, 5, 'renderer'),
      stat(300, 100, 40, 'prometheus'), // a sibling
      stat(400, 1, 900, 'ping'), // someone else's
    ];
    assert.equal(treeTicks(stats, 200), 55);
    assert.equal(treeTicks(stats, 100), 102);
    assert.equal(treeTicks(stats, 300), 40);
    assert.equal(treeTicks(stats, 999), 0);
  });
});
