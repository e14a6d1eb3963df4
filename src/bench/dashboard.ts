// `flowmig bench swap --dashboard`: swap latency through a lab's daemon as a client sees it, in
// alternating phases without and with the dashboard streaming in Chromium and Prometheus
// scraping /metrics every second, on a lab it builds and tears down.
import { cpus, loadavg } from 'node:os';
import { daemonPaths, stopLabDaemon } from '../control/daemon-process.js';
import { Flowmig } from '../control/flowmig.js';
import { listNamespaces } from '../control/kernel.js';
import { DaemonClient } from '../daemon-api/client.js';
import type { LoadInfo, LoadKind } from '../daemon-api/live.js';
import type { DaemonReply } from '../daemon-api/protocol.js';
import { FlowmigError } from '../errors.js';
import { ProcessRunner } from '../exec/runner.js';
import { sleep } from '../experiment/process.js';
import { loadLab } from '../lab/load.js';
import { distribution } from '../results/stats.js';
import { DEFAULT_ENTRY } from './cli.js';
import { checkBrowser, DashboardPage, streaming } from './dashboard-browser.js';
import { cpuShare, readCpu } from './dashboard-cpu.js';
import {
  type DashboardBenchResult,
  type LoadedCheck,
  type PhaseKind,
  type PhaseResult,
  phasePlan,
  summarize,
} from './dashboard-result.js';
import { StreamViewer } from './dashboard-stream.js';
import { Interrupt } from './interrupt.js';
import { checkPrometheus, JOB, PrometheusServer } from './prometheus.js';

export interface DashboardBenchOptions {
  /** Swaps per phase. */
  readonly samples: number;
  /** Pairs of phases (quiet, loaded); the issue asks for at least 3. */
  readonly pairs: number;
  readonly prefix: string;
  /** The traffic the daemon sends from A through every phase, so the rates move (default ping). */
  readonly load?: LoadKind;
  /**
   * What watches the dashboard when loaded: the page in Chromium (default), or `stream`, a plain
   * process reading the event stream (the daemon's side alone, without a browser drawing here).
   */
  readonly viewer?: 'chromium' | 'stream';
  readonly stateDir: string;
  /** The flowmig entry whose `dashboard` starts the daemon (default: this package's). */
  readonly entry?: string | undefined;
  readonly onProgress?: (text: string) => void;
}

/**
 * The pause between two swaps: a phase of 500 then lasts ~6 s, several scrapes and ~60 rate
 * events of the page, rather than the ~1 s back-to-back swaps would take (one scrape at most).
 */
const GAP_MS = 10;
/** Swaps before the first phase, not counted (JIT and caches in both processes). */
const WARMUP = 200;
/** Before each phase, of either kind: what was just started or stopped settles. */
const SETTLE_MS = 1_000;

/** The daemon's HTTP API, with the bearer token. */
async function api<T>(base: string, token: string, body: unknown): Promise<T> {
  const res = await fetch(`${base}api`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
  const reply = (await res.json()) as DaemonReply;
  if (!reply.ok)
    throw new FlowmigError(`the daemon refused ${JSON.stringify(body)}: ${reply.error}`);
  return reply.result as T;
}

/** `f`'s value once `ok` holds of it, polled every 200 ms; undefined at the deadline. */
async function until<T>(
  ms: number,
  f: () => Promise<T>,
  ok: (v: T) => boolean,
): Promise<T | undefined> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(200)) {
    const v = await f();
    if (ok(v)) return v;
  }
  return undefined;
}

