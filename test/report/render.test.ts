import assert from 'node:assert/strict';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import { renderReport, renderReportFromDir } from '../../src/report/index.js';
import { emptySwapsRun, udpRun } from '../support/results-sample.js';
import { removeDir, tempDir } from '../support/tmp.js';

describe('renderReportFromDir', () => {
  it('reads results.json and writes report.html, summary.md and plots/*.svg beside it', async () => {
    const dir = await tempDir('report');
    try {
      await writeFile(join(dir, 'results.json'), JSON.stringify(udpRun(), null, 2));
      const report = await renderReportFromDir(dir);
      assert.deepEqual(report.plots, [
        'plots/packets.svg',
        'plots/packets-window.svg',
        'plots/gaps.svg',
        'plots/swap-latency.svg',
        'plots/udp-per-swap.svg',
      ]);
      assert.deepEqual((await readdir(join(dir, 'plots'))).sort(), [
        'gaps.svg',
        'packets-window.svg',
        'packets.svg',
        'swap-latency.svg',
        'udp-per-swap.svg',
      ]);
      assert.equal(await readFile(join(dir, 'report.html'), 'utf8'), report.html);
      assert.equal(await readFile(join(dir, 'summary.md'), 'utf8'), report.markdown);
      for (const plot of report.plots) {
        const svg = await readFile(join(dir, plot), 'utf8');
        assert.match(svg, /^<svg /);
        // The same drawing is inlined in the HTML (ids aside, which are scoped there).
        const body = svg.replace(/(\bid="|url\(#)[^")]+/g, '');
        assert.ok(report.html.replace(/(\bid="|url\(#)[^")]+/g, '').includes(body));
      }
      assert.match(report.markdown, /\(plots\/udp-per-swap\.svg\)/);
    } finally {
      await removeDir(dir);
    }
  });

  it('removes a plot an earlier rendering drew when the results no longer have its data', async () => {
    const dir = await tempDir('report');
    try {
      await renderReport(udpRun(20), dir);
      await access(join(dir, 'plots', 'udp-per-swap.svg'));
      const report = await renderReport(emptySwapsRun(), dir);
      assert.deepEqual(report.plots, ['plots/packets.svg', 'plots/rtt.svg']);
      assert.deepEqual((await readdir(join(dir, 'plots'))).sort(), ['packets.svg', 'rtt.svg']);
    } finally {
      await removeDir(dir);
    }
  });

  it('names the file and every problem when results.json is invalid', async () => {
    const dir = await tempDir('report');
    try {
      const bad = { ...udpRun(3), id: 7, durationMs: -1 };
      await writeFile(join(dir, 'results.json'), JSON.stringify(bad));
      await assert.rejects(renderReportFromDir(dir), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /^results .*results\.json: /);
        assert.match(error.message, /id: .*; durationMs: /);
        return true;
      });
      await writeFile(join(dir, 'results.json'), '{"schema": ');
      await assert.rejects(renderReportFromDir(dir), /results\.json: not valid JSON/);
      await assert.rejects(access(join(dir, 'report.html')));
    } finally {
      await removeDir(dir);
    }
  });

  it('says when there is no results.json', async () => {
    const dir = await tempDir('report');
    try {
      await assert.rejects(renderReportFromDir(dir), /results\.json: cannot read it \(ENOENT\)/);
    } finally {
      await removeDir(dir);
    }
  });
});
