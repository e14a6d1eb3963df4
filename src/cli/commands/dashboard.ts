// `flowmig dashboard`: makes sure the lab's daemon serves HTTP (starting it, or restarting one
// that serves only its socket) and prints the page's address with the token in its fragment: a
// browser never sends a fragment to the server, so the token stays out of logs and referrers.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  daemonPaths,
  runningDaemon,
  startDaemon,
  stopLabDaemon,
} from '../../control/daemon-process.js';
import type { HelloReply } from '../../daemon-api/protocol.js';
import { isClusterUp } from '../cluster.js';
import { print } from '../output.js';
import { listenAddress, portNumber } from '../parse.js';
import type { Route } from '../route.js';

interface DashboardOptions {
  readonly lab?: string;
  readonly port?: number;
  readonly listen?: string;
  readonly open?: boolean;
  readonly json?: boolean;
}

/** The page's address for a daemon's API URL and its token. */
export function pageUrl(apiUrl: string, token: string): string {
  return `${apiUrl.replace(/\/api$/, '/')}#token=${token}`;
}

/** Whether the running daemon's listener is the one asked for (any port when none is named). */
function serves(hello: HelloReply, o: DashboardOptions): boolean {
  if (!hello.http) return false;
  const url = new URL(hello.http.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return (
    (o.port === undefined || o.port === 0 || Number(url.port) === o.port) &&
    host === (o.listen ?? '127.0.0.1')
  );
}

export function register(program: Command, route: Route): void {
  program
    .command('dashboard')
    .description(
      "watch a lab live in the browser: starts the lab's daemon with HTTP if needed and prints the page's address (see docs/dashboard.md)",
    )
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option(
      '-p, --port <port>',
      'HTTP port (default: the running one, or any free port)',
      portNumber,
    )
    .option(
      '--listen <address>',
      'address to listen on (default 127.0.0.1; elsewhere the page, API and /metrics all need the token, and nothing is encrypted)',
      listenAddress,
    )
    .option('--open', "open the page in the desktop's browser (xdg-open)")
    .option('--json', 'print the address and the daemon as JSON')
    .action(async (o: DashboardOptions) => {
      const id = await route.pick(o.lab);
      const dir = route.stateDir;
      if (isClusterUp(dir, id)) return serveCluster(dir, id, o);
      let hello = await runningDaemon(id, dir);
      let started = '';
      if (!hello || !serves(hello, o)) {
        if (hello) {
          await stopLabDaemon((await route.controller()).store, id);
          started = `restarted the daemon of lab ${id} with HTTP (was pid ${hello.pid})\n`;
        } else started = `started the daemon of lab ${id}\n`;
        hello = await startDaemon(id, dir, {
          httpPort: o.port ?? 0,
          ...(o.listen !== undefined ? { listen: o.listen } : {}),
        });
      }
      const http = hello.http;
      if (!http) throw new Error(`the daemon of lab ${id} does not say where it listens`);
      const token = (await readFile(daemonPaths(dir, id).token, 'utf8')).trim();
      const url = pageUrl(http.url, token);
      const warning =
        o.listen !== undefined && !/^(127\.|::1$)/.test(o.listen)
          ? `warning: listening on ${o.listen}: other machines can reach it; keep the address secret, it holds the token (no TLS)\n`
          : '';
      print(
        o.json,
        { lab: id, url, pid: hello.pid, tokenFile: http.tokenFile },
        `${started}${warning}dashboard of lab ${id}: ${url}\n(the token is also in ${http.tokenFile}, readable by root only)`,
      );
      if (o.open) await openInBrowser(url);
    });
}

/** Hands the address to the desktop's browser; says so when there is no xdg-open. */
async function openInBrowser(url: string): Promise<void> {
  const { Background } = await import('../../experiment/process.js');
  const opener = Background.start(['xdg-open', url]);
  const exit = await opener.exited;
  if (exit.code !== 0)
    process.stderr.write(
      `flowmig: xdg-open could not open the page (${opener.stderr.trim() || `exit ${exit.code}`}); open the address above\n`,
    );
}

/**
 * A cluster lab's dashboard: its host daemons run inside their translators' namespaces, so this
 * process serves the page, in the foreground, until Ctrl-C (src/dashboard/cluster-server.ts).
 */
async function serveCluster(dir: string, id: string, o: DashboardOptions): Promise<void> {
  const { serveClusterDashboard } = await import('../../dashboard/cluster-server.js');
  const tokenFile = `${dir}/${id}.dashboard.token`;
  const served = await serveClusterDashboard(dir, id, {
    port: o.port ?? 0,
    tokenFile,
    ...(o.listen !== undefined ? { host: o.listen } : {}),
  });
  const url = pageUrl(served.url, served.token);
  print(
    o.json,
    { lab: id, url, pid: process.pid, tokenFile },
    `dashboard of cluster lab ${id}: ${url}\n(served by this process until Ctrl-C; the token is also in ${tokenFile}, readable by root only)`,
  );
  if (o.open) await openInBrowser(url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await served.close();
}
