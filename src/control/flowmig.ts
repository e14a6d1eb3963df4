// The controller behind the CLI, the daemon and the library API: each verb takes the lab's lock
// and delegates to the module named for its job (lifecycle, migrations, status, drains, serving).
import { environment } from '../config.js';
import { FlowmigError, InputError } from '../errors.js';
import { ProcessRunner, type Runner } from '../exec/runner.js';
import type { Lab, LabFlow } from '../lab/model.js';
import { StateStore, stateDirFrom } from '../state/store.js';
import { ApplyPaths } from './apply-path.js';
import { changeFlows, type Move, type MoveOutcome } from './batch.js';
import { daemonLender } from './daemon-process.js';
import { recordDaemonIn } from './daemon-record.js';
import { drainsDue, endDueDrains } from './drains.js';
import { HeldLabs } from './held.js';
import { fromStateFlow, labOf, requireUp } from './lab-state.js';
import { buildLab, checkHost, removeLab } from './lifecycle.js';
import { evacuateServer, type MigrationContext } from './migrations.js';
import { type LabPresence, labsPresent } from './presence.js';
import type {
  ChangeEvent,
  DownResult,
  EvacuationResult,
  LabStatus,
  MigrationResult,
  ProgressHooks,
  ReconcileResult,
} from './results.js';
import type { ServeMode, ServerHandle } from './serve-process.js';
import { startServers, stopServers } from './serving.js';
import { labStatus, reconcileLab } from './status.js';

export type { Move, MoveOutcome } from './batch.js';
export type {
  ApplyPath,
  ChangeEvent,
  ControlPath,
  DownResult,
  EvacuationResult,
  FlowStatus,
  LabStatus,
  MigrationResult,
  NodeStatus,
  ProgressHooks,
  ReconcileResult,
  ServerStatus,
} from './results.js';

export interface FlowmigOptions {
  /** Where lab state lives (default: $FLOWMIG_STATE_DIR or /run/flowmig). */
  readonly stateDir?: string | undefined;
  readonly runner?: Runner;
  /** Check root and programs before changing anything (default true). */
  readonly preflight?: boolean;
  /**
   * Run the translator agent for engines with a fast path (default true, or false when the
   * environment sets FLOWMIG_AGENT=off): migrations then spawn no process.
   */
  readonly agent?: boolean;
  /**
   * Apply migrations from this process, through netlink sockets made in the translator's
   * namespace (native addon), instead of asking the agent process: no second process to wake per
   * migration. One default for every controller (the daemon, demo, experiments, benches, the CLI
   * with --direct, library users): true, or false when the environment sets FLOWMIG_IN_PROCESS=off.
   * The agent stands by as the fallback, then the programs (see apply-path.ts).
   */
  readonly inProcess?: boolean;
}

export class Flowmig {
  readonly store: StateStore;
  readonly runner: Runner;
  private readonly preflight: boolean;
  /** The paths to each lab's translator: in-process, agent, programs. */
  private readonly paths: ApplyPaths;
  private readonly ctx: MigrationContext;
  /** The labs' states as this controller last read or committed them. */
  private readonly held: HeldLabs;
  private readonly listeners = new Set<(event: ChangeEvent) => void>();

  constructor(options: FlowmigOptions = {}) {
    const env = environment();
    const stateDir = stateDirFrom(options.stateDir);
    // A lab whose daemon runs has its lock held by the daemon: a change made here borrows it.
    this.store = new StateStore(stateDir, { lender: daemonLender(stateDir) });
    this.runner = options.runner ?? new ProcessRunner();
    this.preflight = options.preflight ?? true;
    const base = { store: this.store, runner: this.runner };
    this.paths = new ApplyPaths(base, {
      agent: options.agent ?? env.agent,
      inProcess: options.inProcess ?? env.inProcess,
    });
    this.ctx = { ...base, paths: this.paths };
    this.held = new HeldLabs(this.store);
  }

  /** Closes what this controller keeps open (in-process netlink sockets); it stays usable. */
  close(): void {
    this.paths.close();
  }

  /** Checks root and the programs a lab with this engine needs. */
  async check(lab: Lab, extraPrograms: readonly string[] = []): Promise<void> {
    if (this.preflight) await checkHost(lab, extraPrograms);
  }

  /** The lab to act on: the given id, or the only lab that is up. */
  async pick(id: string | undefined): Promise<string> {
    if (id !== undefined) return id;
    const ids = await this.store.list();
    if (ids.length === 1 && ids[0]) return ids[0];
    if (ids.length === 0) throw new FlowmigError("no lab is up (start one with 'flowmig up')");
    throw new InputError('', [`several labs are up (${ids.join(', ')}); name one with --lab ID`]);
  }

  /** Builds the lab. Refuses if any of its namespaces exists; rolls back on failure. */
  async up(lab: Lab, hooks: ProgressHooks = {}): Promise<LabStatus> {
    await this.check(lab);
    await this.locked(lab.id, () => buildLab(this.ctx, this.paths, lab, hooks));
    return this.status(lab.id);
  }

