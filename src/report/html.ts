// Writes the self-contained report.html: figures, inline SVG plots, per-swap table, raw files.
import type { FigureTable, ReportFigures, SwapTable } from './figures.js';

/** A plot as the report shows it: its SVG, or why it was not drawn. */
export type RenderedPlot =
  | { readonly name: string; readonly title: string; readonly file: string; readonly svg: string }
  | { readonly name: string; readonly title: string; readonly omitted: string };

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures td:first-child { color: #444; white-space: pre; }
.verdict { display: inline-block; font-weight: 700; padding: 0.15em 0.7em; border-radius: 4px; color: #fff; }
.verdict.ok { background: #2e7d32; }
.verdict.fail { background: #c62828; }
figure { margin: 1.2em 0; }
figure svg { max-width: 100%; height: auto; display: block; }
.omitted { color: #666; font-style: italic; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; }
details summary { cursor: pointer; margin: 0.4em 0; }
.swaps td { font-variant-numeric: tabular-nums; white-space: nowrap; }
`;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A link to a file relative to the report: every path segment percent-encoded, so it stays one. */
export function fileHref(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

/**
 * Gives the ids in an SVG (vega's clip paths) a per-plot prefix: ids are global to the HTML
 * document, so two inlined plots must not share one.
 */
function scopeIds(svg: string, prefix: string): string {
  return svg.replace(/(\bid="|url\(#|href="#)([^")]+)/g, `$1${prefix}-$2`);
}

function figureTable(t: FigureTable, heading: 'h2' | 'h3'): string {
  const rows = t.rows
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const lines =
    t.lines && t.lines.length > 0 ? `\n<pre>${escapeHtml(t.lines.join('\n'))}</pre>` : '';
  return `<${heading}>${escapeHtml(t.title)}</${heading}>\n<table class="figures">\n${rows}\n</table>${lines}`;
}

function swapTable(t: SwapTable): string {
  if (t.total === 0) return '<p class="omitted">No swaps were recorded.</p>';
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  const shown =
    t.rows.length < t.total
      ? `the first ${t.rows.length} of ${t.total} swaps (results.json has them all)`
      : `all ${t.total} swaps`;
  return `<details>\n<summary>Per-swap figures: ${escapeHtml(shown)}</summary>\n<table class="swaps">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n</details>`;
}

function plotSection(plot: RenderedPlot): string {
  if ('omitted' in plot) {
    return `<p class="omitted" id="plot-${escapeHtml(plot.name)}">${escapeHtml(plot.title)}: not drawn, ${escapeHtml(plot.omitted)}.</p>`;
  }
  return `<figure id="plot-${escapeHtml(plot.name)}">\n${scopeIds(plot.svg, `p-${plot.name}`)}\n<figcaption><a href="${escapeHtml(fileHref(plot.file))}">${escapeHtml(plot.file)}</a></figcaption>\n</figure>`;
}

export function renderHtml(f: ReportFigures, plots: readonly RenderedPlot[]): string {
  const verdictLines = f.verdict.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('\n');
  const traffic =
    f.traffic.length === 0
      ? '<p class="omitted">The run recorded no traffic figures.</p>'
      : f.traffic.map((t) => figureTable(t, 'h3')).join('\n');
  const files =
    f.files.length === 0
      ? '<p class="omitted">The run kept no raw files.</p>'
      : `<ul>\n${f.files.map((file) => `<li><a href="${escapeHtml(fileHref(file))}">${escapeHtml(file)}</a></li>`).join('\n')}\n</ul>`;
  const config =
    f.config.rows.length === 0
      ? `<h2>${escapeHtml(f.config.title)}</h2>\n<p class="omitted">No options recorded.</p>`
      : figureTable(f.config, 'h2');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(f.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(f.title)}</h1>
<p><span class="verdict ${f.verdict.ok ? 'ok' : 'fail'}">${f.verdict.ok ? 'PASS' : 'FAIL'}</span></p>
<ul class="verdict-lines">
${verdictLines}
</ul>
${figureTable(f.run, 'h2')}
<h2>Traffic</h2>
${traffic}
${figureTable(f.swaps, 'h2')}
<h2>Plots</h2>
${plots.map(plotSection).join('\n')}
<h2>Per-swap figures</h2>
${swapTable(f.swapTable)}
${config}
<h2>Raw files</h2>
${files}
</body>
</html>
`;
}
