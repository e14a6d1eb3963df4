// A cluster lab stood up for the host daemon's tests, piece by piece as `flowmig up` does it: the
// fabric and hosts (planClusterUp), empty translator tables, the 3 etcd members in their host
// namespaces, the cluster state file, one host daemon per host; then the lab's flows loaded.
// Everything is stopped and removed after `fn`, also when it fails.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lateTable } from '../../src/engines/late.js';
import { engineFor } from '../../src/engines/registry.js';
import { FAST_TIMING } from '../../src/etcd/member.js';
import {
  findMembers,
  type RunningMember,
  startMember,
  stopMember,
} from '../../src/etcd/member-process.js';
import { execute } from '../../src/exec/execute.js';
import { parsePingSummary } from '../../src/experiment/ping.js';
import { Background } from '../../src/experiment/process.js';
import { HostdClient } from '../../src/hostd-api/client.js';
import {
  HOSTD_MARKER,
  type HostdChange,
  type HostdRequestBody,
  type HostdStatus,
  hostdPaths,
} from '../../src/hostd-api/protocol.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import type { ClusterHost, ClusterLab } from '../../src/lab/cluster-model.js';
import { readLines } from '../../src/metrics/lines.js';
import { scanPing, seqUnwrapper } from '../../src/metrics/ping.js';
import { planClusterDown, planClusterUp } from '../../src/plan/fabric.js';
import { findByMarker } from '../../src/procs/find.js';
import { startManaged, stopProcess } from '../../src/procs/managed.js';
import { withConnection } from '../../src/rpc/client.js';
import {
  namespacesWith,
  ROOT,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

export const HOSTD_MAIN = join(ROOT, 'dist', 'src', 'hostd', 'main.js');

export interface TestCluster {
  readonly cluster: ClusterLab;
  readonly stateDir: string;
  /** One request to a host's daemon. */
  ask<T = unknown>(host: string, body: HostdRequestBody, timeoutMs?: number): Promise<T>;
  /** Starts (or restarts) a host's daemon; resolves once it answers. */
  startHost(host: string): Promise<number>;
  /** The PID of a host's daemon. */
  pidOf(host: string): number | undefined;
  /**
   * Until the host's daemon caught up with the table (it applied a revision, or `revision` when
   * given: a host cut off does not know what it missed); its status then.
   */
  caughtUp(host: string, timeoutMs?: number, revision?: number): Promise<HostdStatus>;
  /** SIGKILLs an etcd member (`etcd1`..`etcd3`). */
  killEtcd(name: string): void;
  /** Starts a member again on its data; resolves once it serves (needs a quorum to form). */
  startEtcd(name: string): Promise<void>;
  /**
   * Cuts a host off the fabric (`up` false) or joins it again: its bridge port (`fab-<T>`, in the
   * fabric's namespace) set down or up. Frames to and from the host are dropped with no RST and no
   * change inside the host's namespaces (addresses and routes stay), as a pulled cable would.
   */
  fabricLink(host: string, up: boolean): Promise<void>;
}

export function hostByName(cluster: ClusterLab, name: string): ClusterHost {
  const h = cluster.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name}`);
  return h;
}

export async function withCluster(
  file: string,
  fn: (t: TestCluster) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const cluster = await loadCluster(file, { prefix });
  const members = new Map<string, RunningMember>();
  const hostds = new Map<string, number>();
  const ask = <T>(host: string, body: HostdRequestBody, timeoutMs = 30_000) =>
    withConnection(
      () => HostdClient.connect(hostdPaths(stateDir, cluster.id, host).socket, 2_000),
      (c) => c.request<T>(body, timeoutMs),
    );
  const startHost = async (name: string) => {
    const h = hostByName(cluster, name);
    const { pid } = await startManaged({
      argv: [
        process.execPath,
        HOSTD_MAIN,
        HOSTD_MARKER,
        cluster.id,
        '--host',
        h.name,
        '--state-dir',
        stateDir,
      ],
      netns: h.translator.netns,
      logFile: hostdPaths(stateDir, cluster.id, h.name).log,
      markers: [HOSTD_MARKER, cluster.id],
      probe: () => ask(h.name, { verb: 'hello' }, 1_000),
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    hostds.set(name, pid);
    return pid;
  };
  const peers = cluster.etcd.members.map((m) => ({ name: m.name, peerUrl: m.peerUrl }));
  /** Starts (or starts again, on its data) an etcd member; resolves once it serves. */
  const startEtcd = async (name: string) => {
    const m = cluster.etcd.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name}`);
    const running = await startMember(
      {
        name: m.name,
        dir: join(stateDir, `${cluster.id}.etcd`, m.name),
        peerUrl: m.peerUrl,
        clientUrls: [m.clientUrl, `http://127.0.0.1:${m.clientPort}`],
        cluster: peers,
        state: 'new',
        token: cluster.id,
        netns: m.netns,
        timing: FAST_TIMING,
      },
      { runner, timeoutMs: 20_000 },
    );
    members.set(name, running);
  };
  const killEtcd = (name: string) => {
    const r = members.get(name);
    if (!r) throw new Error(`etcd member ${name} is not running`);
    process.kill(r.pid, 'SIGKILL');
    members.delete(name);
  };
  try {
    await execute(runner, planClusterUp(cluster));
    const engine = engineFor(cluster.engine);
    for (const h of cluster.hosts)
      await execute(runner, [
        engine.install(h.translator.netns, []),
        lateTable.install(h.translator.netns, []),
      ]);
    await writeFile(
      join(stateDir, `${cluster.id}.cluster.json`),
      JSON.stringify({ kind: 'cluster', id: cluster.id, prefix, description: cluster.description }),
      { mode: 0o600 },
    );
    await Promise.all(cluster.etcd.members.map((m) => startEtcd(m.name)));
    for (const h of cluster.hosts) await startHost(h.name);
    const first = cluster.hosts[0]?.name ?? '';
    await ask<HostdChange>(first, { verb: 'load', waitMs: 10_000 });
    const caughtUp = async (host: string, timeoutMs = 10_000, revision = 1) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await ask<HostdStatus>(host, { verb: 'status' });
        if (s.applied >= revision && s.lag === 0) return s;
        if (Date.now() > deadline)
          throw new Error(`${host} did not catch up: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await fn({
        cluster,
        stateDir,
        ask,
        startHost,
        pidOf: (h) => hostds.get(h),
        caughtUp,
        killEtcd,
        startEtcd,
        fabricLink: async (host, up) => {
          const port = hostByName(cluster, host).bridgePort;
          await runner.run(['ip', 'link', 'set', port, up ? 'up' : 'down'], {
            netns: cluster.fabric.netns,
          });
        },
      });
    } catch (error) {
      // What the host daemons said, with the failure (their logs go with the state directory).
      for (const h of cluster.hosts) {
        const log = await readFile(hostdPaths(stateDir, cluster.id, h.name).log, 'utf8').catch(
          () => '',
        );
        process.stderr.write(
          `--- ${h.name}'s host daemon log (last lines)\n${log.split('\n').slice(-15).join('\n')}\n`,
        );
      }
      throw error;
    }
  } finally {
    for (const pid of hostds.values()) await stopProcess(pid, 2_000).catch(() => {});
    for (const m of members.values()) await stopMember(m).catch(() => {});
    await execute(runner, planClusterDown(cluster)).catch(() => {});
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
  // Nothing of the lab is left: no namespace, no host daemon, no etcd member.
  assert.deepEqual(await namespacesWith(prefix), []);
  assert.deepEqual(await findByMarker(HOSTD_MARKER, (x) => x === cluster.id), []);
  assert.deepEqual(await findMembers(cluster.id), []);
}

