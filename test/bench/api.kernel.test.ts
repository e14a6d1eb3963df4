// flowmig bench api runs end to end on a small cell set: every cell and the in-process baseline
// measured, JSON as documented, every lab gone after (also after Ctrl-C). No figure is asserted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { ApiBenchResult } from '../../src/bench/api.js';
import { findAgentsWhere } from '../../src/control/agent-process.js';
import { findDaemonsWhere } from '../../src/control/daemon-process.js';
import { CLI, cli, namespacesWith, runner, scratch } from '../kernel-support/lab.js';

/** What a run may leave of its labs: namespaces, daemons, agents, state files. */
async function leftOver(prefix: string, stateDir: string) {
  return {
    namespaces: await namespacesWith(prefix),
    daemons: await findDaemonsWhere((id) => id.startsWith(prefix)),
    agents: await findAgentsWhere((id) => id.startsWith(prefix)),
    files: (await readdir(stateDir)).filter((f) => f.startsWith(prefix)),
  };
}

const NOTHING = { namespaces: [], daemons: [], agents: [], files: [] };

describe('bench api (smoke: 20 flows, 1 and 4 clients, 50 requests)', () => {
  it('--json: both cells, the in-process baseline, ratios and targets; every lab gone', async () => {
    await scratch(async (prefix, stateDir) => {
      const r = await cli(
        [
          'bench',
          'api',
          '--flows',
          '20',
          '--clients',
          '1,4',
          '--requests',
          '50',
          '--prefix',
          prefix,
          '--json',
        ],
        { stateDir, timeoutMs: 300_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as ApiBenchResult;
      assert.match(out.entry, /bin\/flowmig\.js$/);
      assert.deepEqual(out.labs, [`${prefix}iapi20`, `${prefix}api20`]);
      assert.ok(Date.parse(out.endedAt) >= Date.parse(out.startedAt));
      assert.equal(out.load.atStart.length, 3);
      assert.equal(out.load.atEnd.length, 3);
      assert.ok(out.cpus >= 1);
      assert.deepEqual(
        out.cells.map((c) => [c.flows, c.clients]),
        [
          [20, 1],
          [20, 4],
        ],
      );
      for (const c of out.cells) {
        const what = JSON.stringify(c);
        assert.equal(c.requests, 50, what);
        assert.equal(c.failed, 0, what);
        assert.equal(c.capped, false, what);
        assert.ok(c.migrations_per_s > 0 && c.seconds > 0, what);
        assert.ok(c.p50_ms > 0 && c.p99_ms >= c.p50_ms && c.max_ms >= c.p99_ms, what);
        assert.ok(c.p50_vs_inprocess !== null && c.p50_vs_inprocess > 0, what);
        assert.ok(c.rate_vs_inprocess !== null && c.rate_vs_inprocess > 0, what);
        // A daemon that batches says how: every migration of the cell is in one of its batches.
        if (c.batches !== null) {
          const counted = Object.values(c.batches.sizes).reduce((a, b) => a + b, 0);
          assert.equal(counted, c.batches.batches, what);
          assert.ok(c.batches.batches >= 1 && c.batches.batches <= c.requests, what);
        }
      }
      assert.equal(out.baseline.length, 1);
      const base = out.baseline[0];
      assert.ok(base);
      assert.equal(base.flows, 20);
      assert.equal(base.requests, 50);
      assert.ok(base.p50_ms > 0 && base.p99_ms >= base.p50_ms && base.apply_p50_ms > 0);
      assert.deepEqual(
        out.targets.map((t) => t.name),
        ['1 client at 20 flows: p50 ms', '1 client at 20 flows: p50 / in-process p50'],
      );
      for (const t of out.targets)
        assert.equal(t.met, t.kind === 'max' ? t.value <= t.limit : t.value >= t.limit);
      assert.deepEqual(await leftOver(prefix, stateDir), NOTHING);
    });
  });

  it('Ctrl-C while clients swap: exit 130, every lab torn down', async () => {
    await scratch(async (prefix, stateDir) => {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
        (resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              CLI,
              'bench',
              'api',
              '--flows',
              '20',
              '--clients',
              '1',
              '--requests',
              '1000000',
              '--seconds',
              '5',
              '--prefix',
              prefix,
            ],
            {
              detached: true,
              stdio: ['ignore', 'ignore', 'pipe'],
              env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
            },
          );
          let stderr = '';
          child.stderr?.on('data', (b: Buffer) => {
            stderr += b.toString();
          });
          const killer = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 240_000);
          // Each phase stops at 5 s: the in-process swaps, then the daemon's lab is built and its
          // client swaps for 5 s. A second into that: Ctrl-C, to the whole process group.
          const poll = setInterval(async () => {
            if (!(await readdir(stateDir)).includes(`${prefix}api20.sock`)) return;
            clearInterval(poll);
            setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGINT'), 1_000);
          }, 100);
          child.on('error', reject);
          child.on('close', (c) => {
            clearTimeout(killer);
            clearInterval(poll);
            resolve({ code: c, stderr });
          });
        },
      );
      assert.equal(code, 130, stderr);
      assert.match(stderr, /interrupted: the labs built so far are torn down/);
      assert.deepEqual(await leftOver(prefix, stateDir), NOTHING);
    });
  });

  it('a name already taken: refused before anything is built, nothing torn down', async () => {
    await scratch(async (prefix, stateDir) => {
      await runner.run(['ip', 'netns', 'add', `${prefix}iB`]);
      const r = await cli(['bench', 'api', '--flows', '20', '--prefix', prefix], { stateDir });
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`namespace ${prefix}iB exists; give the benchmark another --prefix`),
      );
      assert.deepEqual(await namespacesWith(prefix), [`${prefix}iB`]);
    });
  });
});
