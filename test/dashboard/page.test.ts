// The dashboard page in Chromium against a fake daemon (no lab): it draws the lab and its flow,
// follows `flows` and `migration` events, sends each control's request with the token and shows
// the daemon's answer, says "unauthorized" without a token or with a refused one (and then sends
// nothing), and reconnects when its event stream ends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launch, screenshot, watchedPage } from './browser.js';
import { assertPageBuilt, type FakeDaemon, type Replier, startFakeDaemon } from './fake-daemon.js';
import { FLOW, flowAt, load, moved, row, sample, snapshot, status, T0 } from './sample.js';

const id = (name: string) => `[data-testid="${name}"]`;

/** The canned answers: every verb the controls send, and a refusal of a client as responder. */
const replies: Replier = (body) => {
  switch (body.verb) {
    case 'swap':
      return { status: 200, reply: { id: null, ok: true, result: moved('C', 'D') } };
    case 'migrate':
      return body.node === 'A'
        ? {
            status: 400,
            reply: {
              id: null,
              ok: false,
              error: "node 'A' is a client: a flow's responder must be a server",
              code: 'invalid',
            },
          }
        : { status: 200, reply: { id: null, ok: true, result: moved('C', String(body.node)) } };
    case 'evacuate':
      return {
        status: 200,
        reply: {
          id: null,
          ok: true,
          result: { lab: 'default', from: body.from, to: body.to, moved: 1, totalMs: 3.1 },
        },
      };
    case 'load':
      return { status: 200, reply: { id: null, ok: true, result: load(1, true) } };
    case 'unload':
      return { status: 200, reply: { id: null, ok: true, result: load(1, false) } };
    default:
      return {
        status: 400,
        reply: { id: null, ok: false, error: 'unknown verb', code: 'bad-request' },
      };
  }
};

