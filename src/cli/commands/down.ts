// `flowmig down`: tears a lab down, through its daemon when one runs; finds the lab by its marks in
// the kernel when its state is lost or damaged. A cluster lab is removed from this process: its
// host daemons and etcd members are stopped by PID, then its namespaces and files go.
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import type { Lab } from '../../lab/model.js';
import { renderClusterDown } from '../cluster.js';
import { print } from '../output.js';
import type { Route } from '../route.js';

interface DownOptions {
  readonly lab?: string;
  readonly config?: string;
  readonly prefix?: string;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
  program
    .command('down')
    .description('tear a lab down (idempotent; works after the process that built it died)')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option(
      '-c, --config <file>',
      'with --prefix: find the lab from its description when its state is lost',
    )
    .option('-p, --prefix <prefix>', 'namespace prefix of the lab')
    .option('--json', 'print the result as JSON')
    .action(async (o: DownOptions) => {
      const fallback =
        o.config !== undefined || o.prefix !== undefined
          ? await labFrom(o.config, o.prefix)
          : undefined;
      if (fallback?.kind === 'cluster') return downCluster(route, o.lab ?? fallback.id, o.json);
      let id = o.lab ?? fallback?.id;
      if (id === undefined) {
        // Labs of this state directory: by state file, or by a process of theirs that names it
        // (the state file is gone). A lab seen only by its marks may be another directory's:
        // it is named, never taken down unasked.
        const found = await (await route.controller()).labs();
        const labs = found.filter((l) => l.here);
        if (labs.length === 0) {
          const others = found.map((l) => l.id);
          print(
            o.json,
            { removed: [], skipped: [], hadState: false, ...(others.length ? { others } : {}) },
            others.length
              ? `no lab of this state directory is up; found by their marks only: ${others.join(', ')} ('flowmig down --lab ID' removes one)`
              : 'no lab is up; nothing to do',
          );
          return;
        }
        if (labs.length > 1)
          throw new InputError('', [
            `several labs are up (${labs.map((l) => l.id).join(', ')}); name one with --lab ID`,
          ]);
        if (labs[0]?.kind === 'cluster') return downCluster(route, labs[0].id, o.json);
        id = labs[0]?.id ?? '';
      }
      const { isClusterLab } = await import('../../control/cluster/down.js');
      if (await isClusterLab(route.stateDir, id)) return downCluster(route, id, o.json);
      const lab = id;
      const single = fallback?.kind === 'lab' ? fallback.lab : undefined;
      const r = await route.act(lab, { verb: 'down' }, (fm) => fm.down(lab, single), 'read');
      await route.daemonGone(lab);
      const text = r.removed.length
        ? `lab ${r.id} torn down (removed ${r.removed.join(', ')})`
        : `lab ${r.id}: nothing to remove${r.hadState ? '' : ' (no state and no namespace marked as this lab)'}`;
      const skipped = r.skipped.length
        ? `\nleft alone (not this lab's): ${r.skipped.join(', ')}`
        : '';
      const damaged = r.damagedState
        ? `\nits state file ${r.damagedState} was damaged: the lab was found by its marks in the kernel, and the file removed`
        : '';
      print(o.json, r, text + skipped + damaged);
    });
}

/** The lab a file describes (single-host or cluster), to find it by when its state is lost. */
async function labFrom(
  config: string | undefined,
  prefix: string | undefined,
): Promise<{ kind: 'lab'; id: string; lab: Lab } | { kind: 'cluster'; id: string }> {
  const { loadLab, readDescription } = await import('../../lab/load.js');
  if (config !== undefined) {
    const raw = await readDescription(config);
    const { isClusterDescription } = await import('../../lab/cluster-schema.js');
    if (isClusterDescription(raw)) {
      const { resolveCluster } = await import('../../lab/cluster-resolve.js');
      const cluster = resolveCluster(raw, { prefix, source: `lab file ${config}` });
      return { kind: 'cluster', id: cluster.id };
    }
  }
  const lab = await loadLab(config, { prefix });
  return { kind: 'lab', id: lab.id, lab };
}

/** Removes cluster lab `id` (idempotent; from its marks and processes when its state is lost). */
async function downCluster(route: Route, id: string, json: boolean | undefined): Promise<void> {
  const [{ downCluster: down }, { ProcessRunner }] = await Promise.all([
    import('../../control/cluster/down.js'),
    import('../../exec/runner.js'),
  ]);
  const r = await down({ stateDir: route.stateDir, runner: new ProcessRunner() }, id);
  print(json, r, renderClusterDown(r));
}
