// A cluster state as `flowmig up` writes it, for unit tests: examples/three-hosts.yaml, prefix fmu-.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterState } from '../../../src/control/cluster/state.js';
import { loadCluster } from '../../../src/lab/cluster-load.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The state of examples/three-hosts.yaml as lab `id` (`<prefix>three`). */
export async function sampleState(id = 'fmu-three'): Promise<ClusterState> {
  const prefix = id.slice(0, -'three'.length);
  const cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), { prefix });
  assert.equal(cluster.id, id);
  return {
    kind: 'cluster',
    id,
    prefix,
    description: cluster.description,
    createdAt: '2026-01-01T00:00:00.000Z',
    created: ['fmu-A', 'fmu-T1'],
    members: [{ name: 'etcd1', pid: 4242 }],
    hostds: [{ host: 'h1', pid: 4343 }],
  };
}
