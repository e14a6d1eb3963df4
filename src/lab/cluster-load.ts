// Reads a cluster lab file (YAML or JSON) and resolves it.
import type { ClusterLab } from './cluster-model.js';
import { resolveCluster } from './cluster-resolve.js';
import { readDescription } from './load.js';
import type { ResolveOptions } from './resolve.js';

export async function loadCluster(
  path: string,
  options: Omit<ResolveOptions, 'source'> = {},
): Promise<ClusterLab> {
  return resolveCluster(await readDescription(path), { ...options, source: `lab file ${path}` });
}
