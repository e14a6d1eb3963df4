// `flowmig report DIR`: renders an experiment's report, summary and plots again from its results.
import { join, resolve } from 'node:path';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('report')
    .description(
      "re-render an experiment's report.html, summary.md and plots from its results.json",
    )
    .argument('<dir>', 'results directory')
    .action(async (dir: string) => {
      // The renderer and its plotting library load only here: they take longer than Node's start.
      const { HTML_FILE, MARKDOWN_FILE, renderReportFromDir } = await import(
        '../../report/index.js'
      );
      const r = await renderReportFromDir(dir);
      process.stdout.write(
        `report: ${join(resolve(dir), HTML_FILE)} (${r.plots.length} plot(s)); summary: ${join(resolve(dir), MARKDOWN_FILE)}\n`,
      );
    });
}