export async function benchDashboard(
  options: DashboardBenchOptions,
): Promise<DashboardBenchResult> {
  const say = options.onProgress ?? (() => {});
  const entry = options.entry ?? DEFAULT_ENTRY;
  const dir = options.stateDir;
  const runner = new ProcessRunner();
  const plan = phasePlan(options.pairs);
  // The tools first: a missing one is said before a lab is built.
  checkPrometheus();
  const viewer = options.viewer ?? 'chromium';
  if (viewer === 'chromium') await checkBrowser();
  const lab = await loadLab(undefined, { prefix: options.prefix });
  // The lab is torn down at the end whatever happens: refuse names that are taken, so what is
  // torn down is only what this run built.
  const present = await listNamespaces(runner);
  const taken = lab.nodes.map((n) => n.netns).filter((ns) => present.has(ns));
  if (taken.length)
    throw new FlowmigError(
      `namespace ${taken.join(', ')} exists; give the benchmark another --prefix`,
    );
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  const interrupt = new Interrupt();
  const fm = new Flowmig({ stateDir: dir });
  let built = false;
  let client: DaemonClient | undefined;
  let page: DashboardPage | StreamViewer | undefined;
  let prom: PrometheusServer | undefined;
  let unload: (() => Promise<unknown>) | undefined;
  try {
    say(`building lab ${lab.id}`);
    built = true;
    await fm.up(lab);
    interrupt.check();
    // The address as a user gets it: `flowmig dashboard` starts the daemon with HTTP and prints it.
    say(`starting its daemon with HTTP (${entry} dashboard)`);
    const dash = await runner.run(
      [process.execPath, entry, '--state-dir', dir, 'dashboard', '--lab', lab.id, '--json'],
      { timeoutMs: 60_000 },
    );
    const printed = JSON.parse(dash.stdout) as { url?: string; pid?: number };
    const url = printed.url ?? '';
    const daemonPid = printed.pid ?? 0;
    const m = /^(http:\/\/(127\.0\.0\.1:\d+)\/)#token=(\S+)$/.exec(url);
    if (!m || daemonPid <= 0)
      throw new FlowmigError(`flowmig dashboard printed no page address or pid: ${dash.stdout}`);
    const [, base = '', target = '', token = ''] = m;
    const kind = options.load ?? 'ping';
    const info = await api<LoadInfo>(base, token, { verb: 'load', kind });
    unload = () => api(base, token, { verb: 'unload', load: info.id });
    say(`${kind} load ${info.id} from ${info.from} to ${info.flow}`);
    client = await DaemonClient.connect(daemonPaths(dir, lab.id).socket);
    const swapper = client;
    const swaps = async (count: number): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < count; i++) {
        interrupt.check();
        const t0 = performance.now();
        await swapper.request({ verb: 'swap' });
        ms.push(performance.now() - t0);
        await sleep(GAP_MS);
      }
      return ms;
    };
    say(`warming up: ${WARMUP} swaps`);
    await swaps(WARMUP);

    const measured: { kind: PhaseKind; ms: number[] }[] = [];
    const phases: PhaseResult[] = [];
    for (const [index, kind] of plan.entries()) {
      const name = `phase ${index + 1}/${plan.length} (${kind})`;
      let before: { last: string } | undefined;
      if (kind === 'loaded') {
        say(`${name}: starting Prometheus on ${target}/metrics`);
        prom = await PrometheusServer.start(target);
        await prom.waitForTarget();
        interrupt.check();
        say(
          `${name}: ${viewer === 'chromium' ? 'opening the dashboard in Chromium' : 'reading the event stream'}`,
        );
        page =
          viewer === 'chromium'
            ? await DashboardPage.open(url)
            : await StreamViewer.open(base, token, lab.id);
      }
      await sleep(SETTLE_MS);
      if (page) before = await page.view();
      say(`${name}: ${options.samples} swaps`);
      const t0 = Date.now();
      // The daemon's CPU, Prometheus's and Chromium's (when they run), and the machine's.
      const pids = [daemonPid, prom?.pid ?? 0];
      const cpu0 = await readCpu(pids, page?.pid ?? 0);
      const ms = await swaps(options.samples);
      const cpu = cpuShare(cpu0, await readCpu(pids, page?.pid ?? 0));
      const [daemonCpu = 0, promCpu = 0] = cpu.processes_pct;
      const seconds = (Date.now() - t0) / 1000;
      let loaded: LoadedCheck | undefined;
      if (prom && page && before) {
        const after = await page.view();
        if (!streaming(after))
          throw new FlowmigError(
            `${name}: the dashboard page stopped streaming during the phase: ${JSON.stringify(after)}`,
          );
        // The count at the phase's end, once a scrape after it is in.
        const end = Date.now() / 1000;
        const p = prom;
        const total = await until(
          5_000,
          () => p.value('sum(flowmig_migrations_total)'),
          (v) => (v ?? 0) > 0,
        );
        if (total === undefined)
          throw new FlowmigError(
            `${name}: Prometheus did not see flowmig_migrations_total > 0 (${await p.log(500)})`,
          );
        const scrapes = await p.value(
          `count_over_time(up{job="${JOB}"}[${Math.max(1, Math.floor(seconds))}s])`,
          end,
        );
        loaded = {
          scrapes: scrapes ?? 0,
          migrations_total: total ?? 0,
          page_streamed_s: (Number(after.last) - Number(before.last)) / 1000,
          page_connection: after.connection,
        };
        await page.close();
        page = undefined;
        await prom.stop();
        prom = undefined;
      }
      const d = distribution(ms);
      measured.push({ kind, ms });
      phases.push({
        index,
        kind,
        samples: ms.length,
        seconds,
        p50_ms: d.p50,
        p99_ms: d.p99,
        max_ms: d.max,
        daemon_cpu_pct: daemonCpu,
        browser_cpu_pct: cpu.tree_pct,
        prometheus_cpu_pct: promCpu,
        machine_busy_pct: cpu.machine_pct,
        ...(loaded ? { loaded } : {}),
      });
      say(
        `${name}: p50 ${d.p50.toFixed(3)} ms, p99 ${d.p99.toFixed(3)} ms, daemon CPU ${daemonCpu.toFixed(0)} %, Chromium ${cpu.tree_pct.toFixed(0)} %, Prometheus ${promCpu.toFixed(0)} %, machine busy ${cpu.machine_pct.toFixed(0)} %${loaded ? `, ${loaded.scrapes} scrapes, page streamed ${loaded.page_streamed_s.toFixed(1)} s` : ''}`,
      );
    }
    const s = summarize(measured);
    return {
      lab: lab.id,
      startedAt,
      endedAt: new Date().toISOString(),
      cpus: cpus().length,
      load: { atStart: loadAtStart, atEnd: loadavg() },
      samples: options.samples,
      loadKind: kind,
      viewer,
      gapMs: GAP_MS,
      phases,
      ...s,
      notes: [
        `swaps as a client sees them: one DaemonClient on the lab's Unix socket, {verb:'swap'} (the flow C↔D), one at a time, ${GAP_MS} ms apart; ${WARMUP} swaps of warm-up first, not counted`,
        `${kind === 'ping' ? "a ping load from A (the daemon's: ping -i 0.01, 100 echo requests/s)" : "a UDP load from A (the daemon's: flowmig's udp-load, 2,000 datagrams/s, echoed by C or D)"} runs through every phase; each phase starts ${SETTLE_MS} ms after what it needs is up`,
        viewer === 'chromium'
          ? 'loaded: a Prometheus server (scrape_interval 1s, started for the phase) and the dashboard page in headless Chromium, connected and drawing rates before the first swap, still after the last; SCRAPES: Prometheus’s up series over the phase; PAGE s: the span of rate samples the page drew during it'
          : 'loaded: a Prometheus server (scrape_interval 1s, started for the phase) and a node process reading GET /events with the token (no browser), receiving rates before the first swap, still after the last; SCRAPES: Prometheus’s up series over the phase; PAGE s: the span of rate samples it received during it',
        'quiet: neither runs (Chromium closed, Prometheus stopped)',
        "DAEMON CPU: the daemon's user+system time over the phase's swaps, % of one CPU; VIEWER: what watched the dashboard, Chromium's processes (its main one and their descendants) or the stream reader's, PROM: Prometheus's, % of one CPU; MACHINE: all CPUs busy (not idle or iowait), % of all (/proc)",
      ],
    };
  } catch (error) {
    throw interrupt.failure(error);
  } finally {
    await page?.close().catch(() => {});
    await prom?.stop().catch(() => {});
    client?.close();
    await unload?.().catch(() => {});
    if (built) {
      say(`tearing lab ${lab.id} down`);
      await stopLabDaemon(fm.store, lab.id).catch(() => {});
      await fm.down(lab.id).catch(() => {});
    }
    fm.close();
    interrupt.dispose();
  }
}
