// `flowmig swap`: migrates a flow to the next server (the reference's "swap"); on a cluster lab,
// through its host daemons.
import type { Command } from 'commander';
import { changeOnCluster, isClusterUp } from '../cluster.js';
import { print } from '../output.js';
import { renderMigration } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('swap')
    .description('migrate a flow to the next server (the seed\'s "swap")')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-f, --flow <flow>', 'flow address or name (default: the only flow)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { lab?: string; flow?: string; json?: boolean }) => {
      const id = await route.pick(o.lab);
      if (isClusterUp(route.stateDir, id)) {
        const body = { verb: 'swap' as const, ...(o.flow === undefined ? {} : { flow: o.flow }) };
        return changeOnCluster(route.stateDir, id, body, o.json);
      }
      const r = await route.act(
        id,
        { verb: 'swap', ...(o.flow === undefined ? {} : { flow: o.flow }) },
        (fm) => fm.swap(id, o.flow),
        'change',
      );
      print(o.json, r, renderMigration(r));
    });
}
