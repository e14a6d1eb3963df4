// The HTTP listener's routes with bad input on every endpoint: each gets a clear 4xx, no handler
// runs for it (nothing changes), and the listener keeps serving. Also: the page's files are the
// only files served, with headers that keep the token out of referrers; /events and /api need the
// token; /metrics needs none on loopback but does elsewhere; a foreign Host header is refused.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type HttpApi,
  type HttpHandlers,
  httpStatusOf,
  listenHttp,
  tokenMatches,
} from '../../src/daemon/http.js';
import { loopbackHost, route } from '../../src/daemon/routes.js';
import { MAX_REQUEST_BYTES, parseRequest } from '../../src/daemon-api/protocol.js';
import { removeDir, tempDir } from '../support/tmp.js';

const calls: string[] = [];
const handlers: HttpHandlers = {
  api: async (body) => {
    const parsed = parseRequest(body);
    if ('error' in parsed)
      return { id: parsed.id, ok: false, error: parsed.error, code: 'bad-request' };
    calls.push(`api ${parsed.request.verb}`);
    return { id: parsed.request.id ?? null, ok: true, result: { verb: parsed.request.verb } };
  },
  events: (res) => {
    calls.push('events');
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('event: snapshot\ndata: {}\n\n');
  },
  metrics: async () => {
    calls.push('metrics');
    return { contentType: 'text/plain; version=0.0.4', body: 'flowmig_flows 1\n' };
  },
};

let dir: string;
let api: HttpApi;
let base: string;

/** One raw request (no URL normalisation, any Host header), resolved with status and body. */
function raw(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; port?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port ?? url.port,
        method,
        path,
        // With its length: Node's client sends a GET's or DELETE's body unframed otherwise.
        headers: {
          ...options.headers,
          ...(options.body !== undefined
            ? { 'content-length': String(Buffer.byteLength(options.body)) }
            : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const auth = () => ({ authorization: `Bearer ${api.token}` });

before(async () => {
  dir = await tempDir('routes');
  const page = join(dir, 'page');
  await mkdir(page);
  await writeFile(join(page, 'index.html'), '<!doctype html><title>flowmig</title>');
  await writeFile(join(page, 'app.js'), 'console.log(1)');
  await writeFile(join(page, '.secret.js'), 'no');
  await writeFile(join(dir, 'outside.js'), 'no');
  api = await listenHttp(0, { pageDir: page }, handlers);
  base = api.url.replace(/\/api$/, '');
});
after(async () => {
  await api.close();
  await removeDir(dir);
});

describe('the HTTP routes', () => {
  it('serve the page without a token, with headers that keep it unframed and referrer-free', async () => {
    const page = await raw('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /flowmig/);
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    const js = await raw('GET', '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
  });

  it('serve no other file: traversal, encodings and dot files are 404', async () => {
    for (const path of [
      '/assets/../outside.js',
      '/assets/..%2foutside.js',
      '/assets/%2e%2e/outside.js',
      '/assets/..',
      '/assets/.secret.js',
      '/assets/',
      '/assets/app.js/',
      '/assets//etc/passwd',
      '/../../../etc/passwd',
      '/assets/app.js%00.html',
      '/index.html/..',
    ]) {
      const r = await raw('GET', path);
      assert.equal(r.status, 404, path);
      assert.notEqual(r.body, 'no', path);
      assert.match(r.body, /not found/, path);
    }
  });

  it('need the token for /events and /api; nothing runs without it', async () => {
    const before = calls.length;
    assert.equal((await raw('GET', '/events')).status, 401);
    assert.equal(
      (await raw('GET', '/events', { headers: { authorization: 'Bearer x' } })).status,
      401,
    );
    assert.equal((await raw('POST', '/api', { body: '{"verb":"swap"}' })).status, 401);
    assert.equal(calls.length, before);
    const events = await raw('GET', '/events', { headers: auth() });
    assert.equal(events.status, 200);
    assert.match(events.body, /^event: snapshot/);
  });

  it('answer wrong methods with 405 and the allowed one, unknown paths with 404', async () => {
    const before = calls.length;
    for (const [method, path, allow] of [
      ['POST', '/', 'GET'],
      ['DELETE', '/index.html', 'GET'],
      ['POST', '/events', 'GET'],
      ['PUT', '/metrics', 'GET'],
      ['GET', '/api', 'POST'],
      ['PUT', '/api', 'POST'],
      ['POST', '/assets/app.js', 'GET'],
    ] as const) {
      const r = await raw(method, path, { headers: auth(), body: '{"verb":"swap"}' });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.allow, allow);
    }
    for (const path of ['/nowhere', '/api/x', '/metrics/x', '/events/', '/dashboard'])
      assert.equal((await raw('GET', path, { headers: auth() })).status, 404, path);
    assert.equal(calls.length, before);
  });

  it('refuse malformed JSON, unknown verbs and bad fields with 400, a huge body with 413', async () => {
    const before = calls.length;
    for (const body of ['not json', '{"verb":"explode"}', '{"verb":"swap","flow":7}', '[]', ''])
      assert.equal((await raw('POST', '/api', { headers: auth(), body })).status, 400, body);
    const huge = Buffer.alloc(MAX_REQUEST_BYTES * 4, 'a');
    const r = await raw('POST', '/api', { headers: auth(), body: huge });
    assert.equal(r.status, 413);
    assert.match(r.body, /too large/);
    assert.equal(calls.length, before);
  });

  it('serve /metrics without a token on loopback', async () => {
    const r = await raw('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'flowmig_flows 1\n');
  });

  it('refuse a Host that is not a loopback name (a DNS-rebinding page)', async () => {
    const before = calls.length;
    for (const host of ['evil.example', 'evil.example:80', '10.0.0.1'])
      for (const path of ['/', '/metrics', '/events'])
        assert.equal((await raw('GET', path, { headers: { ...auth(), host } })).status, 403);
    assert.equal(calls.length, before);
    assert.equal(loopbackHost('localhost:8080'), true);
    assert.equal(loopbackHost('[::1]:8080'), true);
    assert.equal(loopbackHost('127.0.0.1'), true);
    assert.equal(loopbackHost('127.0.0.1.evil.example'), false);
  });

  it('keep serving after all of that', async () => {
    const r = await raw('POST', '/api', { headers: auth(), body: '{"id":9,"verb":"hello"}' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { id: 9, ok: true, result: { verb: 'hello' } });
  });
});

describe('a listener off loopback', () => {
  it('needs the token for /metrics too, and says plainly when the page is not built', async () => {
    // The routes as they are set up off loopback, on a test server of their own on 127.0.0.1
    // (binding every address of a shared machine for a test is not needed to check them).
    const token = '0123456789abcdef0123456789abcdef';
    const server = createServer(
      route({
        token,
        loopback: false,
        page: { missing: "the dashboard page is not built; run 'npm run build'" },
        handlers,
        tokenOk: tokenMatches,
        statusOf: httpStatusOf,
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const port = String(typeof address === 'object' && address ? address.port : 0);
      const host = { host: 'flowmig.example:80' }; // any name is fine off loopback
      assert.equal((await raw('GET', '/metrics', { port, headers: host })).status, 401);
      const ok = await raw('GET', '/metrics', {
        port,
        headers: { ...host, authorization: `Bearer ${token}` },
      });
      assert.equal(ok.status, 200);
      const page = await raw('GET', '/', { port, headers: host });
      assert.equal(page.status, 503);
      assert.match(page.body, /not built/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
