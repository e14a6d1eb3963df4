// `flowmig demo`: the reference experiment in one command (build, ping at a high rate, swap,
// count, verdict, tear down); Ctrl-C keeps what was measured and exits 130.
import type { Command } from 'commander';
import type { EngineName } from '../../lab/schema.js';
import { INTERRUPT_NOTICE, print } from '../output.js';
import { engineOption, positiveInt, positiveNumber } from '../parse.js';
import { Progress } from '../render.js';
import type { Route } from '../route.js';

interface DemoOptions {
  readonly prefix?: string;
  readonly engine?: EngineName;
  readonly swaps: number;
  readonly swapEvery: number;
  readonly pingInterval: number;
  readonly tcp: boolean;
  readonly out?: string;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  program
    .command('demo')
    .description(
      'the reference experiment in one command: build, ping at a high rate, swap, count, verdict, tear down',
    )
    .option('-p, --prefix <prefix>', 'prefix for every namespace name')
    .addOption(engineOption())
    .option('-n, --swaps <n>', 'number of swaps', positiveInt, 200)
    .option('--swap-every <ms>', 'pause between swaps, in ms', positiveNumber, 20)
    .option('--ping-interval <s>', 'ping -i interval in seconds', positiveNumber, 0.00001)
    .option('--no-tcp', 'skip the TCP observation (an ncat TCP client across a swap)')
    .option('-o, --out <dir>', 'results directory (default ./flowmig-results/<time>-demo-<lab>)')
    .option('--json', 'print the results as JSON')
    .action(async (o: DemoOptions) => {
      const [
        { loadLab },
        { runDemo },
        { renderDemo },
        { INTERRUPTED_EXIT_CODE, listenForInterrupt },
      ] = await Promise.all([
        import('../../lab/load.js'),
        import('../../experiment/demo.js'),
        import('../demo-report.js'),
        import('../../exec/interrupt.js'),
      ]);
      const lab = await loadLab(undefined, { prefix: o.prefix, engine: o.engine });
      const progress = new Progress(process.stderr, !o.json);
      const interrupt = listenForInterrupt(() => progress.update(INTERRUPT_NOTICE));
      try {
        const result = await runDemo(await route.controller(), lab, {
          swaps: o.swaps,
          swapEveryMs: o.swapEvery,
          pingInterval: o.pingInterval,
          tcp: o.tcp,
          ...(o.out ? { out: o.out } : {}),
          onProgress: (text) => progress.update(text),
          signal: interrupt.signal,
        });
        progress.done();
        print(o.json, result, renderDemo(result));
        if (interrupt.signal.aborted) process.exitCode = INTERRUPTED_EXIT_CODE;
        else if (!result.verdict.ok) process.exitCode = 1;
      } finally {
        progress.done();
        interrupt.dispose();
      }
    });
}
