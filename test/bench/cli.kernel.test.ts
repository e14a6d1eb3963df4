// flowmig bench cli runs end to end (few runs): every row measured, JSON as documented, labs gone.
// No figure is asserted: they are this machine's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CliBenchResult } from '../../src/bench/cli.js';
import { cli, namespacesWith, scratch } from '../kernel-support/lab.js';

describe('bench cli (smoke: 3 runs)', () => {
  it('--json: node, --version, status, swap and the reference, with ratios; both labs gone', async () => {
    await scratch(async (prefix, stateDir) => {
      const r = await cli(['bench', 'cli', '--runs', '3', '--prefix', prefix, '--json'], {
        stateDir,
        timeoutMs: 300_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as CliBenchResult;
      assert.equal(out.runs, 3);
      assert.match(out.entry, /bin\/flowmig\.js$/);
      for (const state of [out.bundle.atStart, out.bundle.atEnd])
        assert.ok(['fresh', 'stale', 'none'].includes(state), state);
      assert.deepEqual(out.labs, { flowmig: `${prefix}default`, reference: `${prefix}rdefault` });
      assert.deepEqual(
        out.rows.map((x) => x.name),
        ['node -e 0', 'flowmig --version', 'flowmig status', 'flowmig swap', 'reference swap'],
      );
      for (const row of out.rows) {
        assert.equal(row.runs, 3, row.name);
        assert.ok(row.p50_ms > 0 && row.p95_ms >= row.p50_ms, JSON.stringify(row));
        assert.ok(row.vs_node > 0 && row.vs_reference > 0, JSON.stringify(row));
        assert.ok(row.argv.length >= 1, row.name);
      }
      assert.equal(out.rows[0]?.vs_node, 1);
      assert.equal(out.rows[4]?.vs_reference, 1);
      // The reference's swap is its three processes, in the translator of its own lab.
      assert.deepEqual(
        out.rows[4]?.argv.map((argv) => [
          ...argv.slice(0, 4),
          ...argv.slice(4).filter((w) => /^(ip6tables|conntrack|-[ADF])$/.test(w)),
        ]),
        [
          ['ip6tables', '-D'],
          ['ip6tables', '-A'],
          ['conntrack', '-F'],
        ].map((words) => ['ip', 'netns', 'exec', `${prefix}rB`, ...words]),
      );
      assert.deepEqual(
        out.targets.map((t) => [t.name, t.limit]),
        [
          ['flowmig swap', 1.5],
          ['flowmig --version', 1.3],
        ],
      );
      for (const t of out.targets) assert.equal(t.met, t.ratio <= t.limit);
      assert.deepEqual(await namespacesWith(prefix), []);
    });
  });

  it('names already taken: refused before anything is built, nothing torn down', async () => {
    await scratch(async (prefix, stateDir) => {
      const up = await cli(['up', '--detach', '--prefix', `${prefix}r`, '--engine', 'iptables'], {
        stateDir,
      });
      assert.equal(up.code, 0, up.stderr);
      const r = await cli(['bench', 'cli', '--runs', '1', '--prefix', prefix], { stateDir });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /exists; give the benchmark another --prefix/);
      assert.deepEqual(
        await namespacesWith(prefix),
        ['A', 'B', 'C', 'D'].map((n) => `${prefix}r${n}`),
      );
      const down = await cli(['down', '--lab', `${prefix}rdefault`], { stateDir });
      assert.equal(down.code, 0, down.stderr);
    });
  });
});
