// Where a command acts: through the lab's daemon, which owns the lab and applies its changes one
// at a time, or from this process (`--direct`, or a read when no daemon runs).
import { existsSync } from 'node:fs';
import { environment } from '../config.js';
import { DAEMON_MARKER, daemonPaths } from '../control/daemon-process.js';
import type { Flowmig } from '../control/flowmig.js';
import { DaemonClient } from '../daemon-api/client.js';
import type { RequestBody } from '../daemon-api/protocol.js';
import { FlowmigError } from '../errors.js';
import { findByMarker, isOurProcess } from '../procs/find.js';
import { pickLab } from '../state/lab-ids.js';

/** The options every command takes (before its name). */
export interface Globals {
  readonly stateDir?: string | undefined;
  readonly direct?: boolean | undefined;
}

/** A read (status, flows, down) works without a daemon; a change needs one, or `--direct`. */
export type ActKind = 'read' | 'change';

/** Makes the controller for a state directory (`undefined`: FLOWMIG_STATE_DIR or the default). */
export type ControllerFactory = (stateDir: string | undefined) => Promise<Flowmig>;

async function loadController(stateDir: string | undefined): Promise<Flowmig> {
  const { Flowmig } = await import('../control/flowmig.js');
  return new Flowmig({ stateDir });
}

export class Route {
  private fm: Promise<Flowmig> | undefined;

  /** `globals` is read when a command runs: commander has parsed the options by then. */
  constructor(
    private readonly globals: () => Globals,
    private readonly makeController: ControllerFactory = loadController,
  ) {}

  /** The state directory: `--state-dir`, else FLOWMIG_STATE_DIR, else the default. */
  get stateDir(): string {
    return this.globals().stateDir ?? environment().stateDir;
  }

  /**
   * The controller, made on first use. Its modules take longer to load than Node takes to start,
   * and a command its lab's daemon serves never needs them.
   */
  controller(): Promise<Flowmig> {
    this.fm ??= this.makeController(this.globals().stateDir);
    return this.fm;
  }

  /** The lab to act on: `lab`, or the only lab whose state file is in the state directory. */
  pick(lab: string | undefined): Promise<string> {
    return pickLab(this.stateDir, lab);
  }

  /**
   * Waits (at most `timeoutMs`) until the lab's daemon is gone: its socket removed and its process
   * ended. A daemon that served a `down` removes the socket once its reply's connection has
   * closed and exits after, a moment after the caller read the reply: `down` returns when nothing
   * of the lab is left.
   */
  async daemonGone(id: string, timeoutMs = 5_000): Promise<void> {
    const { socket } = daemonPaths(this.stateDir, id);
    const deadline = Date.now() + timeoutMs;
    const running = async () => (await findByMarker(DAEMON_MARKER, (x) => x === id)).length > 0;
    while ((existsSync(socket) || (await running())) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * Runs a request through the lab's daemon, which owns the lab and serialises its changes. Reads
   * fall back to this process when no daemon runs; changes need the daemon (or --direct).
   */
  async act<T>(
    id: string,
    body: RequestBody,
    direct: (fm: Flowmig) => Promise<T>,
    kind: ActKind,
  ): Promise<T> {
    if (this.globals().direct) return direct(await this.controller());
    // The daemon's socket is the lab's own (root-only, in the state directory): try it first, so
    // a command does not read a large lab's state, or load the controller, just to find the daemon.
    const quick = await DaemonClient.connect(daemonPaths(this.stateDir, id).socket).catch(
      () => undefined,
    );
    if (quick) {
      try {
        return await quick.request<T>(body);
      } finally {
        quick.close();
      }
    }
    const fm = await this.controller();
    // A read (status, down) works on a lab whose state file is damaged; a change cannot.
    const { DamagedStateError } = await import('../state/store.js');
    const daemon = await fm.store.read(id).then(
      (state) => state?.daemon,
      (error: unknown) => {
        if (kind === 'read' && error instanceof DamagedStateError) return undefined;
        throw error;
      },
    );
    if (daemon && (await isOurProcess(daemon.pid, [DAEMON_MARKER, id]))) {
      const client = await DaemonClient.connect(daemon.socket);
      try {
        return await client.request<T>(body);
      } finally {
        client.close();
      }
    }
    if (kind === 'read') return direct(fm);
    throw new FlowmigError(
      daemon
        ? `the daemon of lab ${id} (pid ${daemon.pid}) is not running; restart it with 'flowmig daemon --lab ${id}', or act without it with --direct`
        : `no daemon serves lab ${id}; start one with 'flowmig daemon --lab ${id}', or act without it with --direct`,
    );
  }
}
