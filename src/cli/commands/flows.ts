// `flowmig flows`: a lab's flows and where each points, a page at a time (--json: all of them);
// a cluster lab's as its etcd table holds them.
import { type Command, InvalidArgumentError } from 'commander';
import { isClusterUp, renderClusterFlows } from '../cluster.js';
import { print } from '../output.js';
import { positiveInt } from '../parse.js';
import { FLOWS_PAGE, renderFlows } from '../render.js';
import type { Route } from '../route.js';

function offset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be 0 or more');
  return n;
}

export function register(program: Command, route: Route): void {
  program
    .command('flows')
    .description("list a lab's flows and where each points, a page at a time")
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--limit <n>', 'flows per page', positiveInt, FLOWS_PAGE)
    .option('--offset <k>', 'the first flow shown, from 0', offset, 0)
    .option('--json', 'print every flow as JSON (not paged)')
    .action(async (o: { lab?: string; limit: number; offset: number; json?: boolean }) => {
      const id = await route.pick(o.lab);
      if (isClusterUp(route.stateDir, id)) {
        const { clusterStatus } = await import('../../control/cluster/status.js');
        const c = await clusterStatus(route.stateDir, id);
        print(o.json, c.flows, renderClusterFlows(c, { offset: o.offset, limit: o.limit }));
        return;
      }
      const s = await route.act(id, { verb: 'status' }, (fm) => fm.status(id), 'read');
      print(o.json, s.flows, renderFlows(s, { offset: o.offset, limit: o.limit }));
    });
}
