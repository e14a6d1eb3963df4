// After a run: analyse its raw files, write results.json, render the report; an interrupt that
// came after the run's own record was written is marked in it first, so the results say so.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderReport } from '../report/index.js';
import { type ExperimentResults, RESULTS_FILE } from '../results/schema.js';
import { analyzeRun } from './analyze.js';

const RUN_FILE = 'run.json';

export interface FinishOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: (text: string) => void;
}

/** Analyses the run in `dir`, writes its results and report, and returns the results. */
export async function finishRun(
  dir: string,
  options: FinishOptions = {},
): Promise<ExperimentResults> {
  const say = options.onProgress ?? (() => {});
  const aborted = () => options.signal?.aborted === true;
  for (;;) {
    // An interrupt while analysing or rendering: the results are complete, but the run did not
    // end as asked, so they are made again from the marked record (twice at most).
    const before = aborted();
    if (before) await markInterrupted(dir);
    say('analysing the captures and outputs');
    const results = await analyzeRun(dir);
    await writeFile(join(dir, RESULTS_FILE), `${JSON.stringify(results, null, 2)}\n`);
    say('rendering the report');
    await renderReport(results, dir);
    if (before || !aborted()) return results;
  }
}

/** Sets `interrupted` in the run's record. */
async function markInterrupted(dir: string): Promise<void> {
  const path = join(dir, RUN_FILE);
  const run = JSON.parse(await readFile(path, 'utf8')) as { interrupted?: boolean };
  if (run.interrupted !== true)
    await writeFile(path, `${JSON.stringify({ ...run, interrupted: true })}\n`);
}
