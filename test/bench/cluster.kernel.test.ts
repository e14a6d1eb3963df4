// flowmig bench cluster end to end, small (3 hosts, 1 flow, 20 migrations): every field of the
// JSON measured, every lab gone after (namespaces, host daemons, etcd members, files), also after
// Ctrl-C (exit 130). No figure is asserted beyond what must hold of any run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { ClusterBenchResult, MigrationStats } from '../../src/bench/cluster-result.js';
import { PHASE_NAMES } from '../../src/bench/cluster-result.js';
import { ETCD_MARKER } from '../../src/etcd/member.js';
import { HOSTD_MARKER } from '../../src/hostd-api/protocol.js';
import { findMarked } from '../../src/procs/find.js';
import { stopProcess } from '../../src/procs/managed.js';
import { CLI, cli, namespacesWith, scratch } from '../kernel-support/lab.js';

/** Host daemons and etcd members of labs with this prefix (their argv names the lab id). */
async function processesOf(prefix: string) {
  const of = async (marker: string) =>
    (await findMarked(marker)).filter((p) => p.value.startsWith(prefix)).map((p) => p.pid);
  return { hostds: await of(HOSTD_MARKER), members: await of(ETCD_MARKER) };
}

/** What a run may leave: namespaces, host daemons, etcd members, files in the state dir. */
async function leftOver(prefix: string, stateDir: string) {
  return {
    namespaces: await namespacesWith(prefix),
    ...(await processesOf(prefix)),
    files: (await readdir(stateDir)).filter((f) => f.startsWith(prefix)),
  };
}

const NOTHING = { namespaces: [], hostds: [], members: [], files: [] };

/** Whatever a failed run left is stopped by PID (found by its lab's prefix), before scratch's cleanup. */
async function stopLeft(prefix: string): Promise<void> {
  const p = await processesOf(prefix);
  for (const pid of [...p.hostds, ...p.members]) await stopProcess(pid).catch(() => {});
}

function checkMigrations(s: MigrationStats, migrations: number): void {
  const what = JSON.stringify(s);
  assert.equal(s.migrations, migrations, what);
  assert.equal(s.failed, 0, what);
  assert.ok(s.p50_ms > 0 && s.p99_ms >= s.p50_ms && s.max_ms >= s.p99_ms, what);
  // Every migration is traced on all 3 hosts (the traces keep the last 1,000 revisions).
  assert.equal(s.traced, migrations, what);
  assert.deepEqual(Object.keys(s.breakdown_p50).sort(), [...PHASE_NAMES].sort(), what);
  for (const n of PHASE_NAMES) assert.ok(Number.isFinite(s.breakdown_p50[n]), `${n}: ${what}`);
  // The phases are in order on one clock: none of them runs backwards by more than rounding.
  for (const n of ['commit', 'delivery', 'apply', 'write', 'ack'] as const)
    assert.ok(s.breakdown_p50[n] > -0.5, `${n}: ${what}`);
  assert.ok(s.breakdown_p50.commit + s.breakdown_p50.ack < s.p99_ms + 1, what);
}

describe('bench cluster (3 hosts, 1 flow, 20 migrations)', () => {
  it('--json: the cell measured whole, the baseline, ratios, targets; every lab gone', async () => {
    await scratch(async (prefix, stateDir) => {
      try {
        const r = await cli(
          [
            'bench',
            'cluster',
            '--hosts',
            '3',
            '--flows',
            '1',
            '--migrations',
            '20',
            '--prefix',
            prefix,
            '--json',
          ],
          { stateDir, timeoutMs: 300_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout) as ClusterBenchResult;
        assert.deepEqual(out.labs, [`${prefix}iapi1`, `${prefix}c3x1`]);
        assert.ok(Date.parse(out.endedAt) >= Date.parse(out.startedAt));
        assert.equal(out.load.atStart.length, 3);
        assert.ok(out.cpus >= 1);
        assert.equal(out.cells.length, 1);
        const c = out.cells[0];
        assert.ok(c);
        assert.deepEqual([c.hosts, c.flows, c.lab], [3, 1, `${prefix}c3x1`]);
        assert.ok(c.up_ms > 0);
        checkMigrations(c.idle, 20);
        assert.equal(c.idle.flood, false);
        assert.equal(c.idle.ping, null);
        assert.equal(c.flood, null);
        assert.ok(c.load && c.load.applied_ms > 0 && c.load.acked_ms >= c.load.applied_ms);
        // The restarted daemon caught up: its list applied before its hello said so.
        assert.ok(c.restart.in_sync_ms !== null && c.restart.in_sync_ms > 0, JSON.stringify(c));
        assert.ok(c.restart.status_ms >= c.restart.in_sync_ms, JSON.stringify(c));
        assert.ok(c.restart.revision > 0);
        assert.ok(c.restart.asked_ms !== null && c.restart.asked_ms <= c.restart.in_sync_ms);
        // From its log (wall clock, ms): it served before it listed (the same run's clock, ±2 ms).
        assert.ok(c.restart.serving_ms !== null && c.restart.serving_ms > 0, JSON.stringify(c));
        assert.ok(c.restart.serving_ms <= c.restart.asked_ms + 2, JSON.stringify(c));
        assert.ok(c.load.received_ms <= c.load.applied_ms && c.load.revisions >= 1);
        assert.ok(c.p50_vs_inprocess !== null && c.p50_vs_inprocess > 0);
        assert.equal(out.baseline.length, 1);
        const b = out.baseline[0];
        assert.ok(b);
        assert.equal(b.flows, 1);
        assert.equal(b.swaps, 20);
        assert.ok(b.p50_ms > 0 && b.p99_ms >= b.p50_ms && b.apply_p50_ms > 0);
        // At 3 hosts only the restart target applies (the latency and load targets are at 8).
        assert.deepEqual(
          out.targets.map((t) => t.name),
          ['restarted host daemon in sync at 3 hosts, 1 flows: ms'],
        );
        for (const t of out.targets) assert.equal(t.met, t.value !== null && t.value <= t.limit);
        assert.ok(out.notes.length > 0);
        assert.deepEqual(await leftOver(prefix, stateDir), NOTHING);
      } finally {
        await stopLeft(prefix);
      }
    });
  });

  it('Ctrl-C while it migrates: exit 130, the cluster lab torn down', async () => {
    await scratch(async (prefix, stateDir) => {
      try {
        const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>(
          (resolve, reject) => {
            const child = spawn(
              process.execPath,
              [
                CLI,
                'bench',
                'cluster',
                '--hosts',
                '3',
                '--flows',
                '1',
                '--migrations',
                '300',
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
            // Once the progress says it migrates, Ctrl-C to the whole process group.
            const poll = setInterval(() => {
              if (!/(warming \S+c3x1 up|migrating on \S+c3x1)/.test(stderr)) return;
              clearInterval(poll);
              setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGINT'), 500);
            }, 50);
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
        assert.match(stderr, new RegExp(`tearing lab ${prefix}c3x1 down`));
        assert.deepEqual(await leftOver(prefix, stateDir), NOTHING);
      } finally {
        await stopLeft(prefix);
      }
    });
  });
});
