// The demo and the experiment runner on cluster labs, through the CLI: `flowmig demo --hosts 3`
// pings fe00::1 at -i 0.00001 from A on host 1 while the flow moves among the servers of hosts
// 1, 2 and 3; `flowmig experiment -c examples/three-hosts.yaml` runs UDP across host-to-host
// swaps. Both end with the cluster gone: no namespace, host daemon, etcd member or file of it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DemoResult } from '../../src/experiment/demo.js';
import type { ExperimentResults } from '../../src/results/schema.js';
import { assertClusterGone } from '../kernel-support/cluster-gone.js';
import {
  cli,
  ROOT,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

/** Runs `fn` with a prefix and a state dir; the cluster `id` is taken down whatever happens. */
async function withScratch(
  id: (prefix: string) => string,
  fn: (prefix: string, stateDir: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const lab = id(prefix);
  try {
    await fn(prefix, stateDir);
    // The run tore the cluster down itself: nothing of it is left.
    await assertClusterGone(prefix, lab, stateDir);
  } finally {
    if (existsSync(stateDir)) await cli(['down', '--lab', lab], { stateDir }).catch(() => {});
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

describe('measured runs on cluster labs', () => {
  it('demo --hosts 3: ping -i 0.00001 from host 1 across host-to-host swaps, 0 lost, every server reached', async () => {
    await withScratch(
      (p) => `${p}hosts3`,
      async (prefix, stateDir) => {
        const out = join(stateDir, 'out');
        const r = await cli(
          ['demo', '--hosts', '3', '--prefix', prefix, '--swaps', '60', '--json', '--out', out],
          { stateDir, timeoutMs: 300_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        const result = JSON.parse(r.stdout) as DemoResult;
        const s = result.ping.summary;
        assert.equal(result.swaps.done, 60);
        assert.equal(s.errors, 0, 'ping reported no error');
        assert.deepEqual(result.ping.errorLines, []);
        assert.ok(s.transmitted > 10_000, `a high rate (${s.transmitted} sent)`);
        // The late-reply rule on the ingress translator: not one reply lost across hosts.
        assert.equal(s.received, s.transmitted, `lost ${s.transmitted - s.received}`);
        for (const server of ['S1', 'S2', 'S3'])
          assert.ok((result.reached[server] ?? 0) > 0, `${server} received requests`);
        const reached = Object.values(result.reached).reduce((a, b) => a + b, 0);
        assert.equal(reached, s.transmitted, 'every request reached a server');
        assert.equal(result.swapTimeNames.rule, 'etcd commit');
        assert.equal(result.tcp?.clientTerminated, true, 'TCP (policy reset) breaks at a swap');
        assert.equal(result.verdict.ok, true, result.verdict.lines.join('; '));
        assert.ok(existsSync(result.report.html), 'the report was written');
      },
    );
  });

  it('experiment on a three-host lab file: UDP across swaps, per-host packet series, nodes with their hosts', async () => {
    await withScratch(
      (p) => `${p}three`,
      async (prefix, stateDir) => {
        const out = join(stateDir, 'out');
        const file = join(ROOT, 'examples', 'three-hosts.yaml');
        const args = ['experiment', '-c', file, '--prefix', prefix, '--traffic', 'udp'];
        const r = await cli([...args, '--rate', '5000', '--swaps', '30', '--json', '--out', out], {
          stateDir,
          timeoutMs: 300_000,
        });
        assert.equal(r.code, 0, r.stderr);
        const results = JSON.parse(r.stdout) as ExperimentResults & { dir: string };
        assert.equal(results.verdict.ok, true, results.verdict.lines.join('; '));
        assert.equal(results.swaps.length, 30);
        const udp = results.traffic.udp;
        assert.ok(udp, 'UDP figures');
        assert.equal(udp.lost, 0, `UDP lost ${udp.lost}`);
        // Counters of every server and every host's translator.
        assert.deepEqual(Object.keys(results.series.nodes).sort(), [
          'S1',
          'S2',
          'S3',
          'T1',
          'T2',
          'T3',
        ]);
        const hosts = Object.fromEntries(results.lab.nodes.map((n) => [n.name, n.host]));
        assert.deepEqual(hosts, {
          A: 'h1',
          T1: 'h1',
          S1: 'h1',
          T2: 'h2',
          S2: 'h2',
          T3: 'h3',
          S3: 'h3',
        });
        assert.match(results.lab.controlPath, /^cluster: /);
        // Every swap moved the flow to the next host's server, in file order.
        const order = ['S1', 'S2', 'S3'];
        for (const sw of results.swaps)
          assert.equal(sw.to, order[(order.indexOf(sw.from) + 1) % 3], `swap ${sw.index}`);
        assert.ok(existsSync(join(out, 'report.html')));
      },
    );
  });

  it('tcp: migrate across hosts: a TCP stream moves with the flow between runtimes on three hosts, bytes intact', async () => {
    await withScratch(
      (p) => `${p}three`,
      async (prefix, stateDir) => {
        const out = join(stateDir, 'out');
        const three = await readFile(join(ROOT, 'examples', 'three-hosts.yaml'), 'utf8');
        const flow = '{ address: fe00::1, initiator: A, responder: S1 }';
        assert.ok(three.includes(flow));
        const file = join(stateDir, 'three-tcp.yaml');
        await writeFile(file, three.replace(flow, flow.replace(' }', ', tcp: migrate }')));
        const r = await cli(
          [
            ...['experiment', '-c', file, '--prefix', prefix, '--traffic', 'tcp'],
            ...['--swaps', '6', '--swap-every', '300', '--json', '--out', out],
          ],
          { stateDir, timeoutMs: 300_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        const results = JSON.parse(r.stdout) as ExperimentResults;
        assert.equal(results.verdict.ok, true, results.verdict.lines.join('; '));
        const tcp = results.traffic.tcp;
        assert.ok(tcp, 'TCP figures');
        assert.ok(tcp.bytesSent > 0);
        assert.equal(tcp.bytesIntact, tcp.bytesSent, 'every byte came back intact');
        assert.equal(tcp.ended.kind, 'open', 'the connection outlived 6 moves across hosts');
        // It was served on every host in turn (S1 → S2 → S3 → S1 ...).
        assert.deepEqual(
          results.swaps.map((s) => s.to),
          ['S2', 'S3', 'S1', 'S2', 'S3', 'S1'],
        );
      },
    );
  });
});
