// `flowmig daemon`: serves a lab's API (in the foreground, or --detach), or stops (--stop) or
// replaces (--restart) the one that serves it.
import { type Command, Option } from 'commander';
import { runDaemon, startDaemon, stopLabDaemon } from '../../control/daemon-process.js';
import { InputError } from '../../errors.js';
import { print } from '../output.js';
import { listenAddress, portNumber } from '../parse.js';
import type { Route } from '../route.js';

interface DaemonCommandOptions {
  readonly lab?: string;
  readonly detach?: boolean;
  readonly http?: number;
  readonly listen?: string;
  readonly stop?: boolean;
  readonly restart?: boolean;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  program
    .command('daemon')
    .description(
      "serve a lab's local API (a Unix socket only root can open) and own its changes; --stop and --restart act on the running one",
    )
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-d, --detach', 'start it in the background and return')
    .option(
      '--http <port>',
      'also serve the API over HTTP on 127.0.0.1:PORT (0: any), with a bearer token in <state-dir>/<lab>.token (0600); see docs/http-api.md',
      portNumber,
    )
    .option(
      '--listen <address>',
      'with --http: the address to listen on (default 127.0.0.1; elsewhere /metrics needs the token too, and nothing is encrypted)',
      listenAddress,
    )
    .addOption(
      new Option('--stop', "stop the lab's daemon; the lab stays up").conflicts([
        'detach',
        'http',
        'restart',
      ]),
    )
    .option('--restart', "stop the lab's daemon (if one runs) and start one with these options")
    .option('--json', 'with --detach or --stop: print the result as JSON')
    .action(async (o: DaemonCommandOptions) => {
      const id = await route.pick(o.lab);
      const dir = route.stateDir;
      if (o.listen !== undefined && o.http === undefined)
        throw new InputError('', ['--listen needs --http PORT']);
      const http = {
        ...(o.http === undefined ? {} : { httpPort: o.http }),
        ...(o.listen === undefined ? {} : { listen: o.listen }),
      };
      let stopped: readonly number[] = [];
      if (o.stop || o.restart) {
        const r = await stopLabDaemon((await route.controller()).store, id);
        if (o.stop) {
          print(
            o.json,
            r,
            r.stopped.length
              ? `daemon of lab ${id} stopped (pid ${r.stopped.join(', ')}); the lab stays up`
              : `no daemon serves lab ${id}; nothing to stop`,
          );
          return;
        }
        stopped = r.stopped;
      }
      const replaced = stopped.length ? `, replacing pid ${stopped.join(', ')}` : '';
      if (o.detach) {
        const hello = await startDaemon(id, dir, http);
        const where = hello.http
          ? `; HTTP API on ${hello.http.url}, bearer token in ${hello.http.tokenFile}`
          : '';
        print(
          o.json,
          hello,
          `daemon of lab ${id} started (pid ${hello.pid}${replaced}, socket ${hello.socket}${where})`,
        );
        return;
      }
      if (stopped.length)
        process.stdout.write(`daemon of lab ${id} stopped (pid ${stopped.join(', ')})\n`);
      // In the foreground: the daemon's log lines come here; it serves until SIGTERM/SIGINT, a
      // `down` request, or `flowmig daemon --stop` from another terminal.
      process.exitCode = await runDaemon(id, dir, http);
    });
}
