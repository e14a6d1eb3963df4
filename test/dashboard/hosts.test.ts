// The page on a multi-host lab (fake daemon, Chromium): each node labelled with its host, two
// translators, flows drawn through the initiator's translator, and a hosts table of 40 hosts that
// scrolls inside its panel rather than stretching the page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { LiveSnapshot } from '../../src/daemon-api/live.js';
import { launch, screenshot, watchedPage } from './browser.js';
import { assertPageBuilt, type FakeDaemon, startFakeDaemon } from './fake-daemon.js';
import { status } from './sample.js';

const HOSTS = 40;

function cluster(): LiveSnapshot {
  const node = (
    name: string,
    role: 'client' | 'server' | 'translator',
    host: string,
    address?: string,
  ) => ({
    name,
    role,
    address,
    host,
  });
  return {
    lab: 'cluster',
    engine: 'nft-map',
    version: '0.1.0',
    nodes: [
      node('A1', 'client', 'h1', 'fc00::1'),
      node('A2', 'client', 'h2', 'fc00::2'),
      node('T1', 'translator', 'h1'),
      node('T2', 'translator', 'h2'),
      node('S1', 'server', 'h1', 'fc01::1'),
      node('S2', 'server', 'h2', 'fc01::2'),
      node('S3', 'server', 'h3', 'fc01::3'),
    ],
    links: [
      { node: 'A1', translator: 'T1' },
      { node: 'A2', translator: 'T2' },
      { node: 'S1', translator: 'T1' },
      { node: 'S2', translator: 'T2' },
      { node: 'S3', translator: 'T2' },
    ],
    flows: [
      { name: 'web', address: 'fe00::1', initiator: 'A1', responder: 'S3', tcp: 'migrate' },
      { name: undefined, address: 'fe00::2', initiator: 'A2', responder: 'S1', tcp: 'reset' },
    ],
    log: [],
    rates: [],
    status: {
      ...status(),
      hosts: Array.from({ length: HOSTS }, (_, i) => ({
        name: `h${i + 1}`,
        lease: i === 6 ? ('lost' as const) : ('held' as const),
        lag: i === 6 ? undefined : i % 9 === 0 ? 2 : 0,
      })),
    },
    loads: [],
  };
}

describe('dashboard page on a multi-host lab (fake daemon, Chromium)', () => {
  let browser: Browser;
  let fake: FakeDaemon;
  before(async () => {
    assertPageBuilt();
    browser = await launch();
    fake = await startFakeDaemon(cluster, () => ({ status: 500, reply: {} }));
  });
  after(async () => {
    await browser?.close();
    await fake?.close();
  });

  it('labels nodes with their hosts and fits 40 hosts in a scrolling table', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    try {
      await page.goto(`${fake.url}/#token=${fake.token}`, { waitUntil: 'load' });
      await page.locator('[data-testid="node-S3"]').waitFor();
      for (const [n, h] of [
        ['A1', 'h1'],
        ['T2', 'h2'],
        ['S3', 'h3'],
      ])
        assert.equal(
          await page.locator(`[data-testid="node-${n}"] text.host`).textContent(),
          `host ${h}`,
        );
      const web = page.locator('[data-testid="flow-fe00::1"]');
      assert.equal(await web.getAttribute('data-responder'), 'S3');
      assert.match((await web.locator('title').textContent()) ?? '', /^web fe00::1: A1 → T1 → S3$/);
      assert.equal(await web.locator('text').textContent(), 'web');
      assert.match(
        (await page.locator('[data-testid="flow-fe00::2"] title').textContent()) ?? '',
        /A2 → T2 → S1$/,
      );
      // Only the servers can be evacuated; every node can be chosen to migrate to.
      assert.deepEqual(
        await page.locator('[data-testid="evacuate-from"] option').allTextContents(),
        ['S1', 'S2', 'S3'],
      );
      assert.equal(await page.locator('[data-testid="migrate-node"] option').count(), 7);
      assert.equal(await page.locator('[data-testid="migrate-node"]').inputValue(), 'S1');

      const hosts = page.locator('[data-testid="hosts"] tbody tr');
      assert.equal(await hosts.count(), HOSTS);
      assert.deepEqual(await hosts.nth(6).locator('td').allTextContents(), ['h7', 'lost', '?']);
      assert.equal(await hosts.nth(6).getAttribute('class'), 'warn');
      assert.equal(await hosts.nth(1).getAttribute('class'), null);
      // The table scrolls inside its box: the status panel does not grow with the hosts.
      const box = await page.locator('.hosts').evaluate((e) => [e.clientHeight, e.scrollHeight]);
      assert.ok(
        box[0] !== undefined && box[1] !== undefined && box[0] <= 240 && box[1] > box[0],
        `${box}`,
      );
      await screenshot(page, 'page-hosts');
      assert.deepEqual(w.problems, []);
    } finally {
      await page.close();
    }
  });
});
