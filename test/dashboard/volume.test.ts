// The page keeps what it holds bounded however long it runs: after each round of 1,000 migrations
// and ten minutes of rate samples (five rounds) it shows at most LOG_KEPT log rows and RATES_KEPT
// chart points, the newest ones, and its JS heap and DOM after the last round are about what they
// were after the second (measured through CDP after a forced GC, and printed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { type LiveEvent, LOG_KEPT, RATES_KEPT } from '../../src/daemon-api/live.js';
import { launch, screenshot, watchedPage } from './browser.js';
import { assertPageBuilt, type FakeDaemon, startFakeDaemon } from './fake-daemon.js';
import { FLOW, flowAt, row, sample, snapshot, status, T0 } from './sample.js';

const MIGRATIONS = 1_000;
const ROUNDS = 5;
/** Ten minutes of samples, one per 100 ms, as the daemon sends them. */
const SAMPLES = 6_000;
const ROUND_MS = SAMPLES * 100;
/**
 * How much the heap may grow from round 2 to the last: the page holds the same bounded state after
 * each round, so growth beyond this would be history kept somewhere (every event of three rounds
 * kept adds about 2.5 MiB). Round 1 is not the base: its heap still holds about 1 MiB that the
 * next round frees.
 */
const HEAP_SLACK = 1024 * 1024;

/** One round's events in order: each 100 ms a sample, each 600 ms a migration, each s a status. */
function round(k: number): LiveEvent[] {
  const events: LiveEvent[] = [];
  const start = T0 + k * ROUND_MS;
  let seq = k * MIGRATIONS;
  let responder = seq % 2 === 0 ? 'C' : 'D';
  for (let i = 0; i < SAMPLES; i++) {
    const t = start + i * 100;
    if (i % (SAMPLES / MIGRATIONS) === 0) {
      seq++;
      const r = row(seq, t);
      responder = r.to;
      events.push({ type: 'flows', flows: [flowAt(responder)] }, { type: 'migration', row: r });
      if (seq % 10 === 0) events.push({ type: 'late', seq, late: 1 });
    }
    events.push({ type: 'rates', sample: sample(t, responder) });
    if (i % 10 === 0) events.push({ type: 'status', status: status(seq) });
  }
  return events;
}

interface Measure {
  heap: number;
  nodes: number;
}

async function measure(page: Page, cdp: CDPSession): Promise<Measure> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  // A string: this file is compiled without the DOM's types.
  const nodes = await page.evaluate<number>("document.getElementsByTagName('*').length");
  return { heap: usedSize, nodes };
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

describe('dashboard page under a long run (fake daemon, Chromium)', () => {
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

  it(`keeps at most ${LOG_KEPT} rows and ${RATES_KEPT} points, and a bounded heap`, async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    try {
      await page.goto(`${fake.url}/#token=${fake.token}`, { waitUntil: 'load' });
      await page.locator('[data-testid="connection"]').filter({ hasText: 'connected' }).waitFor();
      const cdp = await page.context().newCDPSession(page);
      const seen: Measure[] = [await measure(page, cdp)];
      for (let k = 0; k < ROUNDS; k++) {
        const events = round(k);
        // Written in pieces, as a stream would deliver them.
        for (let i = 0; i < events.length; i += 500) fake.push(...events.slice(i, i + 500));
        const last = (k + 1) * MIGRATIONS;
        const lastT = T0 + (k + 1) * ROUND_MS - 100;
        await page.locator(`[data-testid="log-row"][data-seq="${last}"]`).waitFor();
        await page.locator(`[data-testid="rates-chart"][data-last="${lastT}"]`).waitFor();

        const rows = page.locator('[data-testid="log-row"]');
        assert.equal(await rows.count(), LOG_KEPT);
        assert.equal(await rows.first().getAttribute('data-seq'), String(last));
        assert.equal(await rows.last().getAttribute('data-seq'), String(last - LOG_KEPT + 1));
        const chart = page.locator('[data-testid="rates-chart"]');
        const points = Number(await chart.getAttribute('data-points'));
        assert.ok(points > 0 && points <= RATES_KEPT, `${points} chart points`);
        const marks = Number(await chart.getAttribute('data-marks'));
        assert.ok(marks > 0 && marks <= LOG_KEPT, `${marks} migration marks`);
        // Every migration alternates the responder: the last (an even seq) leaves the flow on C.
        assert.equal(
          await page.locator(`[data-testid="flow-${FLOW}"]`).getAttribute('data-responder'),
          'C',
        );
        seen.push(await measure(page, cdp));
        process.stdout.write(
          `# after round ${k + 1} (${last} migrations, ${((k + 1) * SAMPLES) / 600} min of samples): ` +
            `${await rows.count()} rows, ${points} points, ${marks} marks\n`,
        );
      }
      await screenshot(page, 'page-long-run');
      const first = seen[2] as Measure;
      const final = seen[ROUNDS] as Measure;
      process.stdout.write(
        `# JS heap after GC, at start and after each round: ${seen.map((m) => mib(m.heap)).join(', ')}; ` +
          `DOM elements ${seen.map((m) => m.nodes).join(', ')}\n`,
      );
      assert.ok(
        final.heap - first.heap <= HEAP_SLACK,
        `heap grew ${mib(final.heap - first.heap)} from round 2 to round ${ROUNDS}`,
      );
      assert.equal(final.nodes, first.nodes, `DOM elements after round 2 and round ${ROUNDS}`);
      assert.deepEqual(w.problems, []);
    } finally {
      await page.close();
    }
  });
});
