// The page's reading of the event stream (fake daemon, Chromium): events split across writes at
// any byte, CRLF line ends, keep-alive comments, an event of a type it does not know and one whose
// data is not JSON are all taken as the SSE format says, and the events around them still apply.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { launch, watchedPage } from './browser.js';
import { assertPageBuilt, type FakeDaemon, sse, startFakeDaemon } from './fake-daemon.js';
import { FLOW, flowAt, row, snapshot, T0 } from './sample.js';

describe('dashboard page reads the event stream (fake daemon, Chromium)', () => {
  let browser: Browser;
  let fake: FakeDaemon;
  before(async () => {
    assertPageBuilt();
    browser = await launch();
    fake = await startFakeDaemon(
      () => snapshot('C'),
      () => ({ status: 500, reply: {} }),
    );
  });
  after(async () => {
    await browser?.close();
    await fake?.close();
  });

  it('takes split events, CRLF, comments, unknown types and bad data as the format says', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    try {
      await page.goto(`${fake.url}/#token=${fake.token}`, { waitUntil: 'load' });
      await page.locator('[data-testid="connection"]').filter({ hasText: 'connected' }).waitFor();
      const first = sse({ type: 'migration', row: row(1, T0) });
      const second = sse({ type: 'flows', flows: [flowAt('D')] }).replaceAll('\n', '\r\n');
      const text =
        ': keepalive\n\n' +
        first +
        'event: novelty\ndata: {"type":"novelty","x":1}\n\n' +
        'event: migration\ndata: not json\n\n' +
        'event: migration\n\n' + // no data: dropped
        second;
      // Cut into pieces at odd places (inside the field names, the JSON and the CRLF), each
      // written on its own after a pause so the page reads them as separate chunks.
      const cuts = [3, 20, first.length - 1, first.length + 30, text.length - 2, text.length];
      let from = 0;
      for (const to of cuts) {
        fake.pushRaw(text.slice(from, to));
        from = to;
        await sleep(30);
      }
      await page.locator(`[data-testid="flow-${FLOW}"][data-responder="D"]`).waitFor();
      const rows = page.locator('[data-testid="log-row"]');
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute('data-seq'), '1');
      assert.equal(await page.locator('[data-testid="connection"]').textContent(), 'connected');
      assert.equal(fake.feeds.length, 1, 'the page reconnected');
      assert.deepEqual(w.problems, []);
    } finally {
      await page.close();
    }
  });
});
