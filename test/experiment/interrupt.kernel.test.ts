// Ctrl-C as a terminal sends it (SIGINT to the whole process group) at points spread over a demo
// and an experiment: exit 130, nothing left in the kernel or the state directory, and a results
// directory marked interrupted whenever traffic had started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CLI,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

interface Point {
  readonly name: string;
  readonly args: readonly string[];
  /** Progress text on stderr after which Ctrl-C is pressed. */
  readonly after: string;
  /** Whether traffic had started by then (a results directory must exist). */
  readonly results: boolean;
}

// A light ping rate keeps each run short; the interrupt paths are the same as at flood rate.
const DEMO = ['demo', '--swaps', '40', '--ping-interval', '0.001'];
const EXPERIMENT = [
  'experiment',
  '--traffic',
  'ping,udp,tcp',
  '--swaps',
  '40',
  '--interval',
  '0.001',
  '--rate',
  '2000',
];

const POINTS: readonly Point[] = [
  { name: 'demo: building the lab', args: DEMO, after: 'building lab', results: false },
  { name: 'demo: warm-up', args: DEMO, after: 'warm-up:', results: true },
  { name: 'demo: mid-swaps', args: DEMO, after: 'swap 1/', results: true },
  { name: 'demo: stopping traffic', args: DEMO, after: 'stopping traffic', results: true },
  { name: 'demo: the TCP observation', args: DEMO, after: 'TCP: ncat client', results: true },
  { name: 'demo: analysis', args: DEMO, after: 'analysing', results: true },
  { name: 'experiment: building the lab', args: EXPERIMENT, after: 'building lab', results: false },
  { name: 'experiment: warm-up', args: EXPERIMENT, after: 'warm-up:', results: true },
  { name: 'experiment: mid-swaps', args: EXPERIMENT, after: 'swap 1/', results: true },
  {
    name: 'experiment: the report',
    args: EXPERIMENT,
    after: 'rendering the report',
    results: true,
  },
];

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly pressed: boolean;
  /** Network namespace inodes of the lab seen while it was up. */
  readonly netnsInodes: ReadonlySet<string>;
}

/**
 * Runs the CLI as the leader of its own process group (as a shell runs a foreground job) and,
 * once `after` shows on stderr, sends SIGINT to the whole group, as a terminal's Ctrl-C does.
 */
function runAndInterrupt(
  args: readonly string[],
  after: string,
  prefix: string,
  stateDir: string,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--prefix', prefix], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
    });
    let stdout = '';
    let stderr = '';
    let pressed = false;
    const netnsInodes = new Set<string>();
    const noteNamespaces = async () => {
      for (const ns of await namespacesWith(prefix)) {
        const s = await stat(join('/run/netns', ns)).catch(() => undefined);
        if (s) netnsInodes.add(`net:[${s.ino}]`);
      }
    };
    // The lab's namespaces, noted while they exist (they are gone after the teardown).
    const watcher = setInterval(() => void noteNamespaces(), 100);
    const killer = setTimeout(() => {
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch {}
    }, 180_000);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (pressed || !stderr.includes(after)) return;
      pressed = true;
      void noteNamespaces().finally(() => {
        try {
          process.kill(-(child.pid ?? 0), 'SIGINT');
        } catch {}
      });
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      clearInterval(watcher);
      resolve({ code, signal, stderr, stdout, pressed, netnsInodes });
    });
  });
}

/**
 * Processes (PID and command line) still inside one of the given network namespaces. An inode of
 * a namespace that was removed can be given to a new one: one that is named in /run/netns now is
 * another lab's (the run's own are gone, which the caller checks), and its processes are not ours.
 */
async function processesIn(inodes: ReadonlySet<string>): Promise<string[]> {
  const named = new Set<string>();
  for (const ns of await readdir('/run/netns').catch(() => [] as string[])) {
    const s = await stat(join('/run/netns', ns)).catch(() => undefined);
    if (s) named.add(`net:[${s.ino}]`);
  }
  const found: string[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ns = await readlink(`/proc/${name}/ns/net`).catch(() => undefined);
    if (!ns || !inodes.has(ns) || named.has(ns)) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    found.push(`${name}: ${argv.split('\0').join(' ').trim()} [${stat.trim()}]`);
  }
  return found;
}

describe('Ctrl-C from a terminal during a demo or an experiment', () => {
  for (const point of POINTS) {
    it(`${point.name}: exit 130, nothing left, results ${point.results ? 'marked interrupted' : 'not written'}`, async () => {
      const prefix = uniquePrefix();
      const stateDir = await tempStateDir();
      const out = join(stateDir, 'results');
      try {
        const r = await runAndInterrupt(
          [...point.args, '--out', out],
          point.after,
          prefix,
          stateDir,
        );
        assert.ok(r.pressed, `'${point.after}' never showed: ${r.stderr}`);
        assert.equal(r.code, 130, `exit ${r.code} ${r.signal}: ${r.stderr.slice(-2_000)}`);
        assert.doesNotMatch(r.stderr, /internal error|Error: /, r.stderr);
        assert.deepEqual(await namespacesWith(prefix), [], 'no namespace left');
        assert.ok(r.netnsInodes.size > 0, 'the lab was seen while it was up');
        assert.deepEqual(await processesIn(r.netnsInodes), [], 'no process left in the lab');
        const left = (await readdir(stateDir)).filter((f) => f !== 'results');
        assert.deepEqual(left, [], 'the state directory holds nothing of the lab');
        if (point.results) {
          const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as {
            verdict: unknown;
          };
          assert.match(JSON.stringify(results.verdict), /interrupted/);
          assert.ok(existsSync(join(out, 'report.html')), 'the report was written');
          assert.match(r.stdout, /interrupted/, 'the printed verdict says so');
        } else {
          assert.equal(existsSync(out), false, 'no results directory before the first packet');
          assert.match(r.stderr, /^flowmig: interrupted .*(torn down|rolled back)/m);
        }
      } finally {
        await removeNamespacesWith(prefix);
        await rm(stateDir, { recursive: true, force: true });
      }
    });
  }
});