  /** Removes everything the lab created; idempotent; works from state and the kernel's view. */
  async down(id: string, fallback?: Lab): Promise<DownResult> {
    this.paths.forget(id);
    return this.locked(id, () => removeLab(this.ctx, id, fallback));
  }

  /** Every lab this machine shows: by state file, ownership marks and marked processes. */
  labs(): Promise<LabPresence[]> {
    return labsPresent(this.store, this.runner);
  }

  async migrate(id: string, flowRef: string, node: string): Promise<MigrationResult> {
    return only(await this.changeMany(id, [{ kind: 'migrate', flow: flowRef, node }]));
  }

  async swap(id: string, flowRef?: string): Promise<MigrationResult> {
    return only(await this.changeMany(id, [{ kind: 'swap', flow: flowRef }]));
  }

  /**
   * Applies `moves` (swaps and migrations of any flows) in arrival order as one batch: each round
   * of distinct flows one rule transaction and one conntrack pass, the state committed once (see
   * changeFlows). A move that fails fails alone; each has its own outcome, in order.
   */
  async changeMany(id: string, moves: readonly Move[]): Promise<MoveOutcome[]> {
    if (moves.length === 0) return [];
    const outcomes = await this.store.withLock(id, () =>
      this.held.using(id, (held) => changeFlows(this.ctx, held, moves)),
    );
    for (const o of outcomes)
      if (o.ok && o.result.changed) this.emit({ kind: 'migrated', result: o.result });
    return outcomes;
  }

  /** Moves every flow served by `from` to `to`: one rule transaction, one conntrack pass. */
  async evacuate(id: string, from: string, to: string): Promise<EvacuationResult> {
    return this.locked(id, async () => {
      const result = await evacuateServer(this.ctx, await requireUp(this.store, id), from, to);
      if (result.moved > 0) this.emit({ kind: 'evacuated', result });
      return result;
    });
  }

  /** Runs `fn` under the lab's lock; it reads and writes the state itself: the held copy goes. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.store.withLock(id, async () => {
      this.held.forget(id);
      try {
        return await fn();
      } finally {
        this.held.forget(id);
      }
    });
  }

  /**
   * Calls `listener` after each change this controller applies (a migration with its steps and
   * their timestamps, or an evacuation); returns the function that stops it.
   */
  onChange(listener: (event: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ChangeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /**
   * Ends the drains that are due: the TCP connections a flow left on a former responder (policy
   * `drain`) lose their conntrack entries once `drainSeconds` passed. The lab's daemon calls this
   * every second; every change and `status` call it too. Returns how many drains ended.
   */
  async endDrains(id: string, at = Date.now()): Promise<number> {
    if (!drainsDue(this.held.peek(id) ?? (await this.store.read(id)), at)) return 0;
    return this.store.withLock(id, () =>
      this.held.using(id, async ({ state }) => {
        const ended = await endDueDrains(this.ctx, state, labOf(state), at, false);
        if (ended > 0) await this.store.commit(state, { draining: state.draining ?? [] });
        return ended;
      }),
    );
  }

  /**
   * Makes the translator match the desired flow table: what drifted is restated whole, then the
   * drifted flows' conntrack entries go. Nothing that is not flowmig's is touched.
   */
  async reconcile(id: string): Promise<ReconcileResult> {
    return this.locked(id, async () => reconcileLab(this.ctx, await requireUp(this.store, id)));
  }

  /**
   * Records `daemon` as the lab's daemon (undefined clears it). Refuses when another daemon of the
   * lab still runs: one daemon owns a lab.
   */
  async recordDaemon(
    id: string,
    daemon: { pid: number; socket: string } | undefined,
  ): Promise<void> {
    await this.locked(id, async () =>
      recordDaemonIn(this.ctx, await requireUp(this.store, id), daemon),
    );
  }

  /** The lab as recorded, checked against what the kernel shows. */
  async status(id: string): Promise<LabStatus> {
    return labStatus(this.ctx, this.paths, id);
  }

  /** The resolved lab of a running lab id. */
  async lab(id: string): Promise<Lab> {
    return labOf(await requireUp(this.store, id));
  }

  /** Current flow assignments of a lab. */
  async flows(id: string): Promise<LabFlow[]> {
    return (await requireUp(this.store, id)).flows.map(fromStateFlow);
  }

  /** Starts flowmig's server runtime (`flowmig serve`) on server nodes (default: all of them). */
  async serve(
    id: string,
    options: { port?: number; mode?: ServeMode; nodes?: readonly string[] } = {},
  ): Promise<ServerHandle[]> {
    return this.locked(id, async () =>
      startServers(this.ctx, await requireUp(this.store, id), options),
    );
  }

  /** Stops the lab's server runtimes (default: all). */
  async unserve(id: string, nodes?: readonly string[]): Promise<number> {
    return this.locked(id, async () =>
      stopServers(this.ctx, await requireUp(this.store, id), nodes),
    );
  }
}

/** The outcome of a one-move batch, as its result or its error. */
function only(outcomes: readonly MoveOutcome[]): MigrationResult {
  const [o] = outcomes;
  if (!o) throw new Error('a one-move batch has one outcome');
  if (!o.ok) throw o.error;
  return o.result;
}
