// `flowmig bench cluster`: on generated cluster labs of N hosts and F flows (built with upCluster,
// torn down after), the time of a migration from API call to applied on every translator, where
// it goes, the flows' load, a restarted host daemon's catch-up; and the in-process swap beside it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { downCluster, isClusterLab } from '../control/cluster/down.js';
import { findHostds, hostdMarkers, startHostd } from '../control/cluster/hostd-process.js';
import { readClusterState, writeClusterState } from '../control/cluster/state.js';
import { clusterStatus } from '../control/cluster/status.js';
import { upCluster } from '../control/cluster/up.js';
import { Flowmig } from '../control/flowmig.js';
import { listNamespaces } from '../control/kernel.js';
import { FlowmigError, InputError } from '../errors.js';
import { findMembers } from '../etcd/member-process.js';
import { ProcessRunner } from '../exec/runner.js';
import { Background } from '../experiment/process.js';
import { clockMs } from '../hostd/trace.js';
import { HostdClient } from '../hostd-api/client.js';
import {
  type HostdChange,
  type HostdHello,
  type HostdTrace,
  hostdPaths,
} from '../hostd-api/protocol.js';
import { loadCluster } from '../lab/cluster-load.js';
import { type ClusterLab, clusterNamespaces } from '../lab/cluster-model.js';
import { loadLab } from '../lab/load.js';
import { isOurProcess, isRunning } from '../procs/find.js';
import { distribution } from '../results/stats.js';
import { withConnection } from '../rpc/client.js';
import { apiLab } from './api.js';
import { clusterBenchLab, clusterBenchServers } from './cluster-lab.js';
import {
  type ClusterBaseline,
  type ClusterBenchResult,
  type ClusterCell,
  clusterTargets,
  inSync,
  loadTimes,
  type MigrationSample,
  type MigrationStats,
  migrationStats,
  pingSummary,
  servingAt,
} from './cluster-result.js';
import { Interrupt } from './interrupt.js';
import { seededRandom } from './seeded.js';

export interface ClusterBenchOptions {
  /** Host counts of the labs (each ≥ 2: a migration goes to another server). */
  readonly hosts: readonly number[];
  readonly flows: readonly number[];
  /** Migrations measured per cell (and per flood phase), one at a time. */
  readonly migrations: number;
  /** Also measure the migrations under `ping -i 0` from A to flow 0's abstract address. */
  readonly flood: boolean;
  /** Namespace prefix of the cluster labs; the in-process labs take it with `i` appended. */
  readonly prefix: string;
  readonly stateDir: string;
  readonly onProgress?: (text: string) => void;
}

/** Migrations before measuring (JIT, connections, etcd's caches), not counted. */
const WARMUP = 20;
/** How long a migration waits for every live translator; how long the flows' load may take. */
const WAIT_MS = 10_000;
const LOAD_WAIT_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every host daemon's trace, in host order. */
function traces(stateDir: string, lab: ClusterLab): Promise<HostdTrace[]> {
  return Promise.all(
    lab.hosts.map((h) =>
      withConnection(
        () => HostdClient.connect(hostdPaths(stateDir, lab.id, h.name).socket),
        (c) => c.request<HostdTrace>({ verb: 'trace' }, 10_000),
      ),
    ),
  );
}

/** Refuses a lab whose namespaces, processes or files exist: teardown must touch only ours. */
async function refuseTaken(stateDir: string, lab: ClusterLab, present: Set<string>) {
  const taken = clusterNamespaces(lab).filter((ns) => present.has(ns));
  const running = (await findHostds(lab.id)).length + (await findMembers(lab.id)).length;
  if (taken.length || running || (await isClusterLab(stateDir, lab.id)))
    throw new FlowmigError(
      `lab ${lab.id} exists (${taken.length ? `namespace ${taken.join(', ')}` : 'its processes or state'}); give the benchmark another --prefix`,
    );
}

