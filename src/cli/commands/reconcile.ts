// `flowmig reconcile`: makes the translator match the lab's desired flow table again.
import type { Command } from 'commander';
import { print } from '../output.js';
import { renderReconcile } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('reconcile')
    .description(
      "make the translator match the lab's desired flow table (restores missing or changed rules)",
    )
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const id = await route.pick(o.lab);
      const r = await route.act(id, { verb: 'reconcile' }, (fm) => fm.reconcile(id), 'change');
      print(o.json, r, renderReconcile(r));
      if (r.drift.length && !r.repaired) process.exitCode = 1;
    });
}
