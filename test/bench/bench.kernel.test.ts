// The benchmarks run end to end (small sizes): every method measured, JSON as documented, lab gone.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { DatapathRow } from '../../src/bench/datapath.js';
import type { SwapRow } from '../../src/bench/swap.js';
import {
  cli,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

async function scratch(fn: (prefix: string, stateDir: string) => Promise<void>): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  try {
    await fn(prefix, stateDir);
  } finally {
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

describe('benchmarks (smoke: small sizes)', () => {
  it('bench swap --json: every method at every N, ratios against the reference', async () => {
    await scratch(async (prefix, stateDir) => {
      const r = await cli(
        ['bench', 'swap', '--flows', '1,1000', '--samples', '20', '--prefix', prefix, '--json'],
        { stateDir, timeoutMs: 300_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { rows: SwapRow[]; load: unknown[]; bulk: unknown[] };
      const methods = [
        'nftables-programs',
        'nftables-agent',
        'nftables-inprocess',
        'nftables-agent+flood',
        'nftables-inprocess+flood',
        'iptables',
        'reference',
      ];
      for (const n of [1, 1000]) {
        for (const m of methods) {
          const row = out.rows.find((x) => x.method === m && x.flows === n);
          assert.ok(row, `${m} at ${n}`);
          assert.ok(
            row.p50_ms > 0 && row.p99_ms >= row.p50_ms,
            `${m} at ${n}: ${JSON.stringify(row)}`,
          );
          assert.ok(row.ratio_p50_vs_reference !== null && row.ratio_p50_vs_reference > 0);
          // The client pokes the flow before each sample: every fast swap deletes its entry.
          if (m.startsWith('nftables-agent') || m.startsWith('nftables-inprocess'))
            assert.ok((row.deleted_per_swap ?? 0) >= 1, `${m} at ${n}: ${JSON.stringify(row)}`);
        }
      }
      // Per N: nft programs, agent, in-process, iptables, reference.
      assert.equal(out.load.length, 10);
      assert.deepEqual(await namespacesWith(prefix), []);
    });
  });

  it('bench datapath --json: no-NAT ceiling and both engines', async () => {
    await scratch(async (prefix, stateDir) => {
      const r = await cli(
        ['bench', 'datapath', '--flows', '1', '--seconds', '1', '--prefix', prefix, '--json'],
        { stateDir, timeoutMs: 300_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout) as DatapathRow[];
      assert.deepEqual(
        rows.map((x) => [x.engine, x.flows]),
        [
          ['none', 0],
          ['nftables', 1],
          ['iptables', 1],
        ],
      );
      for (const row of rows) {
        assert.ok(row.tcp_gbps > 0 && row.rtt_avg_ms > 0, JSON.stringify(row));
      }
      assert.deepEqual(await namespacesWith(prefix), []);
    });
  });
});
