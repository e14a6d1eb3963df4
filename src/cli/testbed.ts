// The testbed a measured run (`flowmig demo`, `flowmig experiment`) builds: the reference lab or a
// lab file's single-host lab (the Flowmig controller), or a cluster lab (`--hosts N`, or a lab
// file with `hosts:`) built and driven through its host daemons.
import { ProcessRunner } from '../exec/runner.js';
import type { Testbed } from '../experiment/testbed.js';
import type { EngineName } from '../lab/schema.js';
import type { Route } from './route.js';

export interface TestbedChoice {
  readonly config?: string | undefined;
  /** A cluster of this many hosts (the demo's, lab/cluster-default.ts). */
  readonly hosts?: number | undefined;
  readonly prefix?: string | undefined;
  readonly engine?: EngineName | undefined;
}

export async function openTestbed(route: Route, o: TestbedChoice): Promise<Testbed> {
  const { loadLab, readDescription } = await import('../lab/load.js');
  let cluster: unknown;
  let source: string | undefined;
  if (o.hosts !== undefined) {
    const { demoClusterDescription } = await import('../lab/cluster-default.js');
    cluster = demoClusterDescription(o.hosts);
    source = `--hosts ${o.hosts}`;
  } else if (o.config !== undefined) {
    const raw = await readDescription(o.config);
    const { isClusterDescription } = await import('../lab/cluster-schema.js');
    if (isClusterDescription(raw)) {
      cluster = raw;
      source = `lab file ${o.config}`;
    }
  }
  if (cluster !== undefined) {
    const [{ resolveCluster }, { clusterBed }] = await Promise.all([
      import('../lab/cluster-resolve.js'),
      import('../experiment/cluster-bed.js'),
    ]);
    const lab = resolveCluster(cluster, { prefix: o.prefix, engine: o.engine, source });
    return clusterBed({ stateDir: route.stateDir, runner: new ProcessRunner() }, lab);
  }
  const { singleHostBed } = await import('../experiment/testbed.js');
  const lab = await loadLab(o.config, { prefix: o.prefix, engine: o.engine });
  return singleHostBed(await route.controller(), lab);
}
