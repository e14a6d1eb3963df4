// The daemon's optional HTTP listener (127.0.0.1 unless told otherwise): the bearer token it makes
// at start (kept in a 0600 file while it listens), its comparison, and statuses by reply code.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { DaemonReply } from '../daemon-api/protocol.js';
import { writePrivateFile } from '../state/store.js';
import { loadPage, PAGE_DIR } from './page.js';
import { route } from './routes.js';

/** The HTTP status of an API reply: by its code (docs/http-api.md lists them). */
export function httpStatusOf(reply: DaemonReply): number {
  if (reply.ok) return 200;
  switch (reply.code) {
    case 'unauthorized':
      return 401;
    case 'too-large':
      return 413;
    case 'failed':
      return 500;
    default:
      return 400; // bad-request, invalid, refused: the request cannot be done as sent
  }
}

/**
 * Whether an Authorization header carries `Bearer <token>`. The comparison takes the same time
 * wherever the first differing byte is (timingSafeEqual); only the length, which is public (32
 * hex digits), is compared first, as timingSafeEqual needs equal lengths.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const scheme = 'Bearer ';
  if (header === undefined || !header.startsWith(scheme)) return false;
  const given = Buffer.from(header.slice(scheme.length), 'utf8');
  const expected = Buffer.from(token, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface HttpApi {
  readonly url: string;
  readonly token: string;
  /** Closes the listener and its connections, and removes the token file. */
  close(): Promise<void>;
}

/** What the listener serves besides the page's files. */
export interface HttpHandlers {
  /** One API request's body → its reply (token checked already). */
  api(body: string): Promise<DaemonReply>;
  /** Takes over the response as the live event stream (token checked already). */
  events(res: ServerResponse): void;
  /** The Prometheus exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HttpOptions {
  readonly tokenFile?: string;
  /** The address to listen on (default 127.0.0.1). Elsewhere, /metrics needs the token too. */
  readonly host?: string;
  /** The page's files (default: the bundled dist/web/dashboard). */
  readonly pageDir?: string;
}

/** Whether `host` is a loopback address (only this machine can reach a listener there). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Listens on `options.host`:`port` (default 127.0.0.1; port 0: any free one) and serves the
 * dashboard page, its live events, /metrics and the API (routes.ts). The token is random per
 * start; with `tokenFile` it is written there (0600) before the listener opens.
 */
export async function listenHttp(
  port: number,
  options: HttpOptions,
  handlers: HttpHandlers,
): Promise<HttpApi> {
  const token = randomBytes(16).toString('hex');
  const host = options.host ?? '127.0.0.1';
  const page = await loadPage(options.pageDir ?? PAGE_DIR);
  if (options.tokenFile !== undefined) {
    // Written whole or not at all: a reader never sees half a token.
    const tmp = `${options.tokenFile}.${process.pid}.tmp`;
    await writePrivateFile(tmp, `${token}\n`);
    await rename(tmp, options.tokenFile);
  }
  const http = createServer(
    route({
      token,
      loopback: isLoopback(host),
      page,
      handlers,
      tokenOk: tokenMatches,
      statusOf: httpStatusOf,
    }),
  );
  const removeToken = async () => {
    if (options.tokenFile !== undefined) await rm(options.tokenFile, { force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => resolve());
    });
  } catch (error) {
    await removeToken();
    throw error;
  }
  const address = http.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/api`,
    token,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      // The token dies with the listener: a file left behind would only mislead.
      await removeToken();
    },
  };
}
