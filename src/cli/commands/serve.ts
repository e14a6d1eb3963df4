// `flowmig serve`: runs (or with --stop, stops) flowmig's TCP server runtime in the lab's servers.
import { type Command, Option } from 'commander';
import type { ServeMode } from '../../control/serve-process.js';
import { isClusterUp } from '../cluster.js';
import { print } from '../output.js';
import { SERVE_MODE_CHOICES, servePort } from '../parse.js';
import { renderServe, renderServeStopped } from '../render.js';
import type { Route } from '../route.js';

interface ServeOptions {
  readonly lab?: string;
  readonly port: string;
  readonly mode: ServeMode;
  readonly stop?: boolean;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  program
    .command('serve')
    .description(
      "run flowmig's TCP server runtime (echo or stream) in the lab's server namespaces: flows with `tcp: migrate` move its connections",
    )
    .argument('[nodes...]', 'server nodes (default: every server of the lab)')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-p, --port <port>', 'TCP port on each server address', '5555')
    .addOption(
      new Option('--mode <mode>', 'what the server does')
        .choices(SERVE_MODE_CHOICES)
        .default('echo'),
    )
    .option('--stop', 'stop the runtimes instead')
    .option('--json', 'print the result as JSON')
    .action(async (nodes: string[], o: ServeOptions) => {
      const id = await route.pick(o.lab);
      if (isClusterUp(route.stateDir, id)) return serveOnCluster(route.stateDir, id, nodes, o);
      if (o.stop) {
        const n = await route.act(
          id,
          { verb: 'unserve', ...(nodes.length ? { nodes } : {}) },
          (fm) => fm.unserve(id, nodes),
          'change',
        );
        print(o.json, { stopped: n }, renderServeStopped(id, n));
        return;
      }
      const port = servePort(o.port);
      const r = await route.act(
        id,
        { verb: 'serve', port, mode: o.mode, ...(nodes.length ? { nodes } : {}) },
        (fm) => fm.serve(id, { port, mode: o.mode, nodes }),
        'change',
      );
      const { tcpRepairUnavailable } = await import('../../tcp-repair/native.js');
      print(o.json, r, renderServe(r, tcpRepairUnavailable()));
    });
}

/** `serve` on a cluster lab: the runtimes run in the servers' namespaces, on every host. */
async function serveOnCluster(
  stateDir: string,
  id: string,
  nodes: string[],
  o: ServeOptions,
): Promise<void> {
  const { serveCluster, unserveCluster } = await import('../../control/cluster/serve.js');
  if (o.stop) {
    const n = await unserveCluster(stateDir, id, nodes);
    print(o.json, { stopped: n }, renderServeStopped(id, n));
    return;
  }
  const r = await serveCluster(stateDir, id, { port: servePort(o.port), mode: o.mode, nodes });
  const { tcpRepairUnavailable } = await import('../../tcp-repair/native.js');
  print(o.json, r, renderServe(r, tcpRepairUnavailable()));
}
