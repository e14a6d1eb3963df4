// `flowmig demo`: the reference experiment in one command (build, ping at a high rate, swap,
// count, verdict, tear down), on the reference lab, a lab file's, or a cluster of N hosts
// (--hosts); Ctrl-C keeps what was measured and exits 130.
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import type { EngineName } from '../../lab/schema.js';
import { INTERRUPT_NOTICE, print } from '../output.js';
import { engineOption, hostCount, positiveInt, positiveNumber } from '../parse.js';
import { Progress } from '../render.js';
import type { Route } from '../route.js';

interface DemoOptions {
  readonly config?: string;
  readonly hosts?: number;
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
    .option('-c, --config <file>', 'lab description (default: the reference lab)')
    .option(
      '--hosts <n>',
      'a cluster lab of n hosts (2-16): client A on host 1, a server on each host, flow fe00::1 migrated from host to host',
      hostCount,
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
        { openTestbed },
        { runDemo },
        { renderDemo },
        { INTERRUPTED_EXIT_CODE, listenForInterrupt },
      ] = await Promise.all([
        import('../testbed.js'),
        import('../../experiment/demo.js'),
        import('../demo-report.js'),
        import('../../exec/interrupt.js'),
      ]);
      if (o.hosts !== undefined && o.config !== undefined)
        throw new InputError('', ['give --hosts or --config, not both']);
      const bed = await openTestbed(route, o);
      const progress = new Progress(process.stderr, !o.json);
      const interrupt = listenForInterrupt(() => progress.update(INTERRUPT_NOTICE));
      try {
        const result = await runDemo(bed, {
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
