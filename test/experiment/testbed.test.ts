// The testbeds' labs without root: the demo's N-host cluster resolves for every size a cluster
// may have, a cluster lab seen as one testbed lab (every host's nodes, links and translators, each
// node's host and entry translator), the swap times' names a cluster's results get, and the demo's
// --hosts range.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { hostCount } from '../../src/cli/parse.js';
import { clusterTestbedLab } from '../../src/experiment/cluster-bed.js';
import { demoClusterDescription } from '../../src/lab/cluster-default.js';
import { resolveCluster } from '../../src/lab/cluster-resolve.js';
import { CLUSTER_SWAP_TIMES, SWAP_TIMES, swapTimeNames } from '../../src/results/stats.js';

describe('the demo cluster (--hosts N)', () => {
  it('resolves for 2 to 16 hosts: A on host 1, a translator and a server on every host', () => {
    for (let n = 2; n <= 16; n++) {
      const c = resolveCluster(demoClusterDescription(n), { prefix: 'x-' });
      assert.equal(c.id, `x-hosts${n}`);
      assert.equal(c.hosts.length, n);
      assert.deepEqual(
        c.hosts.map((h) => h.nodes.map((x) => x.name)),
        Array.from({ length: n }, (_, i) => [...(i === 0 ? ['A'] : []), `T${i + 1}`, `S${i + 1}`]),
      );
      assert.deepEqual(
        c.flows.map((f) => [f.address, f.initiator, f.responder]),
        [['fe00::1', 'A', 'S1']],
      );
    }
  });

  it('--hosts takes 2 to 16', () => {
    assert.equal(hostCount('3'), 3);
    for (const bad of ['1', '17', '2.5', 'x', '-3'])
      assert.throws(() => hostCount(bad), InvalidArgumentError, bad);
  });
});

describe('a cluster lab as a testbed lab', () => {
  const cluster = resolveCluster(demoClusterDescription(3), { prefix: 'y-' });
  const lab = clusterTestbedLab(cluster);

  it('has every host nodes, links and translators', () => {
    assert.deepEqual(
      lab.nodes.map((n) => n.name),
      ['A', 'T1', 'S1', 'T2', 'S2', 'T3', 'S3'],
    );
    assert.deepEqual(
      lab.links.map((l) => [l.node, l.address.address]),
      [
        ['A', 'fc00::1'],
        ['S1', 'fc01::1'],
        ['S2', 'fc02::1'],
        ['S3', 'fc03::1'],
      ],
    );
    assert.deepEqual(
      lab.translators.map((t) => t.netns),
      ['y-T1', 'y-T2', 'y-T3'],
    );
  });

  it('knows each node host, and the translator its traffic enters by', () => {
    assert.equal(lab.hostOf.get('A'), 'h1');
    assert.equal(lab.hostOf.get('S3'), 'h3');
    assert.equal(lab.translatorOf('A').name, 'T1');
    assert.equal(lab.translatorOf('S2').name, 'T2');
    assert.throws(() => lab.translatorOf('Z'), /node Z is on no host of lab y-hosts3/);
  });

  it("results whose nodes name hosts get the cluster's swap-time names", () => {
    assert.equal(swapTimeNames({ nodes: [{ host: 'h1' }, {}] }), CLUSTER_SWAP_TIMES);
    assert.equal(swapTimeNames({ nodes: [{}, {}] }), SWAP_TIMES);
    assert.equal(CLUSTER_SWAP_TIMES.rule, 'etcd commit');
  });
});
