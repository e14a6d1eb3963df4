// Renders an experiment's report into its results directory: report.html, summary.md, plots/*.svg.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { type ExperimentResults, parseResults, RESULTS_FILE } from '../results/schema.js';
import { reportFigures } from './figures.js';
import { type RenderedPlot, renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { planPlots } from './plots/index.js';
import { renderSvg } from './svg.js';

export interface RenderedReport {
  readonly html: string;
  readonly markdown: string;
  /** The SVG files written, relative to the directory (`plots/<name>.svg`). */
  readonly plots: string[];
}

export const HTML_FILE = 'report.html';
export const MARKDOWN_FILE = 'summary.md';
export const PLOTS_DIR = 'plots';

/** Writes the report of `results` into `dir` (which holds the run's raw files) and returns it. */
export async function renderReport(
  results: ExperimentResults,
  dir: string,
): Promise<RenderedReport> {
  await mkdir(join(dir, PLOTS_DIR), { recursive: true });
  const rendered: RenderedPlot[] = [];
  for (const plot of planPlots(results)) {
    const file = `${PLOTS_DIR}/${plot.name}.svg`;
    if ('omitted' in plot) {
      // A plot an earlier rendering drew must not outlive the data it was drawn from.
      await rm(join(dir, file), { force: true });
      rendered.push(plot);
      continue;
    }
    const svg = await renderSvg(plot.spec);
    await writeFile(join(dir, file), svg);
    rendered.push({ name: plot.name, title: plot.title, file, svg });
  }
  const figures = reportFigures(results);
  const html = renderHtml(figures, rendered);
  const markdown = renderMarkdown(figures, rendered);
  await writeFile(join(dir, HTML_FILE), html);
  await writeFile(join(dir, MARKDOWN_FILE), markdown);
  return { html, markdown, plots: rendered.flatMap((p) => ('file' in p ? [p.file] : [])) };
}

/** `flowmig report DIR`: reads and validates `DIR/results.json`, then renders the report there. */
export async function renderReportFromDir(dir: string): Promise<RenderedReport> {
  const path = join(dir, RESULTS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InputError(`results ${path}`, [`cannot read it (${code})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`results ${path}`, [`not valid JSON: ${(error as Error).message}`]);
  }
  return renderReport(parseResults(json, `results ${path}`), dir);
}
