// Serves one host of a cluster lab: reads the lab from its cluster state file, answers on the
// host's socket at once, acknowledges what it applies to its peers over the fabric
// (hostd/peers.ts), registers and catches up with the table, then follows it until SIGTERM or
// SIGINT (which give its lease up, so callers stop waiting for this host at once).
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ProcessRunner } from '../exec/runner.js';
import { hostdPaths } from '../hostd-api/protocol.js';
import { resolveCluster } from '../lab/cluster-resolve.js';
import { ENGINE_NAMES } from '../lab/schema.js';
import { HostCore } from './host.js';
import { PeerAcks } from './peers.js';
import { HostServer } from './server.js';
import { hostView } from './view.js';

const log = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);

/** What the host daemon reads of the cluster state file (written by `flowmig up`). */
const clusterStateSchema = z.looseObject({
  prefix: z.string(),
  description: z.unknown(),
  name: z.string().optional(),
  engine: z.enum(ENGINE_NAMES).optional(),
});

export function clusterStatePath(stateDir: string, lab: string): string {
  return `${stateDir}/${lab}.cluster.json`;
}

export async function serveHost(lab: string, host: string, stateDir: string): Promise<void> {
  const path = clusterStatePath(stateDir, lab);
  const state = clusterStateSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  const cluster = resolveCluster(state.description, {
    prefix: state.prefix,
    source: path,
    ...(state.name !== undefined ? { name: state.name } : {}),
    ...(state.engine !== undefined ? { engine: state.engine } : {}),
  });
  if (cluster.id !== lab) throw new Error(`${path} describes lab ${cluster.id}, not ${lab}`);
  const view = hostView(cluster, host);
  let peers: PeerAcks | undefined;
  const core = HostCore.connect(view, new ProcessRunner(), {
    log,
    // Each revision applied: known here at once, and sent to every peer before etcd hears of it.
    applied: (revision) => {
      core.acks.heard(host, revision, 'self');
      peers?.send(revision);
    },
  });
  const { socket } = hostdPaths(stateDir, lab, host);
  const server = await HostServer.listen(core, socket);
  peers = PeerAcks.start({
    view,
    log,
    heard: (peer, revision) => core.acks.heard(peer, revision, 'peer'),
  });
  core.acks.onChange = () => peers?.want();
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    await server.close().catch(() => {});
    await peers?.close().catch(() => {});
    await core.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  log(
    `host ${host} of lab ${lab}: serving on ${socket} (pid ${process.pid}); translator ${view.netns}`,
  );
  await core.start();
}
