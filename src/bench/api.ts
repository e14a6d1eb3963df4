// `flowmig bench api`: swaps through a lab's daemon by 1..100 concurrent DaemonClients at 20..100k
// flows (migrations/s, request p50/p99, the daemon's batch sizes), beside Flowmig.swap in this
// process on a lab of the same size, on labs it writes as files, builds and tears down.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flowmig } from '../control/flowmig.js';
import { listNamespaces } from '../control/kernel.js';
import { DaemonClient } from '../daemon-api/client.js';
import { FlowmigError } from '../errors.js';
import { ProcessRunner } from '../exec/runner.js';
import { loadLab } from '../lab/load.js';
import type { LabDescriptionInput } from '../lab/schema.js';
import { distribution } from '../results/stats.js';
import { apiTargets } from './api-render.js';
import { type BundleState, bundleState, DEFAULT_ENTRY } from './cli.js';
import { abstractAddress } from './flows.js';
import { Interrupt } from './interrupt.js';
import { seededRandom } from './seeded.js';

export interface ApiBenchOptions {
  /** Flow counts of the labs, in order. */
  readonly flows: readonly number[];
  /** Concurrent clients of each cell, in order. */
  readonly clients: readonly number[];
  /** Requests per cell (all clients together); default 1,000 at 1 client, else 2,000. */
  readonly requests?: number | undefined;
  /** A cell stops issuing requests after this long (a slow daemon at 100,000 flows). */
  readonly maxSeconds: number;
  /** Namespace prefix of the daemon's labs; the in-process labs take it with `i` appended. */
  readonly prefix: string;
  readonly stateDir: string;
  /** The flowmig entry that builds the labs and runs their daemons (default: this package's). */
  readonly entry?: string | undefined;
  readonly onProgress?: (text: string) => void;
}

/** The daemon's batches over one cell (the difference of `hello` before and after it). */
export interface BatchStats {
  readonly batches: number;
  /** Histogram of batch sizes, keyed as the daemon keys it (e.g. "1", "2-9", "10-99", "100+"). */
  readonly sizes: Readonly<Record<string, number>>;
  /** Migrations per batch. */
  readonly mean: number;
}

export interface ApiCell {
  readonly flows: number;
  readonly clients: number;
  /** Requests answered ok (the figures are theirs). */
  readonly requests: number;
  readonly failed: number;
  /** The first failure's message, when any failed. */
  readonly error?: string;
  /** Whether the cell stopped at maxSeconds before its requests were all issued. */
  readonly capped: boolean;
  readonly seconds: number;
  readonly migrations_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  /** null: the daemon's hello reports no batches (a daemon without group commit). */
  readonly batches: BatchStats | null;
  /** p50 / the in-process p50 at the same flow count. */
  readonly p50_vs_inprocess: number | null;
  /** migrations/s / the in-process migrations/s at the same flow count. */
  readonly rate_vs_inprocess: number | null;
}

/** Flowmig.swap called in this process, one call at a time, on a lab of the same size. */
export interface ApiBaseline {
  readonly flows: number;
  readonly requests: number;
  readonly capped: boolean;
  readonly migrations_per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** The controller's own time of each swap's rule change and conntrack pass (no lock, no state). */
  readonly apply_p50_ms: number;
}

export interface ApiBenchTarget {
  readonly name: string;
  readonly value: number;
  /** The bound `value` must stay at or under (`max`) or reach (`min`). */
  readonly limit: number;
  readonly kind: 'max' | 'min';
  readonly met: boolean;
}

export interface ApiBenchResult {
  readonly entry: string;
  readonly bundle: { readonly atStart: BundleState; readonly atEnd: BundleState };
  readonly startedAt: string;
  readonly endedAt: string;
  readonly cpus: number;
  /** The 1, 5 and 15 minute load averages when the run started and when it ended. */
  readonly load: { readonly atStart: readonly number[]; readonly atEnd: readonly number[] };
  readonly labs: readonly string[];
  readonly cells: readonly ApiCell[];
  readonly baseline: readonly ApiBaseline[];
  readonly targets: readonly ApiBenchTarget[];
  readonly notes: readonly string[];
}

interface Hello {
  readonly batches?: number;
  readonly sizes?: Record<string, number>;
}