/** What a flood ping saw: its summary, and the requests (numbered from 1) that got no reply. */
export interface Pinged {
  readonly sent: number;
  readonly received: number;
  readonly errors: number;
  readonly unanswered: readonly number[];
}

/**
 * ping from `netns` to `address`: by default -i 0 (as fast as replies come, which keeps both CPUs
 * busy), or every `interval` seconds. Its line per reply goes to a file of its own, read when it
 * is stopped for the requests that got no reply (removed afterwards).
 */
export async function floodPing(
  netns: string,
  address = 'fe00::1',
  interval = '0',
): Promise<{ stop(): Promise<Pinged> }> {
  const dir = await mkdtemp(join(tmpdir(), 'flowmig-flood-'));
  const file = join(dir, 'ping.txt');
  const ping = Background.start(['ping', '-n', '-i', interval, address], {
    netns,
    stdoutFile: file,
  });
  await new Promise((r) => setTimeout(r, 300));
  if (!ping.running) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`ping did not start: ${ping.stderr}`);
  }
  return {
    async stop() {
      try {
        await ping.stop('SIGINT');
        return await readFlood(file);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The summary at the end of a ping's output file, and which requests it saw no reply to. */
async function readFlood(file: string): Promise<Pinged> {
  const { size } = await stat(file);
  const tail = Buffer.alloc(Math.min(size, 2_048));
  const fd = await open(file);
  try {
    await fd.read(tail, 0, tail.length, size - tail.length);
  } finally {
    await fd.close();
  }
  const summary = parsePingSummary(tail.toString('utf8'));
  if (!summary) throw new Error(`no ping summary: ${tail.toString('utf8').slice(-300)}`);
  const unwrap = seqUnwrapper();
  const answered = new Uint8Array(summary.transmitted + 1);
  await scanPing(readLines(createReadStream(file)), (line) => {
    if (line.kind === 'reply' && !line.dup) answered[unwrap(line.seq)] = 1;
  });
  const unanswered: number[] = [];
  for (let seq = 1; seq <= summary.transmitted; seq++) if (!answered[seq]) unanswered.push(seq);
  return {
    sent: summary.transmitted,
    received: summary.received,
    errors: summary.errors,
    unanswered,
  };
}

/**
 * A flood ping's promise: no error, every request answered. The one exception is the last request
 * sent, when its reply was still on its way at the moment ping was stopped (ping counts it as
 * lost; it is not a loss of the migration). Says how many were sent.
 */
export function assertNoneLost(pinged: Pinged, say: (line: string) => void): void {
  assert.equal(pinged.errors, 0);
  const lost = pinged.unanswered.filter((seq) => seq !== pinged.sent);
  assert.deepEqual(
    lost,
    [],
    `lost ${lost.length} of ${pinged.sent}: icmp_seq ${lost.slice(0, 20).join(', ')} (unwrapped)`,
  );
  assert.equal(pinged.received, pinged.sent - pinged.unanswered.length, JSON.stringify(pinged));
  const inFlight =
    pinged.unanswered.length > 0 ? ' (the last request was in flight at the stop)' : '';
  say(`${pinged.sent} pings, 0 lost${inFlight}`);
}

/**
 * Asks `check` every 50 ms until it holds; the ms it took. Throws naming `what` (and the last
 * failure of `check`, if it threw) after `timeoutMs`.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  let last = '';
  for (;;) {
    try {
      if (await check()) return performance.now() - started;
      last = '';
    } catch (error) {
      last = `: ${(error as Error).message}`;
    }
    if (performance.now() - started > timeoutMs)
      throw new Error(`${what} not within ${timeoutMs} ms${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
