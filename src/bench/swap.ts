// `flowmig bench swap`: swap latency per method at 1..100k installed flows, on one lab, one run.
import { fileURLToPath } from 'node:url';
import type { ApplyResult } from '../agent/agent.js';
import { Agent } from '../agent/agent.js';
import { AgentClient } from '../agent/client.js';
import { Flowmig } from '../control/flowmig.js';
import { netnsPath } from '../control/in-process.js';
import { joinNftOps } from '../engines/edits.js';
import type { FlowChange, FlowMapping } from '../engines/engine.js';
import { iptablesEngine } from '../engines/iptables.js';
import { lateTable } from '../engines/late.js';
import {
  additions,
  mapEdits,
  NFT_TABLE,
  nftablesEngine,
  renderTable,
} from '../engines/nftables.js';
import { execute } from '../exec/execute.js';
import { Background, sleep } from '../experiment/process.js';
import { loadLab } from '../lab/load.js';
import type { Op } from '../plan/ops.js';
import { distribution } from '../results/stats.js';
import { syntheticMappings } from './flows.js';
import { Interrupt } from './interrupt.js';

export interface SwapRow {
  readonly method: string;
  readonly flows: number;
  readonly samples: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly ratio_p50_vs_reference: number | null;
  /** For the agent: p50 of the time spent inside the agent (netlink work only). */
  readonly inner_p50_ms?: number;
  /** For the fast methods: conntrack entries deleted per swap (1 when each swap had its entry). */
  readonly deleted_per_swap?: number;
}

export interface LoadRow {
  readonly method: string;
  readonly flows: number;
  readonly ms: number;
}

export interface BulkRow {
  readonly method: string;
  readonly flows: number;
  readonly ms: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  /** The release transaction that follows the move (late-packet set), when timed. */
  readonly releaseMs?: number;
}

export interface SwapBenchResult {
  readonly rows: SwapRow[];
  readonly load: LoadRow[];
  readonly bulk: BulkRow[];
  readonly notes: string[];
}

export interface SwapBenchOptions {
  readonly flows: readonly number[];
  /** Samples for the fast path at each N (slow methods take fewer, see samplesFor). */
  readonly samples: number;
  readonly prefix: string;
  readonly stateDir?: string | undefined;
  readonly onProgress?: (text: string) => void;
}

const POKE = fileURLToPath(new URL('./poke.js', import.meta.url));
/** Methods with no process spawn per swap: many samples, and they count deleted entries. */
const FAST = new Set([
  'nftables-agent',
  'nftables-agent+flood',
  'nftables-inprocess',
  'nftables-inprocess+flood',
]);
const A = 'fc00::1';
/** Grace time of former responders in the benchmark's swaps (the lab default). */
const GRACE_MS = 5_000;
const C = 'fc01::1';
const D = 'fc02::2';

/** Slow methods re-read or rewrite whole rule sets: fewer samples as N grows keep the run short. */
function samplesFor(method: string, n: number, fast: number): number {
  if (FAST.has(method)) return fast;
  if (method === 'nftables-programs') return Math.min(fast, 50);
  if (n >= 100_000) return 3;
  if (n >= 10_000) return 8;
  return 30;
}

