// `flowmig flows`: a lab's flows and where each points.
import type { Command } from 'commander';
import { print } from '../output.js';
import { renderFlows } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('flows')
    .description("list a lab's flows and where each points")
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the flows as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const id = await route.pick(o.lab);
      const s = await route.act(id, { verb: 'status' }, (fm) => fm.status(id), 'read');
      print(o.json, s.flows, renderFlows(s));
    });
}
