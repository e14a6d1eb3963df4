// Debian's Chromium for the dashboard tests (through playwright-core, headless): a page that
// records console errors, page errors and every URL it requests, and where screenshots go.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from './fake-daemon.js';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of the page, kept after the test for a person to look at. */
export const ARTIFACTS = join(ROOT, 'dist', 'test-artifacts', 'dashboard');

export async function launch(): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: this test needs Debian's chromium package ` +
      '(node scripts/setup.mjs installs it, or: apt-get install -y --no-install-recommends chromium)',
  );
  await mkdir(ARTIFACTS, { recursive: true });
  // As root, Chromium refuses to start with its sandbox on.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}

export interface Watched {
  readonly page: Page;
  /** Console errors and warnings, uncaught page errors (a CSP violation is a console error). */
  readonly problems: string[];
  readonly requests: string[];
}

export async function watchedPage(browser: Browser): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => {
    if (r.status() >= 400) process.stdout.write(`# ${r.status()} ${r.url()}\n`);
  });
  return { page, problems, requests };
}

/** Saves a full-page screenshot under ARTIFACTS and says where. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  process.stdout.write(`# screenshot: ${path}\n`);
  return path;
}
