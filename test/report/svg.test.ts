import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TopLevelSpec } from 'vega-lite';
import { planPlots } from '../../src/report/plots/index.js';
import { renderSvg } from '../../src/report/svg.js';
import { pingRun, udpRun } from '../support/results-sample.js';

/** Text of the elements of class `role` (vega tags each mark group with its role). */
function texts(svg: string, role: string): string[] {
  // A text mark's group holds only its <text> elements: the first </g> closes it.
  const group = new RegExp(`class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'g');
  return [...svg.matchAll(group)].flatMap((m) =>
    [...(m[1] ?? '').matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1] ?? ''),
  );
}

describe('renderSvg', () => {
  const plots = [...planPlots(pingRun()), ...planPlots(udpRun())].flatMap((p) =>
    'spec' in p ? [p] : [],
  );

  for (const plot of plots) {
    it(`draws ${plot.name} with marks, title and axis titles, without warnings`, async () => {
      const warnings: string[] = [];
      const svg = await renderSvg(plot.spec, { onWarning: (w) => warnings.push(w) });
      assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
      assert.ok(svg.endsWith('</svg>'));
      assert.deepEqual(warnings, []);
      // The data marks: rules, lines, bars or symbols, with drawn elements inside.
      const marks = svg.match(
        /class="mark-(line|rule|rect|symbol) role-mark[^"]*"[^>]*>(.*?)<\/g>/g,
      );
      assert.ok(marks && marks.length > 0, 'no data marks');
      assert.ok(
        marks.some((m) => /<(path|line|rect)\b/.test(m)),
        'data marks have no drawn elements',
      );
      assert.deepEqual(texts(svg, 'title-text'), [plot.title]);
      const axes = texts(svg, 'axis-title');
      assert.equal(axes.length, 2, `axis titles: ${axes.join(' | ')}`);
      for (const t of axes) assert.match(t, /\(.+\)$/);
    });
  }

  it('escapes text from the data', async () => {
    const spec: TopLevelSpec = {
      data: { values: [{ x: 1, y: 1, node: '<script>alert(1)</script>' }] },
      mark: 'point',
      encoding: {
        x: { field: 'x', type: 'quantitative', title: 'x (s)' },
        y: { field: 'y', type: 'quantitative', title: 'y (ms)' },
        color: { field: 'node', type: 'nominal' },
      },
    };
    const svg = await renderSvg(spec);
    assert.doesNotMatch(svg, /<script/i);
    assert.match(svg, /&lt;script&gt;/);
  });

  it('rejects a spec vega-lite cannot compile', async () => {
    const bad = { data: { values: [] }, mark: 'nonsense' } as unknown as TopLevelSpec;
    await assert.rejects(renderSvg(bad));
  });
});
