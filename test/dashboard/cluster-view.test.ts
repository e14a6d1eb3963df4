// A cluster lab's status as the dashboard shows it, from the host daemons' answers: each host's
// lease and lag (its own word first, etcd's view of it when it does not answer), and as drift
// what keeps a host out of line; late packets are not counted there, and say so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/control/cluster/status.js';
import { clusterDrift, clusterHosts, clusterReading } from '../../src/dashboard/cluster-view.js';

const host = (name: string, status?: { leaseAlive: boolean; lag?: number; error?: string }) =>
  status
    ? { host: name, socket: `/x/${name}.sock`, answering: true, status }
    : { host: name, socket: `/x/${name}.sock`, answering: false, error: 'ECONNREFUSED' };

function status(hosts: ReturnType<typeof host>[], clusterError?: string): ClusterStatus {
  return {
    kind: 'cluster',
    id: 'c',
    prefix: '',
    engine: 'nftables',
    createdAt: '',
    stateFile: '',
    hosts,
    cluster: {
      revision: 9,
      hosts: [
        { host: 'h1', live: true, applied: 9, lag: 0 },
        { host: 'h2', live: true, applied: 7, lag: 2 },
        { host: 'h3', live: false },
      ],
    },
    ...(clusterError ? { clusterError } : {}),
    flows: [],
    members: [
      { name: 'etcd1', pid: 1, running: true },
      { name: 'etcd2', pid: 2, running: false },
    ],
  } as unknown as ClusterStatus;
}

describe('the cluster dashboard status', () => {
  it('takes each host lease and lag from its daemon, else from etcd', () => {
    const s = status([host('h1', { leaseAlive: true, lag: 0 }), host('h2'), host('h3')]);
    assert.deepEqual(clusterHosts(s), [
      { name: 'h1', lease: 'held', lag: 0 },
      { name: 'h2', lease: 'held', lag: 2 },
      { name: 'h3', lease: 'lost', lag: undefined },
    ]);
  });

  it('lists as drift each host that is not in line, and an etcd error', () => {
    const s = status(
      [
        host('h1', { leaseAlive: true, lag: 0 }),
        host('h2', { leaseAlive: true, lag: 3 }),
        host('h3', { leaseAlive: false }),
        host('h4', { leaseAlive: true, error: 'nft: busy' }),
        host('h5'),
      ],
      'no quorum',
    );
    assert.deepEqual(clusterDrift(s), [
      'h2: 3 change(s) behind',
      'h3: lease lost',
      'h4: nft: busy',
      'h5: its daemon does not answer (ECONNREFUSED)',
      'etcd: no quorum',
    ]);
  });

  it('reads as in sync with no drift, late packets not counted', () => {
    const r = clusterReading(status([host('h1', { leaseAlive: true, lag: 0 })]), {
      pid: 1,
      startedAt: '',
      changes: 0,
      queued: 0,
    });
    assert.equal(r.drift, false);
    assert.equal(r.status.late, undefined);
    assert.match(r.status.controlPath, /1 hosts, 1 of 2 etcd members running/);
  });
});
