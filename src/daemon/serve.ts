// Serves one lab as its daemon: records itself in the lab's state, reconciles the translator with
// the desired flow table, then answers the lab's API until SIGTERM/SIGINT or a `down` request.
import { rm } from 'node:fs/promises';
import { daemonPaths } from '../control/daemon-process.js';
import { Flowmig } from '../control/flowmig.js';
import { isLoopback } from './http.js';
import { DaemonServer } from './server.js';

const log = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);

export async function serveLab(
  labId: string,
  stateDir: string,
  options: { httpPort?: number; listen?: string } = {},
): Promise<DaemonServer> {
  // Its migrations go over netlink from this process (FlowmigOptions.inProcess, every
  // controller's default unless FLOWMIG_IN_PROCESS=off); the agent serves as the fallback.
  const fm = new Flowmig({ stateDir });
  const { socket, token: tokenFile } = daemonPaths(stateDir, labId);
  // Record first (refused if another daemon of the lab runs), then listen.
  await fm.recordDaemon(labId, { pid: process.pid, socket });
  // A token file left by a daemon that was killed names a token nothing accepts any more.
  if (options.httpPort === undefined) await rm(tokenFile, { force: true });
  const r = await fm.reconcile(labId);
  if (r.drift.length)
    log(
      `reconciled: ${r.drift.join('; ')} → ${r.repaired ? 'repaired' : `still: ${(r.remaining ?? []).join('; ')}`}`,
    );
  // The lab's lock stays with the daemon while it runs: a change takes no lock of its own. Another
  // process that changes the lab (--direct, down) borrows it over the socket ('lend').
  await fm.store.hold(labId);
  let server: DaemonServer | undefined;
  const stop = async (why: string) => {
    log(`stopping (${why})`);
    await server?.close();
    await fm.recordDaemon(labId, undefined).catch(() => {});
    await fm.store.release(labId);
    process.exit(0);
  };
  server = await DaemonServer.start(fm, labId, socket, {
    onDown: () => {
      log('lab torn down; exiting');
      void fm.store.release(labId).finally(() => process.exit(0));
    },
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  log(`serving lab ${labId} on ${socket} (pid ${process.pid})`);
  if (options.httpPort !== undefined) {
    // The token goes to a file only root can read, never to this log: the log is for reading.
    const host = options.listen ?? '127.0.0.1';
    const { url } = await server.startHttp(options.httpPort, { tokenFile, host });
    log(`http API on ${url} (POST; header "Authorization: Bearer <the token in ${tokenFile}>")`);
    log(
      `dashboard on ${url.replace(/\/api$/, '/')} (open it with 'flowmig dashboard --lab ${labId}')`,
    );
    if (!isLoopback(host))
      log(
        `warning: listening on ${host}, reachable from other machines: the page and the API need the token, /metrics too; nothing is encrypted (no TLS)`,
      );
  }
  return server;
}