export async function benchSwap(options: SwapBenchOptions): Promise<SwapBenchResult> {
  const say = options.onProgress ?? (() => {});
  const fm = new Flowmig({ stateDir: options.stateDir });
  const lab = await loadLab(undefined, { prefix: options.prefix, engine: 'nftables' });
  const rows: SwapRow[] = [];
  const load: LoadRow[] = [];
  const bulk: BulkRow[] = [];
  const notes: string[] = [];
  const interrupt = new Interrupt();
  say('building the lab');
  await fm.up(lab);
  const t = lab.translator.netns;
  const run = (ops: readonly Op[]) => execute(fm.runner, ops);
  const runIn = (argv: string[], stdin?: string) =>
    fm.runner.run(argv, { netns: t, stdin, timeoutMs: 600_000 });
  let client: AgentClient | undefined;
  let local: Agent | undefined;
  let poker: Background | undefined;
  try {
    const state = await fm.store.read(lab.id);
    if (!state?.agent)
      throw new Error(`the agent did not start: ${state?.agentError ?? 'unknown'}`);
    client = await AgentClient.connect(state.agent.socket);
    const agent = client;
    local = await Agent.start({ netns: netnsPath(t) });
    const inProcess = local;
    // Before each sample the client sends one datagram into the flow (a helper in A, answering when
    // it is out), so every swap really deletes a conntrack entry. A background ping at a short
    // interval would do it too, but iputils ping spins a core below 10 ms, skewing the figures.
    const client0 = lab.nodes.find((n) => n.name === 'A')?.netns ?? '';
    poker = Background.start([process.execPath, POKE, 'fe00::1', '9'], {
      netns: client0,
      stdin: true,
    });
    const poke = () => (poker as Background).request('poke');

    const clear = async () => {
      await runIn(['nft', 'delete', 'table', 'ip6', NFT_TABLE]).catch(() => {});
      await runIn(['nft', 'delete', 'table', 'ip6', 'nat']).catch(() => {}); // ip6tables-nft's table
      await runIn(['conntrack', '-F', '-f', 'ipv6'], undefined).catch(() => {});
    };

    /** One sample: `ms` when the callee timed itself, `within` (time inside the agent), `deleted`. */
    type Sample = { ms?: number; within?: number; deleted?: number } | undefined;
    const measure = async (method: string, n: number, swap: (to: string) => Promise<Sample>) => {
      const count = samplesFor(method, n, options.samples);
      let to = D;
      // Warm up to steady state (JIT in both processes, caches) with samples taken as the measured
      // ones are, then thrown away: 500 for the fast paths, whose first hundreds run slower (at
      // 1 flow, measured first, p50 0.36 ms and p99 1.4 ms after 200 bare swaps of warm-up, against
      // 0.20–0.27 and 0.40–0.52 ms at the later N). An even number of swaps in all leaves the flow
      // where it started.
      const warmup = FAST.has(method) ? 500 : 4;
      const lat: number[] = [];
      const inner: number[] = [];
      let deleted = 0;
      for (let i = 0; i < warmup + (count % 2) + count; i++) {
        interrupt.check();
        await poke();
        await sleep(2); // the datagram's entry is in by now; the machine settles
        const t0 = performance.now();
        const r = await swap(to);
        const ms = r?.ms ?? performance.now() - t0;
        to = to === D ? C : D;
        if (i < warmup + (count % 2)) continue;
        lat.push(ms);
        if (r?.within !== undefined) inner.push(r.within);
        deleted += r?.deleted ?? 0;
      }
      const d = distribution(lat);
      const counted = FAST.has(method);
      rows.push({
        method,
        flows: n,
        samples: count,
        p50_ms: d.p50,
        p99_ms: d.p99,
        ratio_p50_vs_reference: null,
        ...(inner.length ? { inner_p50_ms: distribution(inner).p50 } : {}),
        ...(counted ? { deleted_per_swap: deleted / count } : {}),
      });
      say(
        `${method} at ${n} flows: p50 ${d.p50.toFixed(3)} ms, p99 ${d.p99.toFixed(3)} ms (${count} samples${counted ? `, ${(deleted / count).toFixed(2)} entries deleted per swap` : ''})`,
      );
    };

    for (const n of options.flows) {
      const base = syntheticMappings(n, A, [C, D]);
      const flow0 = (responder: string): FlowMapping => ({
        address: 'fe00::1',
        initiatorAddress: A,
        responderAddress: responder,
      });
      let current = C;
      const change = (to: string) => {
        const c = [{ before: flow0(current), after: flow0(to) }];
        current = to;
        return c;
      };
      const allAfter = () => base.map((m, i) => (i === 0 ? flow0(current) : m));

      // nftables: load with the nft program (one transaction), then swap with programs and agent.
      await clear();
      let t0 = performance.now();
      await run([nftablesEngine.install(t, base)]);
      load.push({ method: 'nftables-programs', flows: n, ms: performance.now() - t0 });
      current = C;
      // A swap as flowmig plans it: the flow's map elements and its late-packet grace, one
      // transaction (see planMigration).
      const swapOp = (changes: FlowChange[]) => {
        const rules = nftablesEngine.update(t, changes, allAfter);
        const late = lateTable.update(t, changes, GRACE_MS);
        return late ? joinNftOps(rules, late) : rules;
      };
      const releaseOps = (changes: FlowChange[]) => {
        const op = lateTable.release(t, changes, GRACE_MS);
        return op ? [op] : [];
      };
      await measure('nftables-programs', n, async (to) => {
        const c = change(to);
        await run([
          swapOp(c),
          { kind: 'conntrackDelete', netns: t, origDst: 'fe00::1' },
          ...releaseOps(c),
        ]);
        return undefined;
      });
      const viaAgent = async (to: string): Promise<Sample> => {
        const c = change(to);
        const op = swapOp(c);
        const r = await agent.apply(
          NFT_TABLE,
          op.edits ?? [],
          [{ address: 'fe00::1', keepReplySrc: to }],
          releaseOps(c).flatMap((o) => o.edits ?? []),
        );
        return { within: r.totalMs, deleted: r.deleted };
      };
      await measure('nftables-agent', n, viaAgent);
      // The in-process path (Flowmig's `inProcess`): the same code in this process, its netlink
      // sockets made in the translator namespace. Timed until the flow has moved, as the agent
      // answers; the release transaction follows outside the figure, as it does in the agent.
      const viaLocal = async (to: string): Promise<Sample> => {
        const c = change(to);
        const op = swapOp(c);
        const t1 = performance.now();
        const { result, release } = await inProcess.migrate({
          table: NFT_TABLE,
          edits: op.edits ?? [],
          conntrack: [{ address: 'fe00::1', keepReplySrc: to }],
          after: releaseOps(c).flatMap((o) => o.edits ?? []),
        });
        const ms = performance.now() - t1;
        await release();
        return { ms, deleted: result.deleted };
      };
      // As under the daemon (Flowmig.standAgentBy): the agent process, kept as the fallback, stops
      // following conntrack events while migrations are made in-process. Its next migration (the
      // agent rows' warm-up) indexes again.
      await agent.standby();
      await measure('nftables-inprocess', n, viaLocal);
      const flood = Background.start(['ping', '-q', '-i', '0.00001', 'fe00::1'], {
        netns: client0,
      });
      try {
        await sleep(200);
        await measure('nftables-agent+flood', n, viaAgent);
        await agent.standby();
        await measure('nftables-inprocess+flood', n, viaLocal);
      } finally {
        await flood.stop('SIGINT');
      }

      // Load through the agent: the empty table by program, then all elements in one netlink batch.
      await clear();
      await runIn(['nft', '-f', '-'], `${renderTable()}\n`);
      t0 = performance.now();
      await agent.apply(NFT_TABLE, mapEdits(additions(base)), []);
      load.push({ method: 'nftables-agent', flows: n, ms: performance.now() - t0 });
      // The same in-process: no JSON request carrying every element to another process.
      await clear();
      await runIn(['nft', '-f', '-'], `${renderTable()}\n`);
      t0 = performance.now();
      await inProcess.edit(NFT_TABLE, mapEdits(additions(base)));
      load.push({ method: 'nftables-inprocess', flows: n, ms: performance.now() - t0 });
      current = C;

      // Bulk: evacuate every flow on C to D in one transaction and one conntrack pass, by the
      // agent, then back from D to C in-process. Timed until the flows have moved (the agent
      // answers then); the release transaction that follows is reported beside.
      if (n >= 10_000) {
        const onC = base.filter((m) => m.responderAddress === C).slice(0, 10_000);
        const evacuate = async (method: string, from: string, to: string) => {
          const moves = onC.map((b) => ({
            before: { ...b, responderAddress: from },
            after: { ...b, responderAddress: to },
          }));
          const op = swapOp(moves);
          const request = {
            table: NFT_TABLE,
            edits: op.edits ?? [],
            conntrack: onC.map((m) => ({ address: m.address, keepReplySrc: to })),
            after: releaseOps(moves).flatMap((o) => o.edits ?? []),
          };
          t0 = performance.now();
          let r: ApplyResult;
          let releaseMs: number | undefined;
          if (method === 'nftables-agent') {
            r = await agent.apply(request.table, request.edits, request.conntrack, request.after);
          } else {
            const m = await inProcess.migrate(request);
            r = m.result;
            releaseMs = await m.release();
          }
          const ms = performance.now() - t0;
          bulk.push({
            method,
            flows: onC.length,
            ms,
            ruleMs: r.ruleMs,
            conntrackMs: r.conntrackMs,
            ...(releaseMs !== undefined ? { releaseMs } : {}),
          });
          say(`bulk (${method}): ${onC.length} flows ${from} → ${to} in ${ms.toFixed(1)} ms`);
        };
        await evacuate('nftables-agent', C, D);
        await evacuate('nftables-inprocess', D, C);
      }

      // iptables engine: whole chains rewritten per change (ip6tables-restore), conntrack by program.
      await clear();
      current = C;
      t0 = performance.now();
      await run([iptablesEngine.install(t, base)]);
      load.push({ method: 'iptables', flows: n, ms: performance.now() - t0 });
      await measure('iptables', n, async (to) => {
        await run([
          iptablesEngine.update(t, change(to), allAfter),
          { kind: 'conntrackDelete', netns: t, origDst: 'fe00::1' },
        ]);
        return undefined;
      });

      // The reference: delete the rule, add the new one, flush all conntrack (three processes).
      await clear();
      current = C;
      const refRules = [
        '*nat',
        ...base.map(
          (m, i) =>
            `-A PREROUTING -d ${m.address}/128 -j DNAT --to-destination ${i === 0 ? C : m.responderAddress}`,
        ),
        `-A POSTROUTING -s ${A}/128 -j SNAT --to-source fe00::1`,
        'COMMIT',
        '',
      ].join('\n');
      t0 = performance.now();
      await runIn(['ip6tables-restore', '-w'], refRules);
      load.push({ method: 'reference', flows: n, ms: performance.now() - t0 });
      await measure('reference', n, async (to) => {
        const from = current;
        current = to;
        const rule = (x: string) => ['-d', 'fe00::1/128', '-j', 'DNAT', '--to-destination', x];
        await runIn(['ip6tables', '-w', '-t', 'nat', '-D', 'PREROUTING', ...rule(from)]);
        await runIn(['ip6tables', '-w', '-t', 'nat', '-A', 'PREROUTING', ...rule(to)]);
        await runIn(['conntrack', '-F']);
        return undefined;
      });
      await clear();
    }
    for (const r of rows) {
      const ref = rows.find((x) => x.method === 'reference' && x.flows === r.flows);
      (r as { ratio_p50_vs_reference: number | null }).ratio_p50_vs_reference =
        ref && r.p50_ms > 0 ? ref.p50_ms / r.p50_ms : null;
    }
    notes.push(
      "latency = command issued → mapping committed and the flow's conntrack entries deleted, measured by the caller",
      'ratio_p50_vs_reference = reference p50 / method p50 at the same N (higher is faster)',
      'nftables-agent: a Unix-socket request to the translator agent, which sends one nf_tables batch and exact-tuple ctnetlink deletes',
      "nftables-inprocess: the same code called in this process, its netlink sockets made in the translator namespace (Flowmig's inProcess path: no IPC)",
      'fast paths are timed until the flow has moved (rules committed, conntrack entries deleted); the late-set release transaction follows outside the figure',
      'DEL/SWAP: conntrack entries each swap deleted (the client sends one datagram into the flow before each sample)',
    );
    return { rows, load, bulk, notes };
  } finally {
    client?.close();
    local?.close();
    await poker?.stop('SIGTERM');
    say('tearing the lab down');
    await fm.down(lab.id);
    interrupt.dispose();
  }
}