describe('dashboard page (fake daemon, Chromium)', () => {
  let browser: Browser;
  let fake: FakeDaemon;
  before(async () => {
    assertPageBuilt();
    browser = await launch();
    fake = await startFakeDaemon(() => snapshot('C'), replies);
  });
  after(async () => {
    await browser?.close();
    await fake?.close();
  });

  async function open(hash: string): Promise<ReturnType<typeof watchedPage>> {
    const w = await watchedPage(browser);
    const res = await w.page.goto(`${fake.url}/${hash}`, { waitUntil: 'load' });
    assert.ok(res?.ok(), 'GET / failed');
    return w;
  }

  /** Every request the page made went to the daemon it came from. */
  function sameOrigin(requests: readonly string[]): void {
    for (const r of requests) assert.ok(r.startsWith(`${fake.url}/`), `outside request: ${r}`);
  }

  it('draws the lab and its flow, and follows flows and migration events', async () => {
    const w = await open(`#token=${fake.token}`);
    const { page } = w;
    try {
      await page.locator(id('connection')).filter({ hasText: 'connected' }).waitFor();
      // The token left the address bar and went in the header.
      assert.equal(new URL(page.url()).hash, '');
      assert.equal(fake.feeds.at(-1), `Bearer ${fake.token}`);
      assert.equal(await page.locator(id('auth')).isVisible(), false);
      for (const n of ['A', 'B', 'C', 'D'])
        assert.ok(await page.locator(id(`node-${n}`)).isVisible(), n);
      const flow = page.locator(id(`flow-${FLOW}`));
      assert.equal(await flow.getAttribute('data-responder'), 'C');
      assert.equal(await flow.locator('path').count(), 1);
      assert.equal(await page.locator(id('log-row')).count(), 0);

      fake.push(
        { type: 'flows', flows: [flowAt('D')] },
        { type: 'migration', row: row(1, T0 + 1_000) },
        ...Array.from({ length: 30 }, (_, i) => ({
          type: 'rates' as const,
          sample: sample(T0 + i * 100, i < 10 ? 'C' : 'D'),
        })),
        { type: 'status', status: status(1) },
      );
      await page.locator(`${id(`flow-${FLOW}`)}[data-responder="D"]`).waitFor();
      const rows = page.locator(id('log-row'));
      await rows.first().waitFor();
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getAttribute('data-seq'), '1');
      assert.deepEqual((await rows.first().locator('td').allTextContents()).slice(1, 6), [
        'fe00::1',
        'C → D',
        'in-process',
        '0.90 / 0.02 / 4.20',
        '1',
      ]);
      await page.locator(`${id('rates-chart')}[data-last="${T0 + 2_900}"]`).waitFor();
      assert.equal(await page.locator(id('rate-D')).textContent(), '10');
      assert.equal(await page.locator(id('rate-C')).textContent(), '0');
      assert.equal(await page.locator(id('rate-B')).textContent(), '20');
      assert.equal(await page.locator(id('rates-chart')).getAttribute('data-points'), '30');
      assert.equal(await page.locator(id('rates-chart')).getAttribute('data-marks'), '1');
      assert.match(
        (await page.locator(id('daemon')).textContent()) ?? '',
        /pid 4242 · 1 changes · 0 queued/,
      );
      assert.deepEqual(
        await page
          .locator(`${id('servers')} tbody tr`)
          .first()
          .locator('td')
          .allTextContents(),
        ['C', 'running', '3'],
      );
      // A late packet counted against the migration updates its row.
      fake.push({ type: 'late', seq: 1, late: 2 });
      await rows.first().locator('td.late.nonzero').filter({ hasText: '2' }).waitFor();
      await screenshot(page, 'page-after-migration');
      assert.deepEqual(w.problems, []);
      sameOrigin(w.requests);
    } finally {
      await page.close();
    }
  });

  it('sends each control request with the token and shows the reply or the error', async () => {
    const w = await open(`#token=${fake.token}`);
    const { page } = w;
    const result = page.locator(id('result'));
    const before = fake.calls.length;
    /** Clicks, waits for the answer line, returns the request the daemon got. */
    const click = async (button: string, kind: 'ok' | 'error') => {
      const n = fake.calls.length;
      await page.locator(id(button)).click();
      await page.locator(`${id('result')}.${kind}`).waitFor();
      assert.equal(fake.calls.length, n + 1, `${button}: one request`);
      const call = fake.calls[n];
      assert.ok(call);
      assert.equal(call.authorization, `Bearer ${fake.token}`);
      return call.body;
    };
    try {
      await page.locator(`${id('swap')}:enabled`).waitFor();
      assert.deepEqual(await click('swap', 'ok'), { verb: 'swap', flow: FLOW });
      assert.equal(await result.textContent(), 'fe00::1 moved C → D in 5.38 ms');

      // Every node is offered, so the daemon's refusal of a client shows.
      await page.locator(id('migrate-node')).selectOption('A');
      assert.deepEqual(await click('migrate', 'error'), {
        verb: 'migrate',
        flow: FLOW,
        node: 'A',
        end: 'responder',
      });
      assert.equal(
        await result.textContent(),
        "migrate: node 'A' is a client: a flow's responder must be a server (invalid)",
      );
      await page.locator(id('migrate-node')).selectOption('D');
      assert.deepEqual(await click('migrate', 'ok'), {
        verb: 'migrate',
        flow: FLOW,
        node: 'D',
        end: 'responder',
      });

      assert.equal(await page.locator(id('evacuate-from')).inputValue(), 'C');
      assert.equal(await page.locator(id('evacuate-to')).inputValue(), 'D');
      assert.deepEqual(await click('evacuate', 'ok'), { verb: 'evacuate', from: 'C', to: 'D' });
      assert.match((await result.textContent()) ?? '', /evacuated C → D: 1 flow moved/);

      await page.locator(id('load-kind')).selectOption('udp');
      assert.deepEqual(await click('load-start', 'ok'), {
        verb: 'load',
        kind: 'udp',
        from: 'A',
        flow: FLOW,
      });
      assert.equal(await result.textContent(), 'udp load 1 from A to fe00::1 started');
      fake.push({ type: 'loads', loads: [load(1, true)] });
      await page.locator(id('load-stop-1')).waitFor();
      assert.deepEqual(await click('load-stop-1', 'ok'), { verb: 'unload', load: 1 });
      fake.push({ type: 'loads', loads: [load(1, false)] });
      await page.locator(id('load-stop-1')).waitFor({ state: 'detached' });
      assert.match(
        (await page.locator(id('loads')).textContent()) ?? '',
        /udp #1 A → fe00::1: stopped/,
      );
      assert.equal(fake.calls.length, before + 6);
      await screenshot(page, 'page-controls');
      // The browser logs the refusal's 400 itself; nothing else may go wrong.
      assert.deepEqual(
        w.problems.filter((p) => !/status of 400 \(Bad Request\)/.test(p)),
        [],
      );
      sameOrigin(w.requests);
    } finally {
      await page.close();
    }
  });

  /** "unauthorized" shown, every control disabled, and a forced click sends nothing. */
  async function assertLockedOut(page: Page): Promise<void> {
    await page.locator(id('auth')).waitFor({ state: 'visible' });
    assert.match((await page.locator(id('auth')).textContent()) ?? '', /^Unauthorized/);
    assert.equal(await page.locator(id('connection')).textContent(), 'unauthorized');
    for (const b of ['swap', 'migrate', 'evacuate', 'load-start'])
      assert.equal(await page.locator(id(b)).isDisabled(), true, `${b} is enabled`);
    const calls = fake.calls.length;
    await page.locator(id('swap')).click({ force: true });
    await page.locator(id('migrate')).click({ force: true });
    assert.equal(fake.calls.length, calls, 'a request was sent without a token');
  }

  it('without a token says unauthorized, reads no events and sends nothing', async () => {
    const feeds = fake.feeds.length;
    const w = await open('');
    try {
      await assertLockedOut(w.page);
      assert.equal(fake.feeds.length, feeds, 'GET /events was tried without a token');
      assert.ok(!w.requests.some((r) => r.endsWith('/api')));
      await screenshot(w.page, 'page-unauthorized');
      assert.deepEqual(w.problems, []);
    } finally {
      await w.page.close();
    }
  });

  it('with a token the daemon refuses (401) says unauthorized and stops trying', async () => {
    const feeds = fake.feeds.length;
    const w = await open('#token=0123456789abcdef0123456789abcdef');
    try {
      await assertLockedOut(w.page);
      assert.deepEqual(fake.feeds.slice(feeds), ['Bearer 0123456789abcdef0123456789abcdef']);
      // The browser logs the 401 itself; nothing else may go wrong.
      assert.deepEqual(
        w.problems.filter((p) => !/401 \(Unauthorized\)/.test(p)),
        [],
      );
    } finally {
      await w.page.close();
    }
  });

  it('reconnects when the event stream ends, and starts over from the new snapshot', async () => {
    const w = await open(`#token=${fake.token}`);
    const { page } = w;
    try {
      await page.locator(id('connection')).filter({ hasText: 'connected' }).waitFor();
      fake.push(
        { type: 'migration', row: row(1, T0) },
        { type: 'migration', row: row(2, T0 + 500) },
      );
      await page.locator(`${id('log-row')}[data-seq="2"]`).waitFor();
      const feeds = fake.feeds.length;
      fake.drop();
      await page.locator(id('connection')).filter({ hasText: 'reconnecting' }).waitFor();
      assert.equal(await page.locator(`${id('swap')}:enabled`).count(), 0, 'controls stay enabled');
      await page.locator(id('connection')).filter({ hasText: 'connected' }).waitFor();
      assert.equal(fake.feeds.length, feeds + 1);
      assert.equal(fake.feeds.at(-1), `Bearer ${fake.token}`);
      // The new snapshot has an empty log: the page shows it, not what it had before.
      await page.locator(id('log-row')).first().waitFor({ state: 'detached' });
      await page.locator(`${id('swap')}:enabled`).waitFor();
      assert.deepEqual(w.problems, []);
    } finally {
      await page.close();
    }
  });
});
