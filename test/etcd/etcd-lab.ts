// Real etcd clusters on 127.0.0.1 for tests: free random ports, a private temp dir, members found
// and stopped by PID (and by their token as a safety net), the dir removed, also after a failure.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdMember, etcdUrl } from '../../src/etcd/member.js';
import {
  findMembers,
  killMember,
  type RunningMember,
  startMember,
  stopMember,
  waitHealthy,
} from '../../src/etcd/member-process.js';

/** A port nothing listens on right now (the kernel's pick; a test binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export class LoopbackCluster {
  readonly running: (RunningMember | undefined)[];

  private constructor(
    readonly dir: string,
    readonly token: string,
    readonly members: readonly EtcdMember[],
  ) {
    this.running = members.map(() => undefined);
  }

  /** Client URLs of every member, in member order. */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrls[0] ?? '');
  }

  /** Starts `size` members (all at once: a new cluster needs a quorum before it is healthy). */
  static async start(size: number): Promise<LoopbackCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'flowmig-etcd-'));
    const token = `fmtetcd-${randomBytes(3).toString('hex')}`;
    const ports: number[] = [];
    while (ports.length < size * 2) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const peers = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      peerUrl: etcdUrl('127.0.0.1', ports[2 * i] ?? 0),
    }));
    const members = peers.map(
      (p, i): EtcdMember => ({
        ...p,
        dir,
        clientUrls: [etcdUrl('127.0.0.1', ports[2 * i + 1] ?? 0)],
        cluster: peers,
        state: 'new',
        token,
      }),
    );
    const cluster = new LoopbackCluster(dir, token, members);
    try {
      await Promise.all(members.map((_, i) => cluster.startMember(i)));
      await waitHealthy(cluster.endpoints, { timeoutMs: 20_000 });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Starts (or restarts, on its data dir) member `i` and waits until it serves. */
  async startMember(i: number): Promise<RunningMember> {
    const m = this.members[i];
    if (m === undefined) throw new Error(`no member ${i}`);
    const r = await startMember(m, {
      timeoutMs: 15_000,
      // On record, so stop() finds it even when the wait fails.
      record: async (pid) => {
        this.running[i] = { pid, name: m.name, token: m.token, log: '' };
      },
    });
    this.running[i] = r;
    return r;
  }

  /** SIGKILL member `i`, as a crash would. */
  async kill(i: number): Promise<void> {
    const r = this.running[i];
    if (r !== undefined) await killMember(r);
    this.running[i] = undefined;
  }

  /** Stops every member this cluster started (by PID), any left with its token, removes the dir. */
  async stop(): Promise<void> {
    await Promise.all(this.running.map((r) => (r === undefined ? undefined : stopMember(r))));
    this.running.fill(undefined);
    for (const r of await findMembers(this.token)) await stopMember(r);
    await rm(this.dir, { recursive: true, force: true });
  }
}
