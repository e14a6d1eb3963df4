// `flowmig bench cli`: how long flowmig's commands take as a shell sees them (spawn to exit), beside
// `node -e 0` and the reference's swap run as processes, on labs it builds and tears down.
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flowmig } from '../control/flowmig.js';
import { listNamespaces } from '../control/kernel.js';
import { FlowmigError } from '../errors.js';
import { ProcessRunner } from '../exec/runner.js';
import { loadLab } from '../lab/load.js';
import { concreteAddress } from '../lab/model.js';
import { Interrupt } from './interrupt.js';

/** This package's entry: dist/src/bench/cli.js → bin/flowmig.js. */
export const DEFAULT_ENTRY = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'bin',
  'flowmig.js',
);

export interface CliBenchOptions {
  /** Measured runs of each command (after two rounds of warm-up). */
  readonly runs: number;
  /** Namespace prefix of the flowmig lab; the reference's lab takes it with `r` appended. */
  readonly prefix: string;
  /** The state directory both labs live in (passed to every flowmig command timed). */
  readonly stateDir: string;
  /** The flowmig entry to time (default: this package's bin/flowmig.js). */
  readonly entry?: string | undefined;
  readonly onProgress?: (text: string) => void;
}

export interface CliBenchRow {
  readonly name: string;
  /** The processes one run starts, in order (the reference's swap is three). */
  readonly argv: readonly (readonly string[])[];
  readonly runs: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  /** p50 / the p50 of `node -e 0`. */
  readonly vs_node: number;
  /** p50 / the p50 of the reference's swap. */
  readonly vs_reference: number;
}

export interface CliBenchTarget {
  readonly name: string;
  /** The most p50 / node's p50 may be. */
  readonly limit: number;
  readonly ratio: number;
  readonly met: boolean;
}

/** Whether the entry's CLI ran from its bundle: `fresh` (it did), `stale` or `none` (it did not). */
export type BundleState = 'fresh' | 'stale' | 'none';

export interface CliBenchResult {
  readonly entry: string;
  /** The entry's bundle when the runs started and when they ended (a compile meanwhile makes it stale). */
  readonly bundle: { readonly atStart: BundleState; readonly atEnd: BundleState };
  readonly runs: number;
  readonly labs: { readonly flowmig: string; readonly reference: string };
  readonly rows: readonly CliBenchRow[];
  readonly targets: readonly CliBenchTarget[];
  readonly notes: readonly string[];
}

const WARMUP_ROUNDS = 2;

