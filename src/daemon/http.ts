// The daemon's optional HTTP listener on 127.0.0.1: one API request per `POST /api`, allowed with
// the bearer token it made at start (kept in a 0600 file while it listens), statuses by reply code.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { type DaemonReply, MAX_REQUEST_BYTES } from '../daemon-api/protocol.js';
import { writePrivateFile } from '../state/store.js';

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

/**
 * Listens on 127.0.0.1:`port` (0: any free port) and answers each authorized request body with
 * `answer`. The token is random per start; with `tokenFile` it is written there (0600) before the
 * listener opens.
 */
export async function listenHttp(
  port: number,
  options: { tokenFile?: string },
  answer: (body: string) => Promise<DaemonReply>,
): Promise<HttpApi> {
  const token = randomBytes(16).toString('hex');
  if (options.tokenFile !== undefined) {
    // Written whole or not at all: a reader never sees half a token.
    const tmp = `${options.tokenFile}.${process.pid}.tmp`;
    await writePrivateFile(tmp, `${token}\n`);
    await rename(tmp, options.tokenFile);
  }
  const http = createServer((req, res) => {
    const send = (reply: DaemonReply, status = httpStatusOf(reply)) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(reply)}\n`);
    };
    const refuse = (status: number, error: string, code: string) =>
      send({ id: null, ok: false, error, code }, status);
    if (req.url !== '/api') return refuse(404, 'not found: the API is POST /api', 'not-found');
    if (req.method !== 'POST') return refuse(405, 'POST /api only', 'bad-request');
    if (!tokenMatches(req.headers.authorization, token))
      return refuse(401, 'missing or wrong token', 'unauthorized');
    let body = '';
    req.setEncoding('utf8');
    req.on('error', () => req.destroy());
    req.on('data', (chunk: string) => {
      body += chunk;
      if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) {
        refuse(413, 'request too large', 'too-large');
        req.destroy();
      }
    });
    req.on('end', () => {
      if (res.headersSent) return;
      void answer(body.trim()).then((reply) => send(reply));
    });
  });
  const removeToken = async () => {
    if (options.tokenFile !== undefined) await rm(options.tokenFile, { force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    await removeToken();
    throw error;
  }
  const address = http.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${bound}/api`,
    token,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      // The token dies with the listener: a file left behind would only mislead.
      await removeToken();
    },
  };
}