export async function benchCluster(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const say = options.onProgress ?? (() => {});
  const small = options.hosts.filter((h) => h < 2);
  if (small.length)
    throw new InputError('bench cluster', ['--hosts: every count must be ≥ 2 (two servers)']);
  const runner = new ProcessRunner();
  const ctx = { stateDir: options.stateDir, runner };
  const fm = new Flowmig({ stateDir: options.stateDir });
  const inPrefix = `${options.prefix}i`;
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  const files = await mkdtemp(join(tmpdir(), 'flowmig-bench-cluster-'));
  const interrupt = new Interrupt();
  const labs: string[] = [];
  const cells: ClusterCell[] = [];
  const baseline: ClusterBaseline[] = [];
  /** Labs up now (cluster ids, and single-host ids): torn down in `finally` if a step fails. */
  const clusters = new Set<string>();
  const singles = new Set<string>();
  try {
    for (const n of options.flows) {
      interrupt.check();
      const file = join(files, `api${n}.json`);
      await writeFile(file, JSON.stringify(apiLab(n)));
      const local = await loadLab(file, { prefix: inPrefix });
      const present = await listNamespaces(runner);
      const taken = local.nodes.map((x) => x.netns).filter((ns) => present.has(ns));
      if (taken.length)
        throw new FlowmigError(
          `namespace ${taken.join(', ')} exists; give the benchmark another --prefix`,
        );
      say(`building lab ${local.id} (${n} flows) for the in-process swap`);
      singles.add(local.id);
      labs.push(local.id);
      await fm.up(local);
      const pick = seededRandom(n);
      const addresses = local.flows.map((f) => f.address);
      const ms: number[] = [];
      const inner: number[] = [];
      for (let i = 0; i < WARMUP + options.migrations; i++) {
        interrupt.check();
        const t = performance.now();
        const r = await fm.swap(local.id, addresses[Math.floor(pick() * addresses.length)]);
        if (i < WARMUP) continue;
        ms.push(performance.now() - t);
        inner.push(r.totalMs);
      }
      const d = distribution(ms);
      baseline.push({
        flows: n,
        swaps: ms.length,
        p50_ms: d.p50,
        p99_ms: d.p99,
        apply_p50_ms: distribution(inner).p50,
      });
      say(`in-process swap at ${n} flows: p50 ${d.p50.toFixed(3)} ms`);
      await fm.down(local.id);
      singles.delete(local.id);
    }
    for (const h of options.hosts)
      for (const n of options.flows) {
        interrupt.check();
        const cell = await measureCell(h, n);
        const base = baseline.find((b) => b.flows === n);
        cells.push({
          ...cell,
          p50_vs_inprocess: base && base.p50_ms > 0 ? cell.idle.p50_ms / base.p50_ms : null,
        });
      }
    return {
      startedAt,
      endedAt: new Date().toISOString(),
      cpus: cpus().length,
      load: { atStart: loadAtStart, atEnd: loadavg() },
      labs,
      cells,
      baseline,
      targets: clusterTargets(cells),
      notes: [
        `each cell: a generated lab (src/bench/cluster-lab.ts) built by upCluster (prefix ${options.prefix}), its flows loaded by up's last step (host 1's daemon, 'load'); torn down by downCluster after`,
        `migrations: one HostdClient on host 1's daemon, one 'migrate' at a time of a random flow to a random other server (seeded), answered once host 1's daemon knew every live translator applied it (a peer's direct acknowledgement or its etcd applied key, whichever came first); ${WARMUP} first, not counted`,
        "phases (p50 each, ms), along the host host 1's daemon learned of last: COMMIT call → txn committed (host 1 saw its txn answered, or a host its watch event: the earlier; the request's way in and the flow's read included), DELIVERY committed → that host's watch event (MAX: the slowest host's), APPLY its plan applied, CT the ingress host's conntrack pass (part of its apply), ACK → host 1's daemon answered (the peer's message over the fabric, or its applied write and the watch event when etcd told first), REPLY → the caller read it; they add up to the total (CT apart: part of APPLY); LAST ACK VIA: how host 1 learned of that host (peer, etcd, self, before: it had applied before the wait; write: a daemon without acknowledgements, whose ACK starts at the WRITE); WRITE: that host's applied revision written to etcd, off the path unless VIA etcd or write; times from each daemon's trace verb, on the machine's monotonic clock",
        'load: up\'s "loading" step → the last host applied a revision of it (in brackets: → the last host received the last one), from the traces',
        "restart: host 2's daemon SIGKILLed, spawned again (startHostd); spawn → its catch-up list applied (trace; in brackets: → it served on its socket, from its log, ms: node's start, the lab read and resolved; → that list asked for, after its etcd connection and lease), and → its hello first said applied ≥ the table's last change (STATUS, polled every 5 ms)",
        `in-process: Flowmig.swap in this process on a single-host lab of the same flow count (prefix ${inPrefix}), one call at a time, ${WARMUP} first not counted; APPLY: its own rule + conntrack time`,
      ],
    };
  } catch (error) {
    throw interrupt.failure(error);
  } finally {
    for (const id of [...singles]) await fm.down(id).catch(() => {});
    for (const id of [...clusters]) {
      say(`tearing lab ${id} down`);
      await downCluster(ctx, id).catch(() => {});
    }
    await rm(files, { recursive: true, force: true });
    interrupt.dispose();
  }

  async function measureCell(
    hosts: number,
    n: number,
  ): Promise<Omit<ClusterCell, 'p50_vs_inprocess'>> {
    const description = clusterBenchLab(hosts, n);
    const file = join(files, `${description.name}.json`);
    await writeFile(file, JSON.stringify(description));
    const lab = await loadCluster(file, { prefix: options.prefix });
    await refuseTaken(options.stateDir, lab, await listNamespaces(runner));
    clusters.add(lab.id);
    labs.push(lab.id);
    say(`building lab ${lab.id} (${hosts} hosts, ${n} flows)`);
    let loadAt = Number.NaN;
    const upAt = clockMs();
    await upCluster(ctx, lab, {
      loadWaitMs: LOAD_WAIT_MS,
      onStep: (text) => {
        if (text.startsWith('loading')) loadAt = clockMs();
        say(`building ${lab.id}: ${text}`);
      },
    });
    const upMs = clockMs() - upAt;
    const load = Number.isNaN(loadAt)
      ? null
      : loadTimes(await traces(options.stateDir, lab), loadAt);
    const socket = (host: string) => hostdPaths(options.stateDir, lab.id, host).socket;
    const client = await HostdClient.connect(socket('h1'));
    try {
      const servers = clusterBenchServers(hosts);
      const at = new Map(lab.flows.map((f) => [f.address, f.responder]));
      const addresses = [...at.keys()];
      const pick = seededRandom(hosts * 100_003 + n);
      let last = 0;
      const migrate = async (count: number, flood: boolean) => {
        const samples: MigrationSample[] = [];
        let failed = 0;
        let error: string | undefined;
        for (let i = 0; i < count; i++) {
          interrupt.check();
          const flow = addresses[Math.floor(pick() * addresses.length)] as string;
          const others = servers.filter((s) => s !== at.get(flow));
          const to = others[Math.floor(pick() * others.length)] as string;
          const sentAt = clockMs();
          try {
            const r = await client.request<HostdChange>(
              { verb: 'migrate', flow, node: to, waitMs: WAIT_MS },
              WAIT_MS + 20_000,
            );
            const receivedAt = clockMs();
            at.set(flow, to);
            last = Math.max(last, r.revision);
            const { revision, commitMs, appliedMs } = r;
            samples.push({ sentAt, receivedAt, revision, commitMs, appliedMs });
          } catch (e) {
            failed++;
            error ??= `${flood ? 'under flood: ' : ''}${(e as Error).message}`;
          }
        }
        return { samples, failed, error };
      };
      const phase = async (flood: boolean): Promise<MigrationStats> => {
        let ping: Background | undefined;
        let summary: MigrationStats['ping'] = null;
        try {
          if (flood) {
            const a = lab.nodes.find((x) => x.name === 'A');
            ping = Background.start(['ping', '-6', '-q', '-i', '0', lab.flows[0]?.address ?? ''], {
              ...(a ? { netns: a.netns } : {}),
            });
            await sleep(300); // under way before the first migration
          }
          say(
            `migrating on ${lab.id}: ${options.migrations} migrations${flood ? ' under ping -i 0' : ''}`,
          );
          const r = await migrate(options.migrations, flood);
          if (ping) {
            await ping.stop('SIGINT');
            summary = pingSummary(ping.stdout);
            ping = undefined;
          }
          const s = migrationStats(r.samples, await traces(options.stateDir, lab), {
            flood,
            failed: r.failed,
            error: r.error,
            ping: summary,
          });
          say(
            `measured ${lab.id}${flood ? ' (flood)' : ''}: p50 ${s.p50_ms.toFixed(2)} ms, p99 ${s.p99_ms.toFixed(2)} ms`,
          );
          return s;
        } finally {
          await ping?.stop('SIGKILL');
        }
      };
      say(`warming ${lab.id} up (${WARMUP} migrations)`);
      await migrate(Math.min(WARMUP, options.migrations), false);
      const idle = await phase(false);
      const flood = options.flood ? await phase(true) : null;
      const hello = await client.request<HostdHello>({ verb: 'hello' });
      const restart = await restartHost(lab, Math.max(last, hello.applied));
      return { hosts, flows: n, lab: lab.id, up_ms: upMs, load, idle, flood, restart };
    } finally {
      client.close();
      say(`tearing lab ${lab.id} down`);
      await downCluster(ctx, lab.id);
      clusters.delete(lab.id);
    }
  }

  /** SIGKILLs host 2's daemon, spawns it again, times its catch-up to `revision`. */
  async function restartHost(lab: ClusterLab, revision: number): Promise<ClusterCell['restart']> {
    const host = lab.hosts[1];
    if (!host) throw new Error(`lab ${lab.id} has no host 2`);
    const status = await clusterStatus(options.stateDir, lab.id);
    const pid = status.hosts[1]?.status?.pid;
    if (pid === undefined || !(await isOurProcess(pid, hostdMarkers(lab.id, host.name))))
      throw new FlowmigError(`the host daemon of ${host.name} does not answer`);
    say(`restarting ${host.name}'s daemon on ${lab.id} (SIGKILL to pid ${pid}, then a spawn)`);
    process.kill(pid, 'SIGKILL');
    while (await isRunning(pid)) await sleep(5);
    const spawnedAt = clockMs();
    const spawnedWall = Date.now();
    await startHostd({
      id: lab.id,
      host: host.name,
      netns: host.translator.netns,
      stateDir: options.stateDir,
      // On record at once, as up does: down stops it by the state file too.
      record: async (p) => {
        const state = await readClusterState(options.stateDir, lab.id);
        if (!state) return;
        state.hostds = [
          ...state.hostds.filter((x) => x.host !== host.name),
          { host: host.name, pid: p },
        ];
        await writeClusterState(options.stateDir, state);
      },
    });
    const c = await HostdClient.connect(hostdPaths(options.stateDir, lab.id, host.name).socket);
    let statusMs: number;
    try {
      const deadline = performance.now() + 30_000;
      for (;;) {
        interrupt.check();
        const h = await c.request<HostdHello>({ verb: 'hello' });
        if (h.applied >= revision) {
          statusMs = clockMs() - spawnedAt;
          break;
        }
        if (performance.now() > deadline)
          throw new FlowmigError(`${host.name}'s daemon not in sync 30 s after its restart`);
        await sleep(5);
      }
    } finally {
      c.close();
    }
    const trace = await withConnection(
      () => HostdClient.connect(hostdPaths(options.stateDir, lab.id, host.name).socket),
      (x) => x.request<HostdTrace>({ verb: 'trace' }),
    );
    const log = await readFile(hostdPaths(options.stateDir, lab.id, host.name).log, 'utf8').catch(
      () => '',
    );
    const serving = servingAt(log);
    return {
      ...inSync(trace, spawnedAt, revision),
      serving_ms: serving === null ? null : serving - spawnedWall,
      status_ms: statusMs,
      revision,
    };
  }
}
