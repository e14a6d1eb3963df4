// `flowmig migrate FLOW NODE`: makes NODE the flow's responder (a server) or initiator (a client);
// on a cluster lab, through its host daemons.
import type { Command } from 'commander';
import { changeOnCluster, isClusterUp } from '../cluster.js';
import { print } from '../output.js';
import { renderMigration } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('migrate')
    .description('make NODE the responder (a server) or initiator (a client) of FLOW')
    .argument('<flow>', 'flow address or name')
    .argument('<node>', 'node name')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (flow: string, node: string, o: { lab?: string; json?: boolean }) => {
      const id = await route.pick(o.lab);
      if (isClusterUp(route.stateDir, id))
        return changeOnCluster(route.stateDir, id, { verb: 'migrate', flow, node }, o.json);
      const r = await route.act(
        id,
        { verb: 'migrate', flow, node },
        (fm) => fm.migrate(id, flow, node),
        'change',
      );
      print(o.json, r, renderMigration(r));
    });
}
