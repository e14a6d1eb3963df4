// Opens a rendered report in Debian's Chromium: it must load clean and show its plots drawn.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { renderReport } from '../../src/report/index.js';
import { pingRun } from '../support/results-sample.js';
import { removeDir, tempDir } from '../support/tmp.js';

const CHROMIUM = '/usr/bin/chromium';

describe('report.html in a browser', () => {
  it('loads without errors or outside requests and shows at least 4 drawn plots', async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: this test needs Debian's chromium package ` +
        '(node scripts/setup.mjs installs it, or: apt-get install -y --no-install-recommends chromium)',
    );
    const dir = await tempDir('browser');
    // As root, Chromium refuses to start with its sandbox on.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox'],
      headless: true,
    });
    try {
      await renderReport(pingRun(), dir);
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(join(dir, 'report.html')).href;
      const response = await page.goto(url, { waitUntil: 'load' });
      assert.ok(response?.ok(), `could not load ${url}`);

      assert.match(await page.title(), /^flowmig experiment 20261125T093000Z-default$/);
      const svgs = page.locator('figure svg');
      const count = await svgs.count();
      assert.ok(count >= 4, `${count} plots`);
      for (let i = 0; i < count; i++) {
        const svg = svgs.nth(i);
        assert.ok(await svg.isVisible(), `plot ${i} is not visible`);
        const box = await svg.boundingBox();
        assert.ok(
          box && box.width > 300 && box.height > 150,
          `plot ${i} box ${JSON.stringify(box)}`,
        );
        const marks = await svg.locator('.role-mark').locator('path, rect, line').count();
        assert.ok(marks > 0, `plot ${i} has no drawn marks`);
        const axisTitles = await svg.locator('.role-axis-title text').allTextContents();
        assert.equal(axisTitles.length, 2, `plot ${i} axis titles: ${axisTitles.join(' | ')}`);
        for (const t of axisTitles) assert.match(t, /\(.+\)$/, `plot ${i}: "${t}" has no unit`);
      }
      await page.screenshot({
        path: process.env.FLOWMIG_REPORT_SCREENSHOT || join(dir, 'report.png'),
        fullPage: true,
      });
      // The per-swap table is collapsed, and opens on a click with no script.
      const firstRow = page.locator('table.swaps tbody tr').first();
      assert.equal(await firstRow.isVisible(), false);
      await page.locator('details summary').click();
      assert.ok(await firstRow.isVisible());
      assert.deepEqual(problems, []);
      assert.deepEqual(requests, [url]);
    } finally {
      await browser.close();
      await removeDir(dir);
    }
  });
});