export function renderSwapBench(r: SwapBenchResult): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `${pad('METHOD', 27)}${pad('FLOWS', 9)}${pad('SAMPLES', 9)}${pad('P50 ms', 11)}${pad('P99 ms', 11)}${pad('REF/P50', 9)}${pad('DEL/SWAP', 10)}`,
    ...r.rows.map(
      (x) =>
        `${pad(x.method, 27)}${pad(String(x.flows), 9)}${pad(String(x.samples), 9)}${pad(x.p50_ms.toFixed(3), 11)}${pad(x.p99_ms.toFixed(3), 11)}${pad(x.ratio_p50_vs_reference === null ? '-' : `${x.ratio_p50_vs_reference.toFixed(1)}×`, 9)}${pad(x.deleted_per_swap === undefined ? '-' : x.deleted_per_swap.toFixed(2), 10)}${x.inner_p50_ms === undefined ? '' : `(in agent ${x.inner_p50_ms.toFixed(3)})`}`,
    ),
    '',
    'load N flows (one transaction):',
    ...r.load.map((x) => `  ${pad(x.method, 20)}${pad(String(x.flows), 9)}${x.ms.toFixed(1)} ms`),
    '',
    'bulk migration (one transaction + one conntrack pass):',
    ...(r.bulk.length
      ? r.bulk.map(
          (x) =>
            `  ${pad(x.method, 20)}${pad(String(x.flows), 9)}${x.ms.toFixed(1)} ms (rule ${x.ruleMs.toFixed(1)} ms, conntrack ${x.conntrackMs.toFixed(1)} ms${x.releaseMs === undefined ? '' : `; then release ${x.releaseMs.toFixed(1)} ms`})`,
        )
      : ['  (needs N ≥ 10,000)']),
    '',
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n');
}
