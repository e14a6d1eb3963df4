// flowmig bench swap --dashboard end to end (few swaps): both kinds of phase measured, the loaded
// one with Prometheus scraping and counting migrations and the page streaming in Chromium (or,
// with --viewer stream, a process reading the event stream); and after it, or
// after a Ctrl-C in the middle of a loaded phase, nothing left: no namespace, no daemon, no
// Prometheus or Chromium, no temporary directory. No figure is asserted: they are this machine's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DashboardBenchResult } from '../../src/bench/dashboard-result.js';
import { VIEWER_MARKER } from '../../src/bench/dashboard-stream.js';
import { findByMarker } from '../../src/procs/find.js';
import { stopProcess } from '../../src/procs/managed.js';
import {
  CLI,
  cli,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

/** PIDs whose command line mentions `dir` (Prometheus's config, Chromium's profile live there). */
async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) pids.push(Number(name));
  }
  return pids;
}

/**
 * A prefix, a state dir and a TMPDIR of the run's own (the bench's Prometheus and Chromium put
 * their files under it); afterwards nothing of them is left, and a failed run's leftovers are
 * stopped (by PID) and removed.
 */
async function scratch(
  fn: (prefix: string, stateDir: string, tmp: string) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const tmp = await mkdtemp(join(tmpdir(), 'flowmig-bench-dash-test-'));
  try {
    await fn(prefix, stateDir, tmp);
    assert.deepEqual(await namespacesWith(prefix), [], 'namespaces left');
    assert.deepEqual(await processesUsing(tmp), [], 'Prometheus or Chromium left running');
    assert.deepEqual(await readdir(tmp), [], 'temporary files left');
    const state = (await readdir(stateDir)).filter((f) => f.startsWith(prefix));
    assert.deepEqual(state, [], 'the lab is still in the state');
  } finally {
    for (const pid of await processesUsing(tmp)) await stopProcess(pid, 2_000);
    await removeNamespacesWith(prefix);
    await rm(tmp, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** `bench swap --dashboard` with 1 pair of 30 swaps and --json (and `extra`): its result. */
async function smokeRun(
  prefix: string,
  stateDir: string,
  tmp: string,
  extra: readonly string[] = [],
): Promise<DashboardBenchResult> {
  const args = ['bench', 'swap', '--dashboard', ...extra, '--samples', '30', '--pairs', '1'];
  const r = await cli([...args, '--prefix', prefix, '--json'], {
    stateDir,
    env: { TMPDIR: tmp },
    timeoutMs: 240_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as DashboardBenchResult;
}

describe('bench swap --dashboard (smoke: 1 pair of 30 swaps)', () => {
  it('--json: quiet and loaded measured, scraped, streamed, ratios and verdict; nothing left', async () => {
    await scratch(async (prefix, stateDir, tmp) => {
      const out = await smokeRun(prefix, stateDir, tmp);
      assert.equal(out.lab, `${prefix}default`);
      assert.deepEqual(
        out.phases.map((p) => `${p.kind}:${p.samples}`),
        ['quiet:30', 'loaded:30'],
      );
      assert.equal(out.phases[0]?.loaded, undefined);
      for (const p of out.phases) {
        // Shares read from /proc, in range (how much a 0.4 s phase took is the machine's speed:
        // 30 swaps may fit inside one 10 ms tick of the daemon's CPU time).
        assert.ok(p.daemon_cpu_pct >= 0 && p.daemon_cpu_pct <= 200, JSON.stringify(p));
        assert.ok(p.machine_busy_pct >= 0 && p.machine_busy_pct <= 100, JSON.stringify(p));
      }
      // Quiet: neither Chromium nor Prometheus runs under the bench.
      assert.equal(out.phases[0]?.browser_cpu_pct, 0);
      assert.equal(out.phases[0]?.prometheus_cpu_pct, 0);
      assert.equal(out.loadKind, 'ping');
      const loaded = out.phases[1]?.loaded;
      assert.ok(loaded, 'the loaded phase reports what loaded it');
      assert.equal(loaded.page_connection, 'connected');
      assert.ok(loaded.page_streamed_s > 0, JSON.stringify(loaded));
      // Prometheus scraped the daemon: read back through its query API after the phase (whether
      // a scrape fell inside a 0.4 s phase is timing, not a promise). 200 swaps of warm-up and
      // the quiet phase's went through the daemon before the loaded phase began.
      assert.ok(loaded.migrations_total >= 200, JSON.stringify(loaded));
      for (const k of ['quiet', 'loaded'] as const) {
        assert.equal(out[k].samples, 30);
        assert.ok(out[k].p50_ms > 0 && out[k].p99_ms >= out[k].p50_ms, JSON.stringify(out[k]));
      }
      assert.equal(out.ratio_p50, out.loaded.p50_ms / out.quiet.p50_ms);
      assert.deepEqual(out.pair_ratios_p50, [out.ratio_p50]);
      assert.equal(out.target.limit, 1.1);
      assert.equal(out.target.met, out.ratio_p50 <= 1.1);
    });
  });

  it('--viewer stream: a plain reader of the event stream loads the phase; it is stopped after', async () => {
    await scratch(async (prefix, stateDir, tmp) => {
      const out = await smokeRun(prefix, stateDir, tmp, ['--viewer', 'stream']);
      assert.equal(out.viewer, 'stream');
      assert.deepEqual(
        out.phases.map((p) => `${p.kind}:${p.samples}`),
        ['quiet:30', 'loaded:30'],
      );
      assert.equal(out.phases[0]?.browser_cpu_pct, 0);
      const loaded = out.phases[1]?.loaded;
      assert.ok(loaded, 'the loaded phase reports what loaded it');
      assert.equal(loaded.page_connection, 'connected');
      assert.ok(loaded.page_streamed_s > 0, JSON.stringify(loaded));
      assert.ok(loaded.migrations_total >= 200, JSON.stringify(loaded));
      assert.deepEqual(await findByMarker(VIEWER_MARKER, (lab) => lab === out.lab), []);
    });
  });

  it('Ctrl-C during a loaded phase: exit 130, everything stopped and removed', async () => {
    await scratch(async (prefix, stateDir, tmp) => {
      const child = spawn(
        process.execPath,
        [
          CLI,
          'bench',
          'swap',
          '--dashboard',
          '--samples',
          '300',
          '--pairs',
          '1',
          '--prefix',
          prefix,
        ],
        {
          env: { ...process.env, FLOWMIG_STATE_DIR: stateDir, TMPDIR: tmp },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const measuring = new Promise<void>((resolve) =>
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
          if (/\(loaded\): 300 swaps/.test(stderr)) resolve();
        }),
      );
      try {
        const first = await Promise.race([
          measuring.then(() => 'measuring'),
          exited.then((c) => `exited ${c}`),
        ]);
        assert.equal(first, 'measuring', stderr);
        // Prometheus and Chromium run now, under the run's TMPDIR.
        assert.ok((await processesUsing(tmp)).length >= 2, 'Prometheus and Chromium run');
        child.kill('SIGINT');
        assert.equal(await exited, 130, stderr);
        assert.match(stderr, /interrupted: the labs built so far are torn down/);
      } finally {
        if (child.exitCode === null && child.pid !== undefined) await stopProcess(child.pid, 5_000);
      }
    });
  });
});
