// A real Prometheus server scrapes a lab's daemon: GET /metrics answers on 127.0.0.1 without a
// token in text promtool accepts, the target is up, and after 20 swaps through the daemon the
// server's queries count 20 committed migrations and 20 timed ones, and no more.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JOB, PrometheusServer } from '../../src/bench/prometheus.js';
import { Flowmig } from '../../src/control/flowmig.js';
import { loadLab } from '../../src/lab/load.js';
import { cli, removeNamespacesWith, tempStateDir, uniquePrefix } from '../kernel-support/lab.js';

const SWAPS = 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `promtool check metrics` on `text`: its exit code and everything it printed. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

interface TargetsReply {
  data: { activeTargets: { scrapeUrl: string }[] };
}

describe('Prometheus scraping the daemon', () => {
  const prefix = uniquePrefix();
  let stateDir = '';
  let id = '';
  /** The daemon's listener, e.g. 127.0.0.1:41234. */
  let target = '';
  let prom: PrometheusServer | undefined;

  /** The one value of an instant query (undefined: no series). */
  async function query(expr: string): Promise<number | undefined> {
    assert.ok(prom, 'Prometheus runs');
    const values = await prom.query(expr);
    assert.ok(values.length <= 1, `${expr}: ${values.length} series`);
    return values[0];
  }

  /** `f`'s value once `ok` holds of it; fails with the last value at the deadline. */
  async function until<T>(what: string, ms: number, f: () => Promise<T>, ok: (v: T) => boolean) {
    let last: T | undefined;
    for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(200)) {
      last = await f();
      if (ok(last)) return last;
    }
    return assert.fail(`${what}: not within ${ms} ms; last: ${JSON.stringify(last)}`);
  }

  before(async () => {
    stateDir = await tempStateDir();
    const fm = new Flowmig({ stateDir });
    try {
      const lab = await loadLab(undefined, { prefix });
      id = lab.id;
      await fm.up(lab);
    } finally {
      fm.close();
    }
    const daemon = await cli(['daemon', '--detach', '--http', '0', '--lab', id], { stateDir });
    assert.equal(daemon.code, 0, daemon.stderr);
    // The URL is in the daemon's log (it is no secret); the listener may open just after `hello`.
    const log = join(stateDir, `${id}.daemon.log`);
    for (const deadline = Date.now() + 10_000; target === '' && Date.now() < deadline; ) {
      target =
        /http API on http:\/\/(127\.0\.0\.1:\d+)\//.exec(await readFile(log, 'utf8'))?.[1] ?? '';
      if (target === '') await sleep(20);
    }
    assert.notEqual(target, '', 'the daemon logs its HTTP URL');
    prom = await PrometheusServer.start(target);
  });

  after(async () => {
    await prom?.stop();
    if (stateDir !== '' && id !== '')
      await cli(['down', '--lab', id], { stateDir }).catch(() => undefined);
    await removeNamespacesWith(prefix);
    if (stateDir !== '') await rm(stateDir, { recursive: true, force: true });
  });

  it('serves /metrics on 127.0.0.1 without a token, in text promtool accepts', async () => {
    const res = await fetch(`http://${target}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, new RegExp(`^flowmig_build_info\\{[^}]*lab="${id}"[^}]*\\} 1$`, 'm'));
    assert.match(text, /^flowmig_flows 1$/m);
    assert.match(text, /^flowmig_drift 0$/m);
    assert.deepEqual(await promtool(text), { code: 0, output: '' });
  });

  it('is scraped by Prometheus, which counts 20 swaps made through the daemon', async (t) => {
    assert.ok(prom, 'Prometheus runs');
    await prom.waitForTarget();
    const targets = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as TargetsReply;
    assert.deepEqual(
      targets.data.activeTargets.map((x) => x.scrapeUrl),
      [`http://${target}/metrics`],
    );
    const ok = 'sum(flowmig_migrations_total{result="ok"})';
    const timed = 'sum(flowmig_migration_duration_seconds_count{phase="total"})';
    assert.equal(await query(timed), 0, 'no migration before the swaps');
    assert.equal(await query(ok), undefined, 'no committed migration before the swaps');

    let at = 'C';
    for (let i = 0; i < SWAPS; i++) {
      const r = await cli(['swap', '--lab', id, '--json'], { stateDir });
      assert.equal(r.code, 0, r.stderr);
      const moved = JSON.parse(r.stdout) as { from: string; to: string };
      assert.deepEqual([moved.from, moved.to], [at, at === 'C' ? 'D' : 'C']);
      at = moved.to;
    }
    // Waiting for the next scrape (every second), not a speed target.
    const both = () => Promise.all([query(ok), query(timed)]);
    await until(
      'both counts at 20',
      15_000,
      both,
      ([a, b]) => (a ?? 0) >= SWAPS && (b ?? 0) >= SWAPS,
    );
    // Two more scrapes: each swap counted once, none again later (from the state, say).
    await sleep(2_500);
    const ours = (await (await fetch(`http://${target}/metrics`)).text())
      .split('\n')
      .filter((l) => l.startsWith('flowmig_') && !l.includes('_bucket{'));
    // The daemon's own figures in the test's log (the histograms without their buckets).
    for (const line of ours) t.diagnostic(line);
    const counted = ours.filter((l) => l.startsWith('flowmig_migrations_total'));
    assert.deepEqual(await both(), [SWAPS, SWAPS], `the daemon's counts: ${counted.join('; ')}`);
    assert.equal(await query('max(flowmig_drift)'), 0);
    assert.equal(await query(`count(up{job="${JOB}"} == 1)`), 1);
  });
});