/** bin/flowmig.js's choice: the bundle when it is at least as new as the compiled main.js. */
export function bundleState(entry: string): BundleState {
  const cli = join(dirname(entry), '..', 'dist', 'src', 'cli');
  const mtime = (file: string) =>
    statSync(join(cli, file), { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const bundle = mtime('main.bundle.js');
  if (bundle < 0) return 'none';
  return bundle >= mtime('main.js') ? 'fresh' : 'stale';
}

/** Nearest-rank percentile (the smallest sample with at least p% at or below it). */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

interface Measured {
  readonly name: string;
  readonly argv: readonly (readonly string[])[];
  /** Runs the processes once, in order, in the namespace given (the reference's in the translator). */
  readonly run: () => Promise<void>;
  readonly ms: number[];
}

export async function benchCli(options: CliBenchOptions): Promise<CliBenchResult> {
  const say = options.onProgress ?? (() => {});
  const entry = options.entry ?? DEFAULT_ENTRY;
  const runner = new ProcessRunner();
  const node = process.execPath;
  const dir = options.stateDir;
  const fm = new Flowmig({ stateDir: dir });
  const lab = await loadLab(undefined, { prefix: options.prefix });
  const ref = await loadLab(undefined, { prefix: `${options.prefix}r`, engine: 'iptables' });
  // Both labs are torn down at the end whatever happens: refuse names that are already taken, so
  // what is torn down is only what this run built.
  const present = await listNamespaces(runner);
  const taken = [...lab.nodes, ...ref.nodes].map((n) => n.netns).filter((ns) => present.has(ns));
  if (taken.length)
    throw new FlowmigError(
      `namespace ${taken.join(', ')} exists; give the benchmark another --prefix`,
    );
  const interrupt = new Interrupt();
  const flowmig = (...args: string[]) => [node, entry, '--state-dir', dir, ...args];
  try {
    // The flowmig lab is built by the entry timed, so its daemon is that entry's too.
    say(`building lab ${lab.id} and its daemon (${entry} up --detach)`);
    await runner.run(flowmig('up', '--detach', '--prefix', options.prefix, '--json'), {
      timeoutMs: 120_000,
    });
    say(`building lab ${ref.id} (iptables engine) for the reference's swap`);
    await fm.up(ref);

    const t = ref.translator.netns;
    const flow = ref.flows[0];
    const servers = ref.nodes.filter((n) => n.role === 'server');
    const a = concreteAddress(ref, servers[0]?.name ?? '');
    const b = concreteAddress(ref, servers[1]?.name ?? '');
    if (!flow || !a || !b) throw new Error(`lab ${ref.id} has no flow between two servers`);
    // The reference's rule, as its notes add it: DNAT in PREROUTING, the flow on the first server.
    const rule = (to: string) => [
      '-d',
      `${flow.address}/128`,
      '-j',
      'DNAT',
      '--to-destination',
      to,
    ];
    await runner.run(['ip6tables', '-w', '-t', 'nat', '-A', 'PREROUTING', ...rule(a)], {
      netns: t,
    });
    let on = a;
    const refArgv = (from: string, to: string) => [
      ['ip6tables', '-w', '-t', 'nat', '-D', 'PREROUTING', ...rule(from)],
      ['ip6tables', '-w', '-t', 'nat', '-A', 'PREROUTING', ...rule(to)],
      ['conntrack', '-F'],
    ];

    const processes = (argv: readonly string[]) => ({
      argv: [argv],
      run: async () => {
        await runner.run(argv, { timeoutMs: 60_000 });
      },
    });
    const measured: Measured[] = [
      { name: 'node -e 0', ...processes([node, '-e', '0']), ms: [] },
      { name: 'flowmig --version', ...processes([node, entry, '--version']), ms: [] },
      {
        name: 'flowmig status',
        ...processes(flowmig('status', '--lab', lab.id)),
        ms: [],
      },
      { name: 'flowmig swap', ...processes(flowmig('swap', '--lab', lab.id)), ms: [] },
      {
        name: 'reference swap',
        argv: refArgv(a, b).map((argv) => ['ip', 'netns', 'exec', t, ...argv]),
        run: async () => {
          const to = on === a ? b : a;
          // Three processes, one after the other, as the reference's notes run them.
          for (const argv of refArgv(on, to)) await runner.run(argv, { netns: t });
          on = to;
        },
        ms: [],
      },
    ];
    const atStart = bundleState(entry);
    // Round by round (each command once per round), so a change in the machine's load during the
    // run weighs on every row alike.
    for (let round = 0; round < WARMUP_ROUNDS + options.runs; round++) {
      const warm = round < WARMUP_ROUNDS;
      say(warm ? `warm-up round ${round + 1}` : `run ${round - WARMUP_ROUNDS + 1}/${options.runs}`);
      for (const m of measured) {
        interrupt.check();
        const t0 = performance.now();
        await m.run();
        const ms = performance.now() - t0;
        if (!warm) m.ms.push(ms);
      }
    }

    const p50 = (name: string) => percentile(measured.find((m) => m.name === name)?.ms ?? [], 50);
    const nodeP50 = p50('node -e 0');
    const refP50 = p50('reference swap');
    const rows: CliBenchRow[] = measured.map((m) => {
      const mid = percentile(m.ms, 50);
      return {
        name: m.name,
        argv: m.argv,
        runs: m.ms.length,
        p50_ms: mid,
        p95_ms: percentile(m.ms, 95),
        vs_node: nodeP50 > 0 ? mid / nodeP50 : 0,
        vs_reference: refP50 > 0 ? mid / refP50 : 0,
      };
    });
    const target = (name: string, limit: number): CliBenchTarget => {
      const ratio = rows.find((r) => r.name === name)?.vs_node ?? 0;
      return { name, limit, ratio, met: ratio <= limit };
    };
    return {
      entry,
      bundle: { atStart, atEnd: bundleState(entry) },
      runs: options.runs,
      labs: { flowmig: lab.id, reference: ref.id },
      rows,
      targets: [target('flowmig swap', 1.5), target('flowmig --version', 1.3)],
      notes: [
        'wall time from spawn to exit, measured by this process; each run starts every command once, in the order of the table',
        `flowmig status and swap name the lab (--lab ${lab.id}, --state-dir ${dir}) and go through its daemon, started by the entry timed (up --detach)`,
        `reference swap: the reference's three processes (ip6tables -D, ip6tables -A, conntrack -F), each run as 'ip netns exec ${t} ...', in an iptables-engine lab of its own (${ref.id}); its rule sits in PREROUTING beside flowmig's chains`,
        'vs_node, vs_reference: p50 over the p50 of `node -e 0`, of the reference swap',
      ],
    };
  } finally {
    say('tearing the labs down');
    // The entry's own down first (through its daemon); the library's down after it finds
    // nothing left, or removes what a failed run left.
    await runner.run(flowmig('down', '--lab', lab.id), { timeoutMs: 120_000 }).catch(() => {});
    await fm.down(lab.id);
    await fm.down(ref.id);
    interrupt.dispose();
  }
}

function bundleText(b: CliBenchResult['bundle']): string {
  const text = {
    fresh: 'from its bundle',
    stale: 'bundle stale: from its modules',
    none: 'no bundle',
  };
  return b.atStart === b.atEnd
    ? text[b.atStart]
    : `${text[b.atStart]} at the start, ${text[b.atEnd]} at the end`;
}

export function renderCliBench(r: CliBenchResult): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  const x = (v: number) => `${v.toFixed(2)}×`;
  const lines = [
    `flowmig commands, wall time from spawn to exit, ${r.runs} runs each (entry ${r.entry}, ${bundleText(r.bundle)})`,
    `${pad('COMMAND', 20)}${pad('P50 ms', 10)}${pad('P95 ms', 10)}${pad('/NODE', 9)}/REFERENCE`,
    ...r.rows.map(
      (row) =>
        `${pad(row.name, 20)}${pad(row.p50_ms.toFixed(1), 10)}${pad(row.p95_ms.toFixed(1), 10)}${pad(x(row.vs_node), 9)}${x(row.vs_reference)}`,
    ),
    '',
    ...r.targets.map(
      (t) =>
        `target: ${t.name} p50 ≤ ${t.limit} × node -e 0: ${x(t.ratio)} (${t.met ? 'met' : 'not met'})`,
    ),
    ...r.notes.map((n) => `note: ${n}`),
  ];
  return lines.join('\n');
}
