// The one results pipeline of `flowmig experiment` and `flowmig demo`: run (run.ts), then analyse
// the run's raw files, write results.json and render the report. An interrupt that came after the
// run's own record was written is marked in it first, so the results say so.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderReport } from '../report/index.js';
import { type ExperimentResults, RESULTS_FILE } from '../results/schema.js';
import { analyzeRun } from './analyze.js';
import type { ExperimentOptions } from './options.js';
import { RUN_FILE, type RunRecord } from './record.js';
import { type RunHooks, runExperiment } from './run.js';
import type { Testbed } from './testbed.js';

export interface FinishOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: (text: string) => void;
}

export interface Measured {
  /** What the runner recorded (run.json). */
  readonly run: RunRecord;
  /** What results.json and the report say. */
  readonly results: ExperimentResults;
}

/**
 * Runs the experiment into `dir` (the lab is built and torn down on the way), then finishes it:
 * results.json, report.html, summary.md and the plots beside the raw files.
 */
export async function measure(
  bed: Testbed,
  options: ExperimentOptions,
  dir: string,
  hooks: RunHooks = {},
): Promise<Measured> {
  const run = await runExperiment(bed, options, dir, hooks);
  const results = await finishRun(dir, {
    signal: hooks.signal,
    ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
  });
  return { run, results };
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
