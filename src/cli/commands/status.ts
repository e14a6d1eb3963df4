// `flowmig status`: a lab's nodes, flows, drift, control path and daemon; with no lab named and
// not exactly one healthy lab, the list of labs found (by state file, kernel marks and processes).
// A cluster lab's status comes from its host daemons: one line per host, then its flows.
import type { Command } from 'commander';
import type { LabPresence } from '../../control/presence.js';
import { isClusterUp, renderClusterStatus } from '../cluster.js';
import { print } from '../output.js';
import { renderLabs, renderStatus } from '../render.js';
import type { Route } from '../route.js';

export function register(program: Command, route: Route): void {
  program
    .command('status')
    .description('show a lab: nodes, flows, and whether the kernel agrees')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the status as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const labsFound = async (): Promise<readonly LabPresence[]> =>
        (await route.controller()).labs();
      let id = o.lab;
      if (id === undefined) {
        // No lab named: the only one, or a list of every lab found (also those whose state file
        // is gone or damaged, found by their marks in the kernel).
        const { candidateLabs } = await import('../../control/presence.js');
        const labs = candidateLabs(await labsFound());
        const only = labs.length === 1 ? labs[0] : undefined;
        if (only?.state !== 'ok') {
          print(o.json, { labs }, renderLabs(labs));
          return;
        }
        id = only.id;
      }
      const lab = id;
      if (isClusterUp(route.stateDir, lab)) {
        const { clusterStatus } = await import('../../control/cluster/status.js');
        const s = await clusterStatus(route.stateDir, lab).catch(async (error: unknown) => {
          // A damaged state file: what the machine still shows of the lab.
          const found = (await labsFound()).find((l) => l.id === lab && l.state !== 'ok');
          if (!found) throw error;
          return found;
        });
        if ('state' in s) print(o.json, { labs: [s] }, renderLabs([s]));
        else print(o.json, s, renderClusterStatus(s));
        return;
      }
      const s = await route
        .act(lab, { verb: 'status' }, (fm) => fm.status(lab), 'read')
        .catch(async (error: unknown) => {
          // A lab named whose state is damaged or gone: what the kernel still shows of it.
          const found = (await labsFound()).find((l) => l.id === lab && l.state !== 'ok');
          if (!found) throw error;
          return found;
        });
      if ('state' in s) print(o.json, { labs: [s] }, renderLabs([s]));
      else print(o.json, s, renderStatus(s));
    });
}