/** A lab of `n` flows from A to the abstract addresses fe00::1, fe00::1:0, ..., alternating C, D. */
export function apiLab(n: number): LabDescriptionInput {
  const flows = [];
  for (let i = 0; i < n; i++)
    flows.push({ address: abstractAddress(i), initiator: 'A', responder: i % 2 ? 'D' : 'C' });
  return {
    name: `api${n}`,
    engine: 'nftables',
    nodes: [
      { name: 'A', role: 'client' },
      { name: 'B', role: 'translator' },
      { name: 'C', role: 'server' },
      { name: 'D', role: 'server' },
    ],
    links: [
      { node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::2/64' },
      { node: 'C', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
      { node: 'D', address: 'fc02::2/64', translatorAddress: 'fc02::1/64' },
    ],
    flows,
  };
}

/** The default requests of a cell: fewer at 1 client, whose p99 needs fewer samples to settle. */
export function requestsFor(clients: number, requests: number | undefined): number {
  return requests ?? (clients === 1 ? 1_000 : 2_000);
}

/** Requests to warm a daemon or controller up before measuring (JIT, caches). */
const WARMUP = 200;

/** What `hello` reports of batches, or undefined when it reports none. */
function batchesOf(h: Hello): { batches: number; sizes: Record<string, number> } | undefined {
  return typeof h.batches === 'number' && h.sizes && typeof h.sizes === 'object'
    ? { batches: h.batches, sizes: h.sizes }
    : undefined;
}

/** The batches between two hellos. */
export function batchDelta(before: Hello, after: Hello, migrations: number): BatchStats | null {
  const a = batchesOf(before);
  const b = batchesOf(after);
  if (!a || !b) return null;
  const sizes: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.sizes)) {
    const d = v - (a.sizes[k] ?? 0);
    if (d > 0) sizes[k] = d;
  }
  const batches = b.batches - a.batches;
  return { batches, sizes, mean: batches > 0 ? migrations / batches : 0 };
}

interface Timed {
  readonly ms: number[];
  /** Per swap, what the callee timed itself (in-process only). */
  readonly inner: number[];
  failed: number;
  error?: string;
  capped: boolean;
  seconds: number;
}

/**
 * Runs `count` calls spread over `workers` loops, each loop one call at a time; stops issuing at
 * `maxSeconds`. Every failure is counted (the first one's message kept), never thrown.
 */
