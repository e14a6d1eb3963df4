// The HTTP listener's routes: the dashboard page and its files (no token: they hold no data),
// `GET /events` (the live feed) and `POST /api` (one request) with the bearer token, and
// `GET /metrics` (no token while the listener is on loopback). Anything else: a clear 4xx.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { type DaemonReply, MAX_REQUEST_BYTES } from '../daemon-api/protocol.js';
import type { HttpHandlers } from './http.js';
import { type Page, pageName } from './page.js';

/**
 * The page may load only its own files and talk only to this listener; it is never framed, and a
 * link followed from it sends no referrer (the address bar held the token when it opened).
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** Each path and the one method it takes. */
const METHODS: Readonly<Record<string, string>> = {
  '/': 'GET',
  '/index.html': 'GET',
  '/events': 'GET',
  '/metrics': 'GET',
  '/api': 'POST',
};

export interface RouteSetup {
  readonly token: string;
  /** Listening on loopback: /metrics is open, and only loopback host names are served. */
  readonly loopback: boolean;
  readonly page: Page;
  readonly handlers: HttpHandlers;
  readonly tokenOk: (header: string | undefined, token: string) => boolean;
  readonly statusOf: (reply: DaemonReply) => number;
}

/**
 * On loopback, a Host header that names another host is a web page elsewhere that rebound its
 * DNS name to 127.0.0.1: refused, so such a page cannot read /metrics or the page through it.
 */
export function loopbackHost(header: string | undefined): boolean {
  if (header === undefined) return false;
  const host = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.split(':')[0];
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host ?? '');
}

export function route(setup: RouteSetup): RequestListener {
  return (req, res) => {
    const send = (status: number, reply: DaemonReply, headers: Record<string, string> = {}) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(`${JSON.stringify(reply)}\n`);
    };
    // A refusal waits for the request's body (read and dropped, up to the limit): a reply sent
    // while the client still writes would end in a reset instead of the answer.
    const refuse = (
      status: number,
      error: string,
      code: string,
      headers?: Record<string, string>,
    ) =>
      readBody(req, (body) =>
        body === undefined
          ? tooLarge()
          : send(status, { id: null, ok: false, error, code }, headers),
      );
    const tooLarge = () => {
      // Answered at once; the rest of the body is not read: the connection ends after the reply.
      res.on('finish', () => req.destroy());
      send(
        413,
        {
          id: null,
          ok: false,
          error: `request too large (over ${MAX_REQUEST_BYTES} bytes)`,
          code: 'too-large',
        },
        { connection: 'close' },
      );
    };
    if (setup.loopback && !loopbackHost(req.headers.host))
      return refuse(403, 'this listener answers only to 127.0.0.1 or localhost', 'forbidden');
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const asset = /^\/assets\/([^/]*)$/.exec(path)?.[1];
    const method = asset !== undefined ? 'GET' : METHODS[path];
    if (method === undefined) return refuse(404, `not found: ${path.slice(0, 100)}`, 'not-found');
    if (req.method !== method)
      return refuse(405, `${method} ${path.slice(0, 100)} only`, 'bad-request', { allow: method });
    const authorized = () => setup.tokenOk(req.headers.authorization, setup.token);
    if (asset !== undefined || path === '/' || path === '/index.html')
      return servePage(setup.page, asset ?? 'index.html', res, refuse);
    if (path === '/metrics') {
      if (!setup.loopback && !authorized())
        return refuse(401, 'missing or wrong token', 'unauthorized');
      void setup.handlers.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        (error: unknown) => refuse(500, `metrics: ${String(error)}`, 'failed'),
      );
      return;
    }
    if (!authorized()) return refuse(401, 'missing or wrong token', 'unauthorized');
    if (path === '/events') return setup.handlers.events(res);
    readBody(req, (body) => {
      if (body === undefined) return tooLarge();
      void setup.handlers.api(body.trim()).then((reply) => send(setup.statusOf(reply), reply));
    });
  };
}

function servePage(
  page: Page,
  name: string,
  res: ServerResponse,
  refuse: (status: number, error: string, code: string) => void,
): void {
  if ('missing' in page) {
    refuse(503, page.missing as string, 'not-built');
    return;
  }
  const file = pageName(name) ? page.get(name) : undefined;
  if (!file) {
    refuse(404, `not found: /assets/${name.slice(0, 100)}`, 'not-found');
    return;
  }
  res.writeHead(200, { 'content-type': file.type, ...PAGE_HEADERS });
  res.end(file.body);
}

/** The request's body, or undefined once it passes MAX_REQUEST_BYTES (the rest is not read). */
function readBody(req: IncomingMessage, done: (body: string | undefined) => void): void {
  let body = '';
  let over = false;
  req.setEncoding('utf8');
  req.on('error', () => req.destroy());
  req.on('data', (chunk: string) => {
    if (over) return;
    body += chunk;
    if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) {
      over = true;
      done(undefined);
    }
  });
  req.on('end', () => {
    if (!over) done(body);
  });
  // Already read to its end (a request the server took whole): 'end' has been emitted.
  if (req.readableEnded && !over) done(body);
}
