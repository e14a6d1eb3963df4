// `flowmig bench swap|datapath|cli|api|cluster`: the benchmarks (src/bench/), each loaded only when it runs.
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { print } from '../output.js';
import { positiveInt, positiveInts } from '../parse.js';
import { Progress } from '../render.js';
import type { Route } from '../route.js';

interface SwapOptions {
  readonly flows: string;
  readonly samples?: number;
  readonly prefix?: string;
  readonly dashboard?: boolean;
  readonly pairs: number;
  readonly load: string;
  readonly viewer: string;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  const bench = program.command('bench').description('benchmarks (see src/bench/)');
  bench
    .command('swap')
    .description(
      'swap latency per method (reference, iptables, nftables programs and agent) at 1..100k flows',
    )
    .option('--flows <list>', 'installed flow counts', '1,1000,10000,100000')
    .option(
      '--samples <n>',
      'samples per fast-path measurement (with --dashboard: swaps per phase, default 500)',
      positiveInt,
    )
    .option(
      '-p, --prefix <prefix>',
      "namespace prefix of the benchmark lab (default 'fmb-', with --dashboard 'fmw-')",
    )
    .option(
      '--dashboard',
      "instead: swaps through a lab's daemon, alternately quiet and with the dashboard streaming in Chromium and Prometheus scraping /metrics (p50 target: loaded ≤ 1.10 × quiet)",
    )
    .option('--pairs <n>', 'with --dashboard: pairs of phases (quiet, loaded)', positiveInt, 3)
    .option(
      '--load <kind>',
      "with --dashboard: the daemon's traffic from A through every phase, ping (1,000/s) or udp (2,000/s)",
      'ping',
    )
    .option(
      '--viewer <kind>',
      "with --dashboard: what watches when loaded, chromium (the page in headless Chromium) or stream (a process reading the event stream: the daemon's side without a browser on this machine)",
      'chromium',
    )
    .option(
      '--json',
      'print rows as JSON: {method, flows, samples, p50_ms, p99_ms, ratio_p50_vs_reference} (with --dashboard: {quiet, loaded, ratio_p50, ratio_p99, target, phases, ...})',
    )
    .action(async (o: SwapOptions) => {
      const progress = new Progress(process.stderr, !o.json);
      if (o.dashboard) {
        if (o.load !== 'ping' && o.load !== 'udp')
          throw new InputError('', [`--load: ping or udp, not '${o.load}'`]);
        if (o.viewer !== 'chromium' && o.viewer !== 'stream')
          throw new InputError('', [`--viewer: chromium or stream, not '${o.viewer}'`]);
        const { benchDashboard } = await import('../../bench/dashboard.js');
        const { renderDashboardBench } = await import('../../bench/dashboard-result.js');
        const r = await benchDashboard({
          samples: o.samples ?? 500,
          pairs: o.pairs,
          load: o.load,
          viewer: o.viewer,
          prefix: o.prefix ?? 'fmw-',
          stateDir: route.stateDir,
          onProgress: (text) => progress.update(text),
        });
        progress.done();
        print(o.json, r, renderDashboardBench(r));
        return;
      }
      const flows = positiveInts(o.flows);
      const { benchSwap, renderSwapBench } = await import('../../bench/swap.js');
      const r = await benchSwap({
        flows,
        samples: o.samples ?? 1000,
        prefix: o.prefix ?? 'fmb-',
        stateDir: route.stateDir,
        onProgress: (text) => progress.update(text),
      });
      progress.done();
      print(o.json, o.json ? { rows: r.rows, load: r.load, bulk: r.bulk } : r, renderSwapBench(r));
    });

  bench
    .command('datapath')
    .description(
      'iperf3 TCP/UDP throughput and ping RTT through the translator, per engine, at 1 and 100k flows, and without NAT',
    )
    .option('--flows <list>', 'installed flow counts', '1,100000')
    .option('--seconds <s>', 'iperf3 run time per measurement', positiveInt, 3)
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark lab', 'fmd-')
    .option('--json', 'print rows as JSON')
    .action(async (o: { flows: string; seconds: number; prefix: string; json?: boolean }) => {
      const flows = positiveInts(o.flows);
      const progress = new Progress(process.stderr, !o.json);
      const { benchDatapath, renderDatapath } = await import('../../bench/datapath.js');
      const rows = await benchDatapath({
        flows,
        seconds: o.seconds,
        prefix: o.prefix,
        stateDir: route.stateDir,
        onProgress: (text) => progress.update(text),
      });
      progress.done();
      print(o.json, rows, renderDatapath(rows));
    });