async function timed(
  workers: number,
  count: number,
  maxSeconds: number,
  interrupt: Interrupt,
  call: (worker: number) => Promise<number | undefined>,
): Promise<Timed> {
  const out: Timed = { ms: [], inner: [], failed: 0, capped: false, seconds: 0 };
  const t0 = performance.now();
  const deadline = t0 + maxSeconds * 1000;
  let issued = 0;
  const loop = async (w: number) => {
    while (issued < count) {
      interrupt.check();
      if (performance.now() > deadline) {
        out.capped = true;
        return;
      }
      issued++;
      const t1 = performance.now();
      try {
        const inner = await call(w);
        out.ms.push(performance.now() - t1);
        if (inner !== undefined) out.inner.push(inner);
      } catch (error) {
        if ((error as Error).message === 'interrupted') throw error;
        out.failed++;
        out.error ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => loop(w)));
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

export async function benchApi(options: ApiBenchOptions): Promise<ApiBenchResult> {
  const say = options.onProgress ?? (() => {});
  const entry = options.entry ?? DEFAULT_ENTRY;
  const runner = new ProcessRunner();
  const dir = options.stateDir;
  const fm = new Flowmig({ stateDir: dir });
  const inPrefix = `${options.prefix}i`;
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg();
  // Every lab is torn down at the end whatever happens: refuse names that are already taken, so
  // what is torn down is only what this run built.
  const probe = await loadLab(undefined, { prefix: options.prefix });
  const present = await listNamespaces(runner);
  const taken = [options.prefix, inPrefix]
    .flatMap((p) => probe.nodes.map((n) => `${p}${n.name}`))
    .filter((ns) => present.has(ns));
  if (taken.length)
    throw new FlowmigError(
      `namespace ${taken.join(', ')} exists; give the benchmark another --prefix`,
    );
  const files = await mkdtemp(join(tmpdir(), 'flowmig-bench-api-'));
  const interrupt = new Interrupt();
  const flowmig = (...args: string[]) => [process.execPath, entry, '--state-dir', dir, ...args];
  const cells: ApiCell[] = [];
  const baseline: ApiBaseline[] = [];
  const labs: string[] = [];
  const atStart = bundleState(entry);
  /** Labs up now: torn down in `finally` if a step fails. */
  const up = new Set<{ id: string; byEntry: boolean }>();
  const down = async (lab: { id: string; byEntry: boolean }) => {
    say(`tearing lab ${lab.id} down`);
    // The entry's own down first (through its daemon); the library's down after it finds
    // nothing left, or removes what a failed step left.
    if (lab.byEntry)
      await runner.run(flowmig('down', '--lab', lab.id), { timeoutMs: 300_000 }).catch(() => {});
    await fm.down(lab.id);
    up.delete(lab);
  };
  try {
    for (const n of options.flows) {
      const file = join(files, `api${n}.json`);
      await writeFile(file, JSON.stringify(apiLab(n)));
      const lab = await loadLab(file, { prefix: options.prefix });
      const addresses = lab.flows.map((f) => f.address);
      const pick = seededRandom(n);
      const flow = () => addresses[Math.floor(pick() * addresses.length)] ?? 'fe00::1';

      // The in-process baseline first, on a lab of its own (the daemon's lab is built next).
      const local = await loadLab(file, { prefix: inPrefix });
      say(`building lab ${local.id} (${n} flows) for the in-process swap`);
      const localLab = { id: local.id, byEntry: false };
      up.add(localLab);
      labs.push(local.id);
      await fm.up(local);
      const count1 = requestsFor(1, options.requests);
      const swapLocal = async () => (await fm.swap(local.id, flow())).totalMs;
      say(`in-process swap at ${n} flows: warming up`);
      await timed(1, Math.min(WARMUP, count1), options.maxSeconds, interrupt, swapLocal);
      say(`in-process swap at ${n} flows: ${count1} swaps`);
      const b = await timed(1, count1, options.maxSeconds, interrupt, swapLocal);
      const bd = distribution(b.ms);
      const base: ApiBaseline = {
        flows: n,
        requests: b.ms.length,
        capped: b.capped,
        migrations_per_s: b.ms.length / b.seconds,
        p50_ms: bd.p50,
        p99_ms: bd.p99,
        apply_p50_ms: distribution(b.inner).p50,
      };
      baseline.push(base);
      await down(localLab);

      // The daemon's lab, built by the entry timed, so its daemon is that entry's too.
      say(`building lab ${lab.id} (${n} flows) and its daemon (${entry} up --detach)`);
      const daemonLab = { id: lab.id, byEntry: true };
      up.add(daemonLab);
      labs.push(lab.id);
      const built = await runner.run(
        flowmig('up', '--detach', '--config', file, '--prefix', options.prefix, '--json'),
        { timeoutMs: 600_000 },
      );
      const socket = (JSON.parse(built.stdout) as { daemon?: { socket?: string } }).daemon?.socket;
      if (!socket) throw new FlowmigError(`lab ${lab.id} is up but names no daemon socket`);
      const control = await DaemonClient.connect(socket);
      try {
        const warm = await DaemonClient.connect(socket);
        say(`daemon at ${n} flows: warming up`);
        await timed(1, Math.min(WARMUP, count1), options.maxSeconds, interrupt, async () => {
          await warm.request({ verb: 'swap', flow: flow() });
          return undefined;
        }).finally(() => warm.close());
        for (const k of options.clients) {
          const count = requestsFor(k, options.requests);
          const clients: DaemonClient[] = [];
          try {
            for (let i = 0; i < k; i++) clients.push(await DaemonClient.connect(socket, 10_000));
            say(`daemon at ${n} flows, ${k} client(s): ${count} swaps`);
            const before = await control.request<Hello>({ verb: 'hello' });
            const r = await timed(k, count, options.maxSeconds, interrupt, async (w) => {
              await (clients[w] as DaemonClient).request({ verb: 'swap', flow: flow() }, 120_000);
              return undefined;
            });
            const after = await control.request<Hello>({ verb: 'hello' });
            const d = distribution(r.ms);
            const rate = r.ms.length / r.seconds;
            cells.push({
              flows: n,
              clients: k,
              requests: r.ms.length,
              failed: r.failed,
              ...(r.error !== undefined ? { error: r.error } : {}),
              capped: r.capped,
              seconds: r.seconds,
              migrations_per_s: rate,
              p50_ms: d.p50,
              p99_ms: d.p99,
              max_ms: d.max,
              batches: batchDelta(before, after, r.ms.length),
              p50_vs_inprocess: base.p50_ms > 0 ? d.p50 / base.p50_ms : null,
              rate_vs_inprocess: base.migrations_per_s > 0 ? rate / base.migrations_per_s : null,
            });
            say(
              `daemon at ${n} flows, ${k} client(s): ${rate.toFixed(0)} migrations/s, p50 ${d.p50.toFixed(3)} ms, p99 ${d.p99.toFixed(3)} ms`,
            );
          } finally {
            for (const c of clients) c.close();
          }
        }
      } finally {
        control.close();
      }
      await down(daemonLab);
    }
    return {
      entry,
      bundle: { atStart, atEnd: bundleState(entry) },
      startedAt,
      endedAt: new Date().toISOString(),
      cpus: cpus().length,
      load: { atStart: loadAtStart, atEnd: loadavg() },
      labs,
      cells,
      baseline,
      targets: apiTargets(cells, baseline),
      notes: [
        "each client is its own DaemonClient connection, one request at a time: {verb:'swap', flow} over flows picked at random (seeded); latency is the client's, request sent → reply read",
        `migrations/s: requests answered ok / the cell's wall time; each lab first takes ${WARMUP} swaps (or a cell's requests, if fewer) from one caller, not counted; a cell stops issuing at ${options.maxSeconds} s (capped)`,
        `the labs are built by the entry timed (up --detach --config FILE), so the daemon is that entry's; the in-process labs (prefix ${inPrefix}) by this process's library`,
        "in-process: Flowmig.swap called in this process (lock, state, the in-process netlink path), one call at a time; APPLY: the controller's own time of the rule change and conntrack pass",
        "batches: the daemon's hello (batches, sizes) before and after the cell; '-' when it reports none",
      ],
    };
  } catch (error) {
    throw interrupt.failure(error);
  } finally {
    for (const lab of [...up]) await down(lab).catch(() => {});
    await rm(files, { recursive: true, force: true });
    interrupt.dispose();
  }
}
