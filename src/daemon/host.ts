// Makes a process that already holds a lab's controller (the prompt of `flowmig up`) the lab's
// daemon while it runs: recorded in the lab's state, serving the lab's socket, both undone on close.
import { daemonPaths } from '../control/daemon-process.js';
import type { Flowmig } from '../control/flowmig.js';
import { type DaemonHooks, DaemonServer } from './server.js';

export interface HostedLab {
  readonly socket: string;
  /** Stops serving and takes this process out of the lab's state (the lab stays up). */
  close(): Promise<void>;
}

/**
 * Serves `labId`'s API from this process, through `fm`, so other terminals act on the lab as they
 * would through a daemon. Refused (by recordDaemon) while another daemon serves the lab.
 */
export async function hostLab(fm: Flowmig, labId: string, hooks: DaemonHooks): Promise<HostedLab> {
  const { socket } = daemonPaths(fm.store.dir, labId);
  // Record first (refused if another daemon of the lab runs), then listen: as serveLab does.
  await fm.recordDaemon(labId, { pid: process.pid, socket });
  let server: DaemonServer;
  try {
    server = await DaemonServer.start(fm, labId, socket, hooks);
  } catch (error) {
    await fm.recordDaemon(labId, undefined).catch(() => {});
    throw error;
  }
  return {
    socket,
    close: async () => {
      await server.close();
      await fm.recordDaemon(labId, undefined).catch(() => {});
    },
  };
}
