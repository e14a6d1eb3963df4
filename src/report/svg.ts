// Renders a vega-lite spec to an SVG string in Node: no browser, no canvas, no network.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface SvgOptions {
  /** Called with each warning vega-lite or vega logs (default: ignored). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Compiles `spec` to vega and renders it headless (`renderer: 'none'` builds the scenegraph
 * without drawing; `toSVG` then writes it out, estimating text widths since there is no canvas).
 * Throws when vega logs an error: a plot it could not draw must not pass as an empty one.
 */
export async function renderSvg(spec: TopLevelSpec, options: SvgOptions = {}): Promise<string> {
  const errors: string[] = [];
  const logger = vega.logger(vega.Warn, undefined, (method, _level, args) => {
    const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
    if (method === 'error') errors.push(text);
    else options.onWarning?.(text);
  });
  const compiled = compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    const svg = await view.toSVG();
    if (errors.length > 0) throw new Error(`vega could not render the plot: ${errors.join('; ')}`);
    return svg;
  } finally {
    view.finalize();
  }
}
