// Writes summary.md: the report's figures as Markdown tables, with links to the SVG plots.
import type { FigureTable, ReportFigures } from './figures.js';
import type { RenderedPlot } from './html.js';

/**
 * Escapes text from the results for Markdown inline content: punctuation that could start
 * emphasis, code, links, HTML or break a table cell is backslash-escaped; newlines become spaces.
 */
export function escapeMarkdown(text: string): string {
  return (
    text
      .replace(/[\r\n]+/g, ' ')
      .replace(/[\\`*_[\]<>|&#~!]/g, (c) => `\\${c}`)
      // A leading "- ", "+ " or "1. " would start a (nested) list: escape its punctuation.
      .replace(/^([-+])(?=\s|$)/, '\\$1')
      .replace(/^(\d+)([.)])(?=\s|$)/, '$1\\$2')
  );
}

/** A relative link target: percent-encoded segments, and no parenthesis to end the link early. */
function linkTarget(file: string): string {
  return file
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[()]/g, (c) => (c === '(' ? '%28' : '%29')))
    .join('/');
}

function table(t: FigureTable, heading: string): string {
  const rows = t.rows.map(([k, v]) => `| ${escapeMarkdown(k.trim())} | ${escapeMarkdown(v)} |`);
  const lines =
    t.lines && t.lines.length > 0 ? ['', ...t.lines.map((l) => `- ${escapeMarkdown(l)}`)] : [];
  return [
    `${heading} ${escapeMarkdown(t.title)}`,
    '',
    '| measure | value |',
    '| --- | --- |',
    ...rows,
    ...lines,
  ].join('\n');
}

function plotLine(plot: RenderedPlot): string {
  if ('omitted' in plot) {
    return `- ${escapeMarkdown(plot.title)}: not drawn, ${escapeMarkdown(plot.omitted)}.`;
  }
  return `![${escapeMarkdown(plot.title)}](${linkTarget(plot.file)})`;
}

export function renderMarkdown(f: ReportFigures, plots: readonly RenderedPlot[]): string {
  const drawn = plots.filter((p) => !('omitted' in p));
  const omitted = plots.filter((p) => 'omitted' in p);
  const sections = [
    `# ${escapeMarkdown(f.title)}`,
    `**Verdict: ${f.verdict.ok ? 'PASS' : 'FAIL'}**`,
    f.verdict.lines.map((l) => `- ${escapeMarkdown(l)}`).join('\n'),
    table(f.run, '##'),
    '## Traffic',
    f.traffic.length === 0
      ? '_The run recorded no traffic figures._'
      : f.traffic.map((t) => table(t, '###')).join('\n\n'),
    table(f.swaps, '##'),
    '## Plots',
    ...drawn.map(plotLine),
    ...(omitted.length > 0 ? [omitted.map(plotLine).join('\n')] : []),
    f.swapTable.total > 0
      ? `The per-swap figures (${f.swapTable.total} swaps) are in report.html and results.json.`
      : '',
    f.config.rows.length === 0 ? '' : table(f.config, '##'),
    '## Raw files',
    f.files.length === 0
      ? '_The run kept no raw files._'
      : f.files.map((file) => `- [${escapeMarkdown(file)}](${linkTarget(file)})`).join('\n'),
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}
