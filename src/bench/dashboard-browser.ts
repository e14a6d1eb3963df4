// The dashboard page open in headless Chromium (Debian's, driven by playwright-core): opened on
// the address `flowmig dashboard` prints, checked connected and streaming, closed by the bench.
import { existsSync } from 'node:fs';
import { FlowmigError } from '../errors.js';
import { childrenNamed } from './dashboard-cpu.js';

export const CHROMIUM = '/usr/bin/chromium';

/** What the page shows of its stream: the connection state and the rates chart's newest sample. */
export interface PageView {
  readonly connection: string;
  /** Samples in the rates chart (data-points). */
  readonly points: number;
  /** The newest rate sample's time (data-last), '' before the first. */
  readonly last: string;
}

/** The parts of playwright-core's API used here (the package is a development dependency). */
interface Locator {
  textContent(): Promise<string | null>;
  getAttribute(name: string): Promise<string | null>;
}
interface Page {
  goto(url: string, o: { waitUntil: 'load' }): Promise<{ ok(): boolean } | null>;
  on(event: 'pageerror', f: (e: Error) => void): void;
  locator(selector: string): Locator;
}
interface Browser {
  newPage(o: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Chromium {
  launch(o: {
    executablePath: string;
    args: string[];
    headless: boolean;
    handleSIGINT: boolean;
    handleSIGTERM: boolean;
    handleSIGHUP: boolean;
  }): Promise<Browser>;
}

/** Refuses to go on without Chromium or playwright-core, saying how to install them. */
export async function checkBrowser(): Promise<void> {
  await chromium();
}

async function chromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM))
    throw new FlowmigError(
      `${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y --no-install-recommends chromium)`,
    );
  // A string specifier: the package is optional at run time, so the compiler must not insist.
  const name = 'playwright-core';
  const mod = (await import(name).catch(() => undefined)) as { chromium?: Chromium } | undefined;
  if (!mod?.chromium)
    throw new FlowmigError(
      "playwright-core is not installed: 'bench swap --dashboard' drives Chromium with it (npm install, in flowmig's directory, installs the development dependencies)",
    );
  return mod.chromium;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the page is connected and its chart holds samples (a stream that delivers). */
export function streaming(v: PageView): boolean {
  return v.connection === 'connected' && v.points > 1 && v.last !== '';
}

export class DashboardPage {
  private constructor(
    private readonly browser: Browser,
    private readonly page: Page,
    readonly errors: string[],
    /** The browser's main process (its helpers are its descendants); 0 when not found. */
    readonly pid: number,
  ) {}

  /**
   * Launches Chromium, opens `url` (with its #token=) and waits until the page says it is
   * connected and its rates chart has received samples: from then on the page streams.
   */
  static async open(url: string, timeoutMs = 15_000): Promise<DashboardPage> {
    const launcher = await chromium();
    const earlier = new Set(await childrenNamed('chromium'));
    const browser = await launcher.launch({
      executablePath: CHROMIUM,
      // As root, Chromium refuses to start with its sandbox on.
      args: ['--no-sandbox'],
      headless: true,
      // The bench closes the browser in its `finally`, also after Ctrl-C: playwright's own
      // handlers would kill it under the run (and exit the process with some of them).
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const response = await page.goto(url, { waitUntil: 'load' });
      if (!response?.ok())
        throw new FlowmigError(`the dashboard page did not load from ${url.replace(/#.*/, '')}`);
      // Playwright starts Chromium as this process's child: the new one is this browser.
      const pid = (await childrenNamed('chromium')).find((p) => !earlier.has(p)) ?? 0;
      const opened = new DashboardPage(browser, page, errors, pid);
      let v = await opened.view();
      for (const deadline = Date.now() + timeoutMs; !streaming(v); v = await opened.view()) {
        if (Date.now() > deadline)
          throw new FlowmigError(
            `the dashboard page did not connect and stream within ${timeoutMs} ms: ${JSON.stringify(v)}${errors.length ? `; page errors: ${errors.join('; ')}` : ''}`,
          );
        await sleep(100);
      }
      return opened;
    } catch (error) {
      await browser.close().catch(() => {});
      throw error;
    }
  }

  /** What the page shows now: its connection state and the rates chart's samples. */
  async view(): Promise<PageView> {
    const chart = this.page.locator('#rates-chart');
    return {
      connection: (await this.page.locator('#connection').textContent()) ?? '',
      points: Number((await chart.getAttribute('data-points')) ?? 0),
      last: (await chart.getAttribute('data-last')) ?? '',
    };
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}