  bench
    .command('cli')
    .description(
      "wall time of node -e 0, flowmig --version, status and swap (through a lab's daemon), and the reference's swap as processes",
    )
    .option('--runs <n>', 'runs of each command (after two rounds of warm-up)', positiveInt, 20)
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark labs', 'fmc-')
    .option('--cli <path>', "the flowmig entry to time (default: this package's bin/flowmig.js)")
    .option(
      '--json',
      'print the rows as JSON: {name, argv, runs, p50_ms, p95_ms, vs_node, vs_reference}',
    )
    .action(async (o: { runs: number; prefix: string; cli?: string; json?: boolean }) => {
      const progress = new Progress(process.stderr, !o.json);
      const { resolve } = await import('node:path');
      const { benchCli, renderCliBench } = await import('../../bench/cli.js');
      const r = await benchCli({
        runs: o.runs,
        prefix: o.prefix,
        stateDir: route.stateDir,
        entry: o.cli === undefined ? undefined : resolve(o.cli),
        onProgress: (text) => progress.update(text),
      });
      progress.done();
      print(o.json, r, renderCliBench(r));
    });

  bench
    .command('api')
    .description(
      "swaps through a lab's daemon by 1..100 concurrent clients at 20..100k flows (migrations/s, p50/p99, batch sizes), beside the in-process swap",
    )
    .option('--flows <list>', 'flow counts of the labs', '20,1000,100000')
    .option('--clients <list>', 'concurrent clients of each cell', '1,10,100')
    .option(
      '--requests <n>',
      'requests per cell, all clients together (default: 1000 at 1 client, else 2000)',
      positiveInt,
    )
    .option('--seconds <s>', 'stop issuing a cell’s requests after this long', positiveInt, 60)
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark labs', 'fma-')
    .option('--cli <path>', "the flowmig entry that runs the daemons (default: this package's)")
    .option('--json', 'print the result as JSON: {cells, baseline, targets, load, ...}')
    .action(
      async (o: {
        flows: string;
        clients: string;
        requests?: number;
        seconds: number;
        prefix: string;
        cli?: string;
        json?: boolean;
      }) => {
        const flows = positiveInts(o.flows);
        const clients = positiveInts(o.clients);
        const progress = new Progress(process.stderr, !o.json);
        const { resolve } = await import('node:path');
        const [{ benchApi }, { renderApiBench }] = await Promise.all([
          import('../../bench/api.js'),
          import('../../bench/api-render.js'),
        ]);
        const r = await benchApi({
          flows,
          clients,
          requests: o.requests,
          maxSeconds: o.seconds,
          prefix: o.prefix,
          stateDir: route.stateDir,
          entry: o.cli === undefined ? undefined : resolve(o.cli),
          onProgress: (text) => progress.update(text),
        });
        progress.done();
        print(o.json, r, renderApiBench(r));
      },
    );

  bench
    .command('cluster')
    .description(
      'cluster labs of N hosts and F flows: migration API call → applied on every translator (p50/p99, where the time goes), the flows’ load, a restarted host daemon’s catch-up; beside the in-process swap',
    )
    .option('--hosts <list>', 'host counts of the labs (each ≥ 2)', '3,8')
    .option('--flows <list>', 'flow counts of the labs', '1,10000')
    .option('--migrations <n>', 'migrations measured per lab (and per flood)', positiveInt, 200)
    .option('--flood', 'also measure the migrations under ping -i 0 from host 1’s client')
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark labs', 'fmc-')
    .option('--json', 'print the result as JSON: {cells, baseline, targets, load, notes, ...}')
    .action(
      async (o: {
        hosts: string;
        flows: string;
        migrations: number;
        flood?: boolean;
        prefix: string;
        json?: boolean;
      }) => {
        const hosts = positiveInts(o.hosts);
        const flows = positiveInts(o.flows);
        const progress = new Progress(process.stderr, !o.json);
        const [{ benchCluster }, { renderClusterBench }] = await Promise.all([
          import('../../bench/cluster.js'),
          import('../../bench/cluster-render.js'),
        ]);
        const r = await benchCluster({
          hosts,
          flows,
          migrations: o.migrations,
          flood: o.flood === true,
          prefix: o.prefix,
          stateDir: route.stateDir,
          onProgress: (text) => progress.update(text),
        });
        progress.done();
        print(o.json, r, renderClusterBench(r));
      },
    );
}
