// `flowmig experiment`: a measured run (traffic, swaps on schedule, counters and captures) whose
// results the experiment pipeline analyses and renders into its results directory.
import type { Command } from 'commander';
import type { EngineName } from '../../lab/schema.js';
import { INTERRUPT_NOTICE, print } from '../output.js';
import {
  type ExperimentFlags,
  engineOption,
  experimentInput,
  TRAFFIC_KIND_CHOICES,
} from '../parse.js';
import { Progress } from '../render.js';
import type { Route } from '../route.js';

interface ExperimentCommandOptions extends ExperimentFlags {
  readonly file?: string;
  readonly config?: string;
  readonly prefix?: string;
  readonly engine?: EngineName;
  readonly out?: string;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  program
    .command('experiment')
    .description(
      'a measured run: build a lab, run traffic, swap on schedule, capture, then write results.json, report.html and summary.md',
    )
    .option('-f, --file <file>', 'experiment file (YAML or JSON); options below override it')
    .option(
      '-c, --config <file>',
      'lab description (default: the reference lab); a cluster lab file (hosts:) runs on a cluster',
    )
    .option('-p, --prefix <prefix>', 'prefix for every namespace name')
    .addOption(engineOption())
    .option(
      '--traffic <kinds>',
      `comma-separated: ${TRAFFIC_KIND_CHOICES.join(', ')} (default ping)`,
    )
    .option('--interval <s>', 'ping -i interval in seconds (default 0.00001)')
    .option('--size <bytes>', 'ping payload size (default 56)')
    .option('--rate <n>', 'udp datagrams per second (default 20000)')
    .option('--swaps <n>', 'number of swaps (default 100)')
    .option('--swap-every <ms>', 'time from one swap to the next (default 20)')
    .option('--swap-at <list>', 'explicit swap times in ms after the warm-up, comma-separated')
    .option('--flow <flow>', "the flow to swap (default: the lab's first)")
    .option('--warmup <ms>', 'traffic before the first swap (default 500)')
    .option('--duration <ms>', 'minimum measured time after the warm-up')
    .option('--capture <which>', 'packet captures: servers, all or none (default servers)')
    .option('-o, --out <dir>', 'results directory (default ./flowmig-results/<time>-<lab>)')
    .option('--json', 'print the results summary as JSON')
    .action(async (o: ExperimentCommandOptions) => {
      const [
        { openTestbed },
        { loadExperimentFile, parseExperiment },
        { defaultResultsDir, runId },
        { measure },
        { renderExperiment },
        { INTERRUPTED_EXIT_CODE, listenForInterrupt },
      ] = await Promise.all([
        import('../testbed.js'),
        import('../../experiment/options.js'),
        import('../../experiment/run-id.js'),
        import('../../experiment/pipeline.js'),
        import('../experiment-report.js'),
        import('../../exec/interrupt.js'),
      ]);
      // The lab first: the experiment file's problems, its checks against the lab among them,
      // are then reported at once.
      const bed = await openTestbed(route, o);
      const { lab } = bed;
      const base = o.file ? await loadExperimentFile(o.file, lab) : parseExperiment({});
      const options = parseExperiment(experimentInput(base, o), 'experiment options', lab);
      // One stamp for the run's id and its directory's name.
      const id = runId(lab.id);
      const dir = defaultResultsDir(id, o.out);
      const progress = new Progress(process.stderr, !o.json);
      const interrupt = listenForInterrupt(() => progress.update(INTERRUPT_NOTICE));
      try {
        const onProgress = (text: string) => progress.update(text);
        const { results } = await measure(bed, options, dir, {
          id,
          onProgress,
          signal: interrupt.signal,
        });
        progress.done();
        print(o.json, { dir, ...results }, renderExperiment(results, dir));
        if (interrupt.signal.aborted) process.exitCode = INTERRUPTED_EXIT_CODE;
        else if (!results.verdict.ok) process.exitCode = 1;
      } finally {
        progress.done();
        interrupt.dispose();
      }
    });
}
