// `flowmig evacuate FROM TO`: moves every flow FROM serves to TO (one rule transaction, one
// conntrack pass); on a cluster lab, one etcd txn per 128 flows, through its host daemons.
import type { Command } from 'commander';
import { changeOnCluster, isClusterUp } from '../cluster.js';
import { print } from '../output.js';
import { renderEvacuation } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('evacuate')
    .description('move every flow served by FROM to TO: one rule transaction, one conntrack pass')
    .argument('<from>', 'server node the flows leave')
    .argument('<to>', 'server node that takes them')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (from: string, to: string, o: { lab?: string; json?: boolean }) => {
      const id = await route.pick(o.lab);
      if (isClusterUp(route.stateDir, id))
        return changeOnCluster(route.stateDir, id, { verb: 'evacuate', from, to }, o.json);
      const r = await route.act(
        id,
        { verb: 'evacuate', from, to },
        (fm) => fm.evacuate(id, from, to),
        'change',
      );
      print(o.json, r, renderEvacuation(r));
    });
}
