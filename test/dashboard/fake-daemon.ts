// A stand-in for the daemon's HTTP side, for the dashboard page's tests: serves the built page
// (dist/web/dashboard) as the daemon will (GET /, /assets/app.js, app.css, favicon.svg) under a strict
// CSP, answers GET /events with the bearer token as a server-sent event stream the test drives,
// and POST /api with the test's canned replies, recording every request.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LiveEvent, LiveSnapshot } from '../../src/daemon-api/live.js';

/** Repository root: this file runs as dist/test/dashboard/fake-daemon.js. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PAGE = join(ROOT, 'dist', 'web', 'dashboard');
const SOURCES = join(ROOT, 'web', 'dashboard');

/** The policy the page must live with: nothing inline, nothing from elsewhere. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/assets/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

/** Fails clearly when the page was not built, or built before its sources last changed. */
export function assertPageBuilt(): void {
  const built = join(PAGE, 'app.js');
  assert.ok(
    existsSync(built),
    `${built} is missing: run npm run build (node scripts/bundle-web.mjs)`,
  );
  const newest = Math.max(...readdirSync(SOURCES).map((f) => statSync(join(SOURCES, f)).mtimeMs));
  assert.ok(
    statSync(built).mtimeMs >= newest,
    `${built} is older than web/dashboard: run npm run build (node scripts/bundle-web.mjs)`,
  );
}

export interface ApiCall {
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
}

/** The reply the test gives a request: HTTP status and the JSON body. */
export type Replier = (body: Record<string, unknown>) => { status: number; reply: unknown };

export interface FakeDaemon {
  readonly url: string;
  readonly token: string;
  /** Every POST /api, in order. */
  readonly calls: ApiCall[];
  /** The Authorization header of every GET /events, in order (401s included). */
  readonly feeds: (string | undefined)[];
  /** Open event streams. */
  open(): number;
  /** Writes events to every open stream. */
  push(...events: LiveEvent[]): void;
  /** Writes raw text to every open stream (to test the page's parsing). */
  pushRaw(text: string): void;
  /** Ends every open stream (the page should reconnect). */
  drop(): void;
  close(): Promise<void>;
}

/** The SSE form of one event. */
export function sse(e: LiveEvent): string {
  return `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

export async function startFakeDaemon(
  snapshot: () => LiveSnapshot,
  replier: Replier,
): Promise<FakeDaemon> {
  const token = randomBytes(16).toString('hex');
  const calls: ApiCall[] = [];
  const feeds: (string | undefined)[] = [];
  const streams = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = FILES[path];
    if (req.method === 'GET' && file !== undefined) {
      void readFile(join(PAGE, file.file)).then(
        (body) => {
          res.writeHead(200, {
            'content-type': file.type,
            'content-security-policy': CSP,
            'cache-control': 'no-store',
          });
          res.end(body);
        },
        () => {
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/events') {
      feeds.push(req.headers.authorization);
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"id":null,"ok":false,"error":"missing or wrong token","code":"unauthorized"}\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(sse({ type: 'snapshot', ...snapshot() }));
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'POST' && path === '/api') {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        text += c;
      });
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        calls.push({ authorization: req.headers.authorization, body });
        const { status, reply } =
          req.headers.authorization === `Bearer ${token}`
            ? replier(body)
            : {
                status: 401,
                reply: {
                  id: null,
                  ok: false,
                  error: 'missing or wrong token',
                  code: 'unauthorized',
                },
              };
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(reply)}\n`);
      });
      return;
    }
    process.stdout.write(`# fake daemon: 404 ${req.method} ${path}\n`);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    calls,
    feeds,
    open: () => streams.size,
    push(...events) {
      const text = events.map(sse).join('');
      for (const s of streams) s.write(text);
    },
    pushRaw(text) {
      for (const s of streams) s.write(text);
    },
    drop() {
      for (const s of streams) s.end();
      streams.clear();
    },
    async close() {
      for (const s of streams) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
