// The controller behind the CLI and the library API: up, down, migrate, swap, status, per lab.
import { readdir, rm } from 'node:fs/promises';
import type { ApplyResult } from '../agent/agent.js';
import type { AgentClient } from '../agent/client.js';
import { parseConntrackList } from '../engines/conntrack.js';
import type { FlowMapping, KernelFlowTable, NetfilterApplyOp } from '../engines/engine.js';
import { HOLD_TABLE, type HoldState, holdEdit, holdTable } from '../engines/hold.js';
import { type FormerResponder, type LateState, lateTable } from '../engines/late.js';
import { engineFor } from '../engines/registry.js';
import { CommandError, FlowmigError, InputError } from '../errors.js';
import { isOurProcess } from '../exec/daemon.js';
import { execute, nowMs, type StepRecord } from '../exec/execute.js';
import { requirePrograms, requireRoot } from '../exec/preflight.js';
import { ProcessRunner, type Runner } from '../exec/runner.js';
import {
  concreteAddress,
  type Lab,
  type LabFlow,
  movesTcp,
  nodeByName,
  policyOf,
  servers,
} from '../lab/model.js';
import { ownershipMark } from '../lab/names.js';
import { resolveLab } from '../lab/resolve.js';
import { mappingsFor, planDown, planUp } from '../plan/build.js';
import type { Command } from '../plan/command.js';
import {
  drainEnd,
  type MigrationPlan,
  planEvacuation,
  planMigration,
  planSwap,
} from '../plan/migrate.js';
import { describeOp, type Op } from '../plan/ops.js';
import {
  DamagedStateError,
  type LabState,
  type MigrationRecord,
  StateStore,
  stateDirFrom,
} from '../state/store.js';
import {
  type AgentHandle,
  agentPaths,
  connectAgent,
  startAgent,
  stopAgent,
  stopAllAgents,
} from './agent-process.js';
import {
  DAEMON_MARKER,
  daemonPaths,
  findDaemonsWhere,
  runningDaemon,
  stopDaemon,
} from './daemon-process.js';
import { InProcessAgents } from './in-process.js';
import { listNamespaces, namespaceLinks, waitForLinks } from './kernel.js';
import { type LiveTcpResult, moveConnections, type TranslatorPort } from './live-tcp.js';
import { type LabPresence, labsPresent } from './presence.js';
import {
  connectServer,
  type ServeMode,
  type ServerHandle,
  servePaths,
  startServer,
  stopAllServers,
  stopServer,
} from './serve-process.js';
import { serverRuntime } from './serve-runtime.js';

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
   * namespace (native addon), instead of asking the agent process: no second process to wake
   * per migration. For long-lived controllers. Default false, or true when the environment sets
   * FLOWMIG_IN_PROCESS=on (demo and experiments follow it; the lab's daemon uses it unless
   * FLOWMIG_IN_PROCESS=off). Falls back to the agent, then to programs.
   */
  readonly inProcess?: boolean;
}

/** Over netlink from the controlling process, by the agent process, or by running programs. */
export type ApplyPath = 'in-process' | 'agent' | 'programs';

export interface ProgressHooks {
  readonly onStep?: (text: string, index: number, total: number) => void;
}

export interface MigrationResult {
  readonly lab: string;
  readonly flow: string;
  /** The end of the flow that moved. */
  readonly role: 'responder' | 'initiator';
  readonly from: string;
  readonly to: string;
  /** False when the flow was already there: nothing was changed. */
  readonly changed: boolean;
  /** Command issued → rule changed and conntrack entries gone. */
  readonly totalMs: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly conntrackDeleted: number;
  /**
   * How the change was applied: over netlink from this process (in-process) or by the agent, or
   * by running programs.
   */
  readonly path: ApplyPath;
  /** Set when something unusual happened on the way (agent restarted, fallback used). */
  readonly note: string | undefined;
  readonly steps: readonly StepRecord[];
  /** For a flow with `tcp: migrate`: how its TCP connections moved with it. */
  readonly tcp?: LiveTcpResult & { readonly note?: string };
}

export interface EvacuationResult {
  readonly lab: string;
  readonly from: string;
  readonly to: string;
  /** How many flows moved. */
  readonly moved: number;
  readonly totalMs: number;
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly conntrackDeleted: number;
  readonly path: ApplyPath;
  readonly note: string | undefined;
}

export interface NodeStatus {
  readonly name: string;
  readonly role: string;
  readonly netns: string;
  readonly present: boolean;
  readonly owned: boolean;
}

export interface FlowStatus extends LabFlow {
  /** The responder address the kernel maps the flow to now (undefined: no mapping found). */
  readonly kernelResponder: string | undefined;
  readonly inSync: boolean;
  /** Conntrack entries in the translator whose original destination is the flow's address. */
  readonly conntrackEntries: number;
  /** TCP connections still on a former responder (policy `drain`), per server node. */
  readonly draining: Readonly<Record<string, number>>;
  /** When each former responder's drain ends (ms from now). */
  readonly drains: readonly { readonly responder: string; readonly endsInMs: number }[];
}

export interface LabStatus {
  readonly id: string;
  readonly prefix: string;
  readonly phase: LabState['phase'];
  readonly engine: string;
  readonly pid: number;
  readonly pidAlive: boolean;
  readonly createdAt: string;
  readonly stateFile: string;
  readonly nodes: readonly NodeStatus[];
  readonly flows: readonly FlowStatus[];
  readonly translatorInstalled: boolean;
  /**
   * How migrations are applied now; conntrackIndexed is undefined while that path indexes nothing
   * (until its first migration).
   */
  readonly controlPath:
    | {
        readonly kind: 'agent';
        readonly pid: number;
        readonly conntrackIndexed: number | undefined;
      }
    | { readonly kind: 'in-process'; readonly conntrackIndexed: number | undefined }
    | { readonly kind: 'programs'; readonly reason: string };
  readonly migrations: number;
  readonly lastMigration: MigrationRecord | undefined;
  /** How the translator differs from the desired flow table (empty: in agreement). */
  readonly drift: readonly string[];
  /** The lab's daemon, if one was started. */
  readonly daemon:
    | { readonly pid: number; readonly socket: string; readonly running: boolean }
    | undefined;
  /** Server runtimes (`flowmig serve`) and the connections each holds now. */
  readonly servers: readonly {
    readonly node: string;
    readonly pid: number;
    readonly running: boolean;
    readonly address: string;
    readonly port: number;
    readonly mode: string;
    readonly connections: number | undefined;
  }[];
  /** The late-packet table: former responders still translated, and packets it has rewritten. */
  readonly late: {
    readonly installed: boolean;
    readonly graceMs: number;
    readonly translated: number;
    /** Of those, rewritten after conntrack: they passed the first rule just before a commit. */
    readonly afterConntrack: number;
    readonly former: readonly FormerResponder[];
  };
}

export interface ReconcileResult {
  readonly lab: string;
  /** What differed before (empty: nothing to do). */
  readonly drift: readonly string[];
  /** Whether the translator agrees with the desired table afterwards. */
  readonly repaired: boolean;
  readonly remaining?: readonly string[];
}

/** What `onChange` listeners receive. */
export type ChangeEvent =
  | { readonly kind: 'migrated'; readonly result: MigrationResult }
  | { readonly kind: 'evacuated'; readonly result: EvacuationResult };

export interface DownResult {
  readonly id: string;
  readonly removed: readonly string[];
  /** Namespaces left alone because they do not carry this lab's mark. */
  readonly skipped: readonly string[];
  readonly hadState: boolean;
  /** The damaged state file that was removed (the lab was found by its marks instead). */
  readonly damagedState?: string;
}

const BASE_PROGRAMS = ['ip', 'sysctl', 'conntrack'];

export class Flowmig {
  readonly store: StateStore;
  readonly runner: Runner;
  private readonly preflight: boolean;
  private readonly useAgent: boolean;
  private readonly inProcess: boolean;
  /** Per lab: the in-process fast path (when `inProcess`). */
  private readonly local = new InProcessAgents();

  private readonly listeners = new Set<(event: ChangeEvent) => void>();
  /** Per lab: the connection to its agent this controller keeps (see agentClient). */
  private readonly agentClients = new Map<string, { pid: number; client: AgentClient }>();
  /** Per lab: the agent process told to stand by (see standAgentBy). */
  private readonly agentsStandingBy = new Map<string, number>();

  constructor(options: FlowmigOptions = {}) {
    this.store = new StateStore(stateDirFrom(options.stateDir));
    this.runner = options.runner ?? new ProcessRunner();
    this.preflight = options.preflight ?? true;
    this.useAgent = options.agent ?? process.env.FLOWMIG_AGENT !== 'off';
    this.inProcess = options.inProcess ?? process.env.FLOWMIG_IN_PROCESS === 'on';
  }

  /** Closes what this controller keeps open (in-process netlink sockets); it stays usable. */
  close(): void {
    this.local.closeAll();
    for (const id of [...this.agentClients.keys()]) this.forgetAgentClient(id);
  }

  /** Checks root and the programs a lab with this engine needs. */
  async check(lab: Lab, extraPrograms: readonly string[] = []): Promise<void> {
    if (!this.preflight) return;
    requireRoot();
    // The hold table's queueing rules are ip6tables rules (see engines/hold.ts).
    const hold = movesTcp(lab) ? ['nft', 'ip6tables-restore'] : [];
    await requirePrograms([
      ...BASE_PROGRAMS,
      ...engineFor(lab.engine).programs,
      ...hold,
      ...extraPrograms,
    ]);
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
    const engine = engineFor(lab.engine);
    await this.store.withLock(lab.id, async () => {
      const existing = await listNamespaces(this.runner);
      const old = await this.store.read(lab.id);
      if (old) {
        const alive = old.created.filter((ns) => existing.has(ns));
        if (alive.length > 0) {
          throw new FlowmigError(
            `lab ${lab.id} is already up (namespaces ${alive.join(', ')}); run 'flowmig down --lab ${lab.id}' first`,
          );
        }
        await this.store.remove(lab.id); // stale: its namespaces are gone
      }
      const taken = lab.nodes.map((n) => n.netns).filter((ns) => existing.has(ns));
      if (taken.length > 0) {
        throw new FlowmigError(
          `namespace${taken.length > 1 ? 's' : ''} ${taken.join(', ')} already exist${taken.length > 1 ? '' : 's'}; ` +
            `flowmig will not touch ${taken.length > 1 ? 'them' : 'it'}: run the lab beside ${taken.length > 1 ? 'them' : 'it'} with a prefix, e.g. --prefix fm1-`,
        );
      }
      const now = new Date().toISOString();
      const state: LabState = {
        version: 1,
        id: lab.id,
        prefix: lab.prefix,
        description: lab.description,
        phase: 'building',
        pid: process.pid,
        createdAt: now,
        updatedAt: now,
        created: [],
        flows: lab.flows.map(toStateFlow),
        migrations: 0,
      };
      await this.store.write(state);
      const ops = planUp(lab, engine);
      let current: Op | undefined;
      try {
        await execute(this.runner, ops, {
          before: async (op) => {
            current = op;
            // Write-ahead: a SIGKILL right after the create still leaves the name on record.
            if (op.kind === 'netnsAdd') {
              state.created.push(op.netns);
              await this.store.write(state);
            }
          },
          after: (step, i, total) => hooks.onStep?.(describeOp(step.op), i + 1, total),
        });
        current = undefined;
        hooks.onStep?.('waiting for the links to come up', ops.length, ops.length);
        const down = await waitForLinks(this.runner, labLinks(lab));
        if (down.length > 0) {
          throw new FlowmigError(`links did not come up within 5 s: ${down.join(', ')}`);
        }
      } catch (error) {
        if (current?.kind === 'netnsAdd' && error instanceof CommandError) {
          // The create itself failed: that namespace is not ours.
          state.created = state.created.filter((ns) => ns !== current?.netns);
        }
        if (state.agent) await stopAgent(state.agent, lab.id);
        const removed = await this.removeNamespaces(lab.id, state.created);
        await this.store.remove(lab.id);
        const what = current ? describeOp(current) : 'waiting for the links';
        const reason = error instanceof Error ? error.message : String(error);
        throw new FlowmigError(
          `up failed at "${what}": ${reason}; rolled back${removed.removed.length ? ` (removed ${removed.removed.join(', ')})` : ''}`,
          { cause: error },
        );
      }
      state.phase = 'up';
      await this.store.write(state);
      if (engine.fastPath && this.useAgent) {
        hooks.onStep?.('starting the translator agent', ops.length, ops.length);
        await this.launchAgent(state, lab).catch(() => {}); // recorded in state.agentError
      }
    });
    return this.status(lab.id);
  }

  /** Removes everything the lab created; idempotent; works from state and the kernel's view. */
  async down(id: string, fallback?: Lab): Promise<DownResult> {
    this.forgetAgentClient(id);
    this.local.drop(id);
    return this.store.withLock(id, async () => {
      // A damaged state file is no dead end: the lab is removed by its marks, as if it were lost.
      let damagedState: string | undefined;
      const state = await this.store.read(id).catch((error: unknown) => {
        if (!(error instanceof DamagedStateError)) throw error;
        damagedState = error.path;
        return undefined;
      });
      const lab = state ? labOf(state) : fallback;
      const candidates = new Set<string>([
        ...(state?.created ?? []),
        ...(lab?.nodes.map((n) => n.netns) ?? []),
      ]);
      // State lost: the kernel still shows which namespaces carry this lab's mark.
      if (!state) for (const ns of await this.markedNamespaces(id)) candidates.add(ns);
      if (state?.daemon) await stopDaemon(id, state.daemon.pid);
      // With the state lost, a daemon of the lab is found by its command line.
      for (const pid of await findDaemonsWhere((x) => x === id)) await stopDaemon(id, pid);
      await stopAllAgents(id, state?.agent);
      await stopAllServers(id, state?.servers);
      for (const node of lab ? lab.nodes.map((n) => n.name) : await this.servedNodes(id)) {
        const files = servePaths(this.store.dir, id, node);
        await rm(files.socket, { force: true });
        await rm(files.log, { force: true });
      }
      if (lab && state) await this.uninstall(lab, state);
      const result = await this.removeNamespaces(
        id,
        [...candidates],
        new Set(state?.created ?? []),
      );
      await this.store.remove(id);
      // The agent's files by their fixed paths: a build killed right after spawning the agent
      // may not have recorded it yet.
      const agentFiles = agentPaths(this.store.dir, id);
      await rm(agentFiles.log, { force: true });
      await rm(agentFiles.socket, { force: true });
      const daemonFiles = daemonPaths(this.store.dir, id);
      // The daemon's socket (gone with it, unless it was killed) and its log; the daemon doing
      // this `down` itself closes its socket after replying.
      if (state?.daemon?.pid !== process.pid) await rm(daemonFiles.socket, { force: true });
      await rm(daemonFiles.log, { force: true });
      await rm(daemonFiles.token, { force: true });
      return {
        id,
        ...result,
        hadState: state !== undefined,
        ...(damagedState ? { damagedState } : {}),
      };
    });
  }

  /**
   * Nodes with server-runtime files of lab `id` in the state directory (when the lab's nodes are
   * unknown: its state is lost). Node names hold no '.', so `<id>.serve.<node>.sock` is exact.
   */
  private async servedNodes(id: string): Promise<string[]> {
    const names = await readdir(this.store.dir).catch(() => [] as string[]);
    const head = `${id}.serve.`;
    return [
      ...new Set(
        names
          .filter((n) => n.startsWith(head))
          .map((n) => /^([A-Za-z0-9][A-Za-z0-9_]{0,6})\.(?:sock|log)$/.exec(n.slice(head.length)))
          .flatMap((m) => (m?.[1] ? [m[1]] : [])),
      ),
    ];
  }

  /** Every lab this machine shows: by state file, ownership marks and marked processes. */
  labs(): Promise<LabPresence[]> {
    return labsPresent(this.store, this.runner);
  }

  /** Every namespace whose ownership mark names lab `id`. */
  private async markedNamespaces(id: string): Promise<string[]> {
    const mark = ownershipMark(id);
    const found: string[] = [];
    for (const ns of await listNamespaces(this.runner)) {
      const links = await namespaceLinks(this.runner, ns).catch(() => undefined);
      if (links?.mark === mark) found.push(ns);
    }
    return found;
  }

  /**
   * Deletes the namespaces that are this lab's: marked with its id, or recorded as created by it
   * and still bare (a create interrupted before the mark was set). Anything else is left alone.
   */
  private async removeNamespaces(
    id: string,
    names: readonly string[],
    recorded: ReadonlySet<string> = new Set(names),
  ): Promise<{ removed: string[]; skipped: string[] }> {
    const existing = await listNamespaces(this.runner);
    const mark = ownershipMark(id);
    const removed: string[] = [];
    const skipped: string[] = [];
    const ours: string[] = [];
    for (const ns of names) {
      if (!existing.has(ns)) continue;
      const links = await namespaceLinks(this.runner, ns);
      const bare = links.mark === undefined && links.others.length === 0;
      if (links.mark === mark || (recorded.has(ns) && bare)) ours.push(ns);
      else skipped.push(ns);
    }
    for (const op of planDown(ours)) {
      try {
        await execute(this.runner, [op]);
      } catch (error) {
        if (!(error instanceof CommandError && error.isNotFound)) throw error;
      }
      if (op.kind === 'netnsDelete') removed.push(op.netns);
    }
    return { removed, skipped };
  }

  async migrate(id: string, flowRef: string, node: string): Promise<MigrationResult> {
    return this.change(id, (lab, flows) =>
      planMigration(lab, engineFor(lab.engine), flows, flowRef, node),
    );
  }

  async swap(id: string, flowRef?: string): Promise<MigrationResult> {
    return this.change(id, (lab, flows) => planSwap(lab, engineFor(lab.engine), flows, flowRef));
  }

  /** Moves every flow served by `from` to `to`: one rule transaction, one conntrack pass. */
  async evacuate(id: string, from: string, to: string): Promise<EvacuationResult> {
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const lab = labOf(state);
      await this.endDrainsLocked(state, lab, Date.now());
      const p = planEvacuation(
        lab,
        engineFor(lab.engine),
        state.flows.map(fromStateFlow),
        from,
        to,
      );
      const applied = await this.applyMigration(state, lab, p);
      if (p.moved.length > 0) {
        for (const f of p.moved) recordDrain(state, lab, f.address, from, to);
        state.flows = p.flows.map(toStateFlow);
        state.migrations += p.moved.length;
        await this.store.write(state);
      }
      const result: EvacuationResult = {
        lab: id,
        from,
        to,
        moved: p.moved.length,
        ...timings(applied),
        path: applied.path,
        note: applied.note,
      };
      if (result.moved > 0) this.emit({ kind: 'evacuated', result });
      return result;
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
    const peek = await this.store.read(id);
    if (!peek?.draining?.some((d) => d.until <= at)) return 0;
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      return this.endDrainsLocked(state, labOf(state), at);
    });
  }

  private async endDrainsLocked(state: LabState, lab: Lab, at: number): Promise<number> {
    const due = (state.draining ?? []).filter((d) => d.until <= at);
    if (due.length === 0) return 0;
    const ops = due.flatMap((d) => {
      const current = state.flows.find((f) => f.address === d.flow)?.responder;
      const op = current === d.responder ? undefined : drainEnd(lab, d.flow, d.responder);
      return op ? [op] : [];
    });
    await execute(this.runner, ops);
    const rest = (state.draining ?? []).filter((d) => d.until > at);
    state.draining = rest.length ? rest : undefined;
    await this.store.write(state);
    return due.length;
  }

  private async change(
    id: string,
    plan: (lab: Lab, flows: readonly LabFlow[]) => MigrationPlan,
  ): Promise<MigrationResult> {
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const lab = labOf(state);
      await this.endDrainsLocked(state, lab, Date.now());
      const p = plan(lab, state.flows.map(fromStateFlow));
      const live =
        p.role === 'responder' &&
        p.ops.length > 0 &&
        policyOf(lab, p.flow.address).tcp === 'migrate';
      const moved = live ? await this.migrateLive(state, lab, p) : undefined;
      const applied = moved ? moved.applied : await this.applyMigration(state, lab, p);
      if (moved?.tcp.rolledBack)
        throw new FlowmigError(
          `flow ${p.flow.address} stays on ${p.from.responder}: ${moved.tcp.rolledBack}`,
        );
      const result: MigrationResult = {
        lab: id,
        flow: p.flow.address,
        role: p.role,
        from: p.from[p.role],
        to: p.flow[p.role],
        changed: p.ops.length > 0,
        ...timings(applied),
        path: applied.path,
        note: applied.note,
        steps: applied.steps,
        ...(moved ? { tcp: moved.tcp } : {}),
      };
      if (result.changed) {
        if (p.role === 'responder') recordDrain(state, lab, p.flow.address, result.from, result.to);
        state.flows = p.flows.map(toStateFlow);
        state.migrations += 1;
        state.lastMigration = {
          flow: result.flow,
          from: result.from,
          to: result.to,
          at: new Date(applied.steps[0]?.startedAt ?? Date.now()).toISOString(),
          totalMs: result.totalMs,
          ruleMs: result.ruleMs,
          conntrackMs: result.conntrackMs,
          conntrackDeleted: result.conntrackDeleted,
          path: result.path,
        };
        await this.store.write(state);
        this.emit({ kind: 'migrated', result });
      }
      return result;
    });
  }

  /**
   * A migration that moves the flow's TCP connections too (see live-tcp.ts). Without a runtime on
   * either server there is nothing to move: the flow migrates as with `reset`, and the result says
   * why no connection moved.
   */
  private async migrateLive(
    state: LabState,
    lab: Lab,
    p: MigrationPlan,
  ): Promise<{ applied: Applied; tcp: LiveTcpResult & { note?: string } }> {
    const from = p.from.responder;
    const to = p.flow.responder;
    const handle = (node: string) => state.servers?.find((s) => s.node === node);
    const plain = async (note: string) => ({
      applied: await this.applyMigration(state, lab, p),
      tcp: { ...NOTHING_MOVED, note },
    });
    const fromH = handle(from);
    const toH = handle(to);
    if (!fromH) return plain(`flowmig serve does not run on ${from}: no connection to move`);
    if (!toH) return plain(`flowmig serve does not run on ${to}: ${from}'s connections were reset`);
    // Both ends must be able to use TCP repair (as each said when it started): else refuse
    // before anything changes.
    for (const h of [fromH, toH])
      if (h.repairUnavailable)
        throw new FlowmigError(
          `cannot move the TCP connections of flow ${p.flow.address}: flowmig serve on ${h.node} cannot use TCP repair (${h.repairUnavailable}); build the native TCP repair addon (npm run build:native) and restart it`,
        );
    const fromC = await connectServer(fromH, lab.id);
    if (typeof fromC === 'string') return plain(`${fromC}: no connection moved`);
    const toC = await connectServer(toH, lab.id);
    if (typeof toC === 'string') {
      fromC.close();
      return plain(`${toC}: ${from}'s connections were reset`);
    }
    try {
      const [mapping] = mappingsFor(lab, [p.flow]);
      const newAddress = concreteAddress(lab, to);
      if (!mapping || !newAddress) throw new Error(`flow ${p.flow.address} has no addresses`);
      const { client: agent } = await this.agentClient(state, lab);
      const t = lab.translator.netns;
      let applied: Applied | undefined;
      const translator: TranslatorPort = {
        hold: async () => {
          if (agent) await agent.hold(HOLD_TABLE, [holdEdit(mapping, true)]);
          else await execute(this.runner, [holdTable.set(t, mapping, true)]);
        },
        switchOver: async () => {
          applied = await this.applyMigration(state, lab, p);
        },
        switchBack: async () => {
          const engine = engineFor(lab.engine);
          const back = planMigration(lab, engine, p.flows, p.flow.address, from);
          await this.applyMigration(state, lab, back);
        },
        release: async () => {
          if (agent) return (await agent.release(HOLD_TABLE, [holdEdit(mapping, false)])).released;
          // No agent, no queue listener: the held packets were dropped (TCP sends them again).
          await execute(this.runner, [holdTable.set(t, mapping, false)]);
          return undefined;
        },
      };
      const tcp = await moveConnections(serverRuntime(fromC), serverRuntime(toC), translator, {
        peerAddress: p.flow.address,
        newAddress,
      });
      if (!applied) throw new Error('the flow was not switched');
      return {
        applied,
        tcp: agent ? tcp : { ...tcp, note: 'no agent: held packets were dropped, not queued' },
      };
    } finally {
      fromC.close();
      toC.close();
    }
  }

  /** Starts flowmig's server runtime (`flowmig serve`) on server nodes (default: all of them). */
  async serve(
    id: string,
    options: { port?: number; mode?: ServeMode; nodes?: readonly string[] } = {},
  ): Promise<ServerHandle[]> {
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const lab = labOf(state);
      const port = options.port ?? 5555;
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new InputError('serve', [`bad port '${options.port}'`]);
      const names = options.nodes?.length ? options.nodes : servers(lab).map((n) => n.name);
      const problems: string[] = [];
      const targets = names.flatMap((name) => {
        const node = nodeByName(lab, name);
        const address = concreteAddress(lab, name);
        if (node?.role !== 'server' || !address) {
          problems.push(`'${name}' is not a server node of lab ${id}`);
          return [];
        }
        return [{ node, address }];
      });
      if (problems.length) throw new InputError('serve', problems);
      const started: ServerHandle[] = [];
      for (const { node, address } of targets) {
        const old = state.servers?.find((s) => s.node === node.name);
        if (old) await stopServer(old, id);
        const h = await startServer(
          {
            id,
            stateDir: this.store.dir,
            netns: node.netns,
            node: node.name,
            address,
            port,
            mode: options.mode ?? 'echo',
          },
          async (spawned) => {
            state.servers = [...(state.servers ?? []).filter((s) => s.node !== node.name), spawned];
            await this.store.write(state);
          },
        );
        // Recorded again with what it answered (whether it can move connections).
        state.servers = [...(state.servers ?? []).filter((s) => s.node !== node.name), h];
        await this.store.write(state);
        started.push(h);
      }
      return started;
    });
  }

  /** Stops the lab's server runtimes (default: all). */
  async unserve(id: string, nodes?: readonly string[]): Promise<number> {
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const stop = (state.servers ?? []).filter((s) => !nodes?.length || nodes.includes(s.node));
      for (const h of stop) await stopServer(h, id);
      const rest = (state.servers ?? []).filter((s) => !stop.includes(s));
      state.servers = rest.length ? rest : undefined;
      await this.store.write(state);
      return stop.length;
    });
  }

  /** Starts the lab's agent, recording it (or why it could not start) in the state. */
  private async launchAgent(state: LabState, lab: Lab): Promise<AgentHandle> {
    try {
      const h = await startAgent(
        { netns: lab.translator.netns, id: lab.id, stateDir: this.store.dir },
        async (spawned) => {
          state.agent = spawned;
          await this.store.write(state);
        },
      );
      state.agentError = undefined;
      await this.store.write(state);
      return h;
    } catch (error) {
      state.agent = undefined;
      state.agentError = (error as Error).message;
      await this.store.write(state);
      throw error;
    }
  }

  /** A connection to the lab's agent, restarting it if it died; or the reason to use programs. */
  private keepAgentClient(id: string, pid: number, client: AgentClient): AgentClient {
    client.unref();
    this.agentClients.set(id, { pid, client });
    return client;
  }

  private forgetAgentClient(id: string): void {
    this.agentClients.get(id)?.client.close();
    this.agentClients.delete(id);
  }

  private async agentClient(
    state: LabState,
    lab: Lab,
  ): Promise<{ client?: AgentClient; note?: string }> {
    if (!engineFor(lab.engine).fastPath || !this.useAgent) return {};
    let reason = state.agentError ?? 'no agent was started';
    if (state.agent) {
      // A long-lived controller (the daemon, an experiment) keeps its connection to the agent:
      // no connect per migration. A dead agent closes it, and then a new one is made.
      const kept = this.agentClients.get(lab.id);
      if (kept?.pid === state.agent.pid && kept.client.usable) return { client: kept.client };
      this.forgetAgentClient(lab.id);
      const c = await connectAgent(state.agent, lab.id);
      if (typeof c !== 'string')
        return { client: this.keepAgentClient(lab.id, state.agent.pid, c) };
      reason = c;
      await stopAgent(state.agent, lab.id);
    }
    try {
      const h = await this.launchAgent(state, lab);
      const c = await connectAgent(h, lab.id);
      if (typeof c !== 'string')
        return {
          client: this.keepAgentClient(lab.id, h.pid, c),
          note: `${reason}; restarted it (pid ${h.pid})`,
        };
      reason = c;
    } catch (error) {
      reason = `${reason}; restart failed: ${(error as Error).message}`;
    }
    return { note: `${reason}; used the programs instead` };
  }

  /**
   * Once this controller migrates in-process, the lab's agent (kept as the fallback) stops
   * following conntrack events: it would be woken by every one of them for nothing, on the CPU the
   * migrations need. Once per agent process; best effort (a dead agent is left to agentClient).
   */
  private async standAgentBy(state: LabState, lab: Lab): Promise<void> {
    const agent = state.agent;
    if (!agent || this.agentsStandingBy.get(lab.id) === agent.pid) return;
    this.agentsStandingBy.set(lab.id, agent.pid);
    const kept = this.agentClients.get(lab.id);
    const c =
      kept?.pid === agent.pid && kept.client.usable
        ? kept.client
        : await connectAgent(agent, lab.id);
    if (typeof c === 'string') return;
    await c.standby().catch(() => {});
    if (c !== kept?.client) c.close();
  }

  /** Applies a planned migration: by the agent when it can, else by running programs. */
  private async applyMigration(
    state: LabState,
    lab: Lab,
    p: { readonly ops: readonly Op[]; readonly flows: readonly LabFlow[] },
  ): Promise<Applied> {
    if (p.ops.length === 0) return { steps: [], path: 'programs' };
    const engine = engineFor(lab.engine);
    const rule = p.ops.find((o): o is NetfilterApplyOp => o.kind === 'netfilterApply');
    // Rule changes that follow the conntrack delete (the late table's release).
    const firstDelete = p.ops.findIndex((o) => o.kind === 'conntrackDelete');
    const later = p.ops.filter(
      (o, i): o is NetfilterApplyOp =>
        o.kind === 'netfilterApply' && firstDelete >= 0 && i > firstDelete,
    );
    const fast = engine.fastPath && rule?.edits && later.every((o) => o.edits);
    const conntrack = p.ops.flatMap((o) =>
      o.kind === 'conntrackDelete'
        ? [
            {
              address: o.origDst,
              ...(o.keepReplySrc ? { keepReplySrc: o.keepReplySrc } : {}),
              ...(o.keepTcp ? { keepTcp: true } : {}),
            },
          ]
        : [],
    );
    const after = later.flatMap((o) => o.edits ?? []);
    /** The step records of a fast-path apply: rule, one conntrack pass, release. */
    const fastSteps = (r: ApplyResult, startedAt: number): StepRecord[] => {
      const steps: StepRecord[] = [{ op: rule as Op, startedAt, durationMs: r.ruleMs }];
      // One conntrack pass for all flows: reported as one step on the first delete op.
      const ct = p.ops.find((o) => o.kind === 'conntrackDelete');
      if (ct) {
        steps.push({
          op: ct,
          startedAt: startedAt + r.ruleMs,
          durationMs: r.conntrackMs,
          deleted: r.deleted,
        });
      }
      const release = later[0];
      if (release && (r.releaseMs !== undefined || r.releasing)) {
        // `releasing`: the agent commits it right after its answer (its time is not known).
        steps.push({
          op: release,
          startedAt: startedAt + r.ruleMs + r.conntrackMs,
          durationMs: r.releaseMs ?? 0,
        });
      }
      return steps;
    };
    let localNote: string | undefined;
    if (fast && this.inProcess && engine.fastPath && rule?.edits) {
      const why = this.local.unavailable();
      if (why) localNote = `in-process path unavailable (${why})`;
      else {
        try {
          const startedAt = nowMs();
          const agent = await this.local.get(lab.id, lab.translator.netns);
          const r = await agent.apply({
            table: engine.fastPath.table,
            edits: rule.edits,
            conntrack,
            after,
          });
          const totalMs = nowMs() - startedAt;
          await this.standAgentBy(state, lab);
          return { steps: fastSteps(r, startedAt), path: 'in-process', totalMs };
        } catch (error) {
          // Sockets in a namespace that changed, or a failed batch: the next call starts anew.
          this.local.drop(lab.id);
          localNote = `in-process path failed (${(error as Error).message})`;
        }
      }
    }
    const joined = (a: string | undefined, b: string | undefined) =>
      a && b ? `${a}; ${b}` : (a ?? b);
    const got = await this.agentClient(state, lab);
    const { client } = got;
    const note = joined(localNote, got.note);
    if (client && fast && engine.fastPath && rule?.edits) {
      try {
        const startedAt = nowMs();
        const r = await client.apply(engine.fastPath.table, rule.edits, conntrack, after);
        const totalMs = nowMs() - startedAt;
        const steps = fastSteps(r, startedAt);
        if (after.length > 0 && r.releaseMs === undefined && !r.releasing) {
          // An agent that did not apply `after` (an older build): the programs do it.
          steps.push(...(await execute(this.runner, later)));
          const why = 'the agent did not apply the release step; the programs did';
          return { steps, path: 'agent', totalMs, note: joined(note, why) };
        }
        return { steps, path: 'agent', totalMs, ...(note ? { note } : {}) };
      } catch (error) {
        // An agent that fails or hangs is stopped, so the next migration starts a fresh one.
        this.forgetAgentClient(lab.id);
        if (state.agent) await stopAgent(state.agent, lab.id);
        state.agent = undefined;
        state.agentError = `agent failed: ${(error as Error).message}`;
        // The batch may or may not have been committed: set the whole table (idempotent). The
        // late-packet grace of this migration is not restated (its late packets may be lost).
        const all = mappingsFor(lab, p.flows);
        const ops = [
          engine.replace(lab.translator.netns, all),
          lateTable.replace(lab.translator.netns, all),
          ...p.ops.filter((o) => o.kind === 'conntrackDelete'),
          ...later,
        ];
        const steps = await execute(this.runner, ops);
        const why = `agent failed (${(error as Error).message}); used the programs instead`;
        return { steps, path: 'programs', note: joined(localNote, why) };
      }
    }
    return {
      steps: await execute(this.runner, p.ops),
      path: 'programs',
      ...(note ? { note } : {}),
    };
  }

  /** How migrations are applied now, asking the agent itself. */
  private async controlPath(state: LabState, lab: Lab): Promise<LabStatus['controlPath']> {
    const engine = engineFor(lab.engine);
    if (!engine.fastPath)
      return { kind: 'programs', reason: `engine ${engine.name} has no fast path` };
    if (this.inProcess && this.local.unavailable() === undefined) {
      // Started by the first migration: until then nothing is indexed.
      const agent = await this.local.peek(lab.id)?.catch(() => undefined);
      return { kind: 'in-process', conntrackIndexed: agent?.index.size };
    }
    if (!this.useAgent)
      return { kind: 'programs', reason: 'the agent is turned off (FLOWMIG_AGENT=off)' };
    if (!state.agent)
      return { kind: 'programs', reason: state.agentError ?? 'no agent was started' };
    const c = await connectAgent(state.agent, lab.id);
    if (typeof c === 'string') {
      return { kind: 'programs', reason: `${c}; the next migration restarts it` };
    }
    try {
      const h = await c.hello(3_000);
      // An agent older than `indexing` always indexed.
      return {
        kind: 'agent',
        pid: h.pid,
        conntrackIndexed: h.indexing === false ? undefined : h.entries,
      };
    } catch (error) {
      return { kind: 'programs', reason: `agent does not answer: ${(error as Error).message}` };
    } finally {
      c.close();
    }
  }

  /** Removes the engine's objects from the translator (best effort: the namespace goes next). */
  private async uninstall(lab: Lab, state: LabState): Promise<void> {
    const op = engineFor(lab.engine).uninstall(lab.translator.netns);
    if (!op || !state.created.includes(lab.translator.netns)) return;
    if (!(await listNamespaces(this.runner)).has(lab.translator.netns)) return;
    const links = await namespaceLinks(this.runner, lab.translator.netns);
    if (links.mark !== ownershipMark(lab.id)) return;
    await execute(this.runner, [op]).catch(() => {});
  }

  /** The lab as recorded, checked against what the kernel shows. */
  /** flowmig's tables in the translator as the engine and the late table read them back. */
  private async readTranslator(lab: Lab): Promise<TranslatorView> {
    const engine = engineFor(lab.engine);
    const t = lab.translator.netns;
    const read = async (cmd: Command) =>
      (await this.runner.run(cmd.argv, { netns: cmd.netns, okExitCodes: [0, 1] })).stdout;
    const hold = movesTcp(lab)
      ? holdTable.parse(await Promise.all(holdTable.inspect(t).map(read)))
      : undefined;
    return {
      table: engine.parse(await read(engine.inspect(t))),
      late: lateTable.parse(await read(lateTable.inspect(t))),
      ...(hold ? { hold } : {}),
    };
  }

  /**
   * Makes the translator match the desired flow table: each of flowmig's tables or chain sets
   * that drifted is restated whole in one transaction (then the drifted flows' conntrack entries
   * go, so no connection keeps a mapping that should not exist). Nothing that is not flowmig's is
   * touched.
   */
  async reconcile(id: string): Promise<ReconcileResult> {
    return this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const lab = labOf(state);
      const t = lab.translator.netns;
      if (!(await listNamespaces(this.runner)).has(t))
        return { lab: id, drift: [`translator namespace ${t} is missing`], repaired: false };
      const engine = engineFor(lab.engine);
      const desired = mappingsFor(lab, state.flows.map(fromStateFlow));
      const view = await this.readTranslator(lab);
      const drift = driftOf(engine.name, desired, view);
      if (drift.length === 0) return { lab: id, drift, repaired: false };
      await execute(this.runner, [
        engine.repair(t, desired, view.table),
        lateTable.repair(t, desired),
        ...(view.hold ? holdTable.repair(t, view.hold) : []),
        ...desired.map((m): Op => ({ kind: 'conntrackDelete', netns: t, origDst: m.address })),
      ]);
      const after = driftOf(engine.name, desired, await this.readTranslator(lab));
      return {
        lab: id,
        drift,
        repaired: after.length === 0,
        ...(after.length ? { remaining: after } : {}),
      };
    });
  }

  /**
   * Records `daemon` as the lab's daemon (undefined clears it). Refuses when another daemon of the
   * lab still runs: one daemon owns a lab.
   */
  async recordDaemon(
    id: string,
    daemon: { pid: number; socket: string } | undefined,
  ): Promise<void> {
    await this.store.withLock(id, async () => {
      const state = await this.requireUp(id);
      const other = state.daemon;
      if (
        daemon &&
        other &&
        other.pid !== daemon.pid &&
        (await daemonRuns(id, other, this.store.dir))
      )
        throw new FlowmigError(
          `lab ${id} already has a daemon (pid ${other.pid}); 'flowmig daemon --restart --lab ${id}' replaces it, 'flowmig daemon --stop --lab ${id}' stops it`,
        );
      if (daemon) state.daemon = daemon;
      else if (other?.pid === process.pid) state.daemon = undefined;
      else return;
      await this.store.write(state);
    });
  }

  async status(id: string): Promise<LabStatus> {
    const state = await this.store.read(id);
    if (!state) throw new FlowmigError(`no lab '${id}' is up`);
    const lab = labOf(state);
    const engine = engineFor(lab.engine);
    const existing = await listNamespaces(this.runner);
    const mark = ownershipMark(id);
    const nodes: NodeStatus[] = [];
    for (const n of lab.nodes) {
      const present = existing.has(n.netns);
      const owned = present && (await namespaceLinks(this.runner, n.netns)).mark === mark;
      nodes.push({ name: n.name, role: n.role, netns: n.netns, present, owned });
    }
    let installed = false;
    let kernel = new Map<string, string>();
    let late: LateState = {
      installed: false,
      initiators: new Map(),
      former: [],
      translated: 0,
      afterConntrack: 0,
    };
    let drift = [`translator namespace ${lab.translator.netns} is missing`];
    if (existing.has(lab.translator.netns)) {
      const view = await this.readTranslator(lab);
      const { table } = view;
      late = view.late;
      drift = driftOf(engine.name, mappingsFor(lab, state.flows.map(fromStateFlow)), view);
      installed = table.installed && late.installed;
      kernel = new Map(
        table.mappings.map((m) => [
          m.address,
          // The late table must name the same initiator for the flow's late packets.
          late.initiators.get(m.address) === m.initiatorAddress ? m.responderAddress : '',
        ]),
      );
    }
    const entries = new Map<string, number>();
    // flow → node → TCP entries translated to a server that is not the flow's responder now.
    const tcpOn = new Map<string, Map<string, number>>();
    const nodeAt = new Map(lab.links.map((l) => [l.address.address, l.node]));
    if (existing.has(lab.translator.netns)) {
      const list = await this.runner.run(['conntrack', '-L', '-f', 'ipv6'], {
        netns: lab.translator.netns,
        okExitCodes: [0, 1],
      });
      for (const e of parseConntrackList(list.stdout)) {
        entries.set(e.origDst, (entries.get(e.origDst) ?? 0) + 1);
        const node = nodeAt.get(e.replySrc);
        if (e.protocol !== 'tcp' || !node) continue;
        const perNode = tcpOn.get(e.origDst) ?? new Map<string, number>();
        perNode.set(node, (perNode.get(node) ?? 0) + 1);
        tcpOn.set(e.origDst, perNode);
      }
    }
    const now = Date.now();
    const controlPath = await this.controlPath(state, lab);
    const daemon = state.daemon
      ? { ...state.daemon, running: await daemonRuns(id, state.daemon, this.store.dir) }
      : undefined;
    const flows = state.flows.map((f): FlowStatus => {
      const kernelResponder = kernel.get(f.address);
      const expected = lab.links.find((l) => l.node === f.responder)?.address.address;
      return {
        ...fromStateFlow(f),
        kernelResponder,
        inSync: kernelResponder === expected,
        conntrackEntries: entries.get(f.address) ?? 0,
        draining: Object.fromEntries(
          [...(tcpOn.get(f.address) ?? [])].filter(([node]) => node !== f.responder),
        ),
        drains: (state.draining ?? [])
          .filter((d) => d.flow === f.address)
          .map((d) => ({ responder: d.responder, endsInMs: Math.max(0, d.until - now) })),
      };
    });
    return {
      id,
      prefix: state.prefix,
      phase: state.phase,
      engine: lab.engine,
      pid: state.pid,
      pidAlive: isAlive(state.pid),
      createdAt: state.createdAt,
      stateFile: this.store.path(id),
      nodes,
      flows,
      translatorInstalled: installed,
      controlPath,
      migrations: state.migrations,
      lastMigration: state.lastMigration,
      drift,
      daemon,
      servers: await this.serverStatus(state),
      late: {
        installed: late.installed,
        graceMs: lab.graceMs,
        translated: late.translated,
        afterConntrack: late.afterConntrack,
        former: late.former,
      },
    };
  }

  private async serverStatus(state: LabState): Promise<LabStatus['servers']> {
    const out: LabStatus['servers'][number][] = [];
    for (const h of state.servers ?? []) {
      const c = await connectServer(h, state.id);
      let connections: number | undefined;
      if (typeof c !== 'string') {
        connections = await c.hello().then(
          (x) => x.connections,
          () => undefined,
        );
        c.close();
      }
      const { node, pid, address, port, mode } = h;
      out.push({ node, pid, running: typeof c !== 'string', address, port, mode, connections });
    }
    return out;
  }

  /** The resolved lab of a running lab id. */
  async lab(id: string): Promise<Lab> {
    return labOf(await this.requireUp(id));
  }

  /** Current flow assignments of a lab. */
  async flows(id: string): Promise<LabFlow[]> {
    return (await this.requireUp(id)).flows.map(fromStateFlow);
  }

  private async requireUp(id: string): Promise<LabState> {
    const state = await this.store.read(id);
    if (!state) throw new FlowmigError(`no lab '${id}' is up`);
    if (state.phase !== 'up') throw new FlowmigError(`lab ${id} is not up (it is ${state.phase})`);
    return state;
  }
}

/** Where the time of an applied change went: total, rule transaction, conntrack deletes. */
function timings(applied: { steps: readonly StepRecord[]; totalMs?: number }): {
  totalMs: number;
  ruleMs: number;
  conntrackMs: number;
  conntrackDeleted: number;
} {
  const { steps } = applied;
  const ct = steps.filter((s) => s.op.kind === 'conntrackDelete');
  const first = steps[0];
  const last = steps[steps.length - 1];
  return {
    totalMs:
      applied.totalMs ?? (first && last ? last.startedAt + last.durationMs - first.startedAt : 0),
    ruleMs: steps.find((s) => s.op.kind === 'netfilterApply')?.durationMs ?? 0,
    conntrackMs: ct.reduce((sum, s) => sum + s.durationMs, 0),
    conntrackDeleted: ct.reduce((sum, s) => sum + (s.deleted ?? 0), 0),
  };
}

/** Both ends of every link, as (namespace, interface). */
function labLinks(lab: Lab): { netns: string; dev: string }[] {
  return lab.links.flatMap((l) => {
    const node = lab.nodes.find((n) => n.name === l.node);
    return node
      ? [
          { netns: node.netns, dev: l.nodeIf },
          { netns: lab.translator.netns, dev: l.translatorIf },
        ]
      : [];
  });
}

/**
 * After a flow with `tcp: drain` moved from `from` to `to`: `from` drains until now + drainSeconds;
 * `to`, if it was draining this flow, serves it again (its connections are current).
 */
function recordDrain(state: LabState, lab: Lab, flow: string, from: string, to: string): void {
  const policy = policyOf(lab, flow);
  const rest = (state.draining ?? []).filter(
    (d) => d.flow !== flow || (d.responder !== to && d.responder !== from),
  );
  if (policy.tcp === 'drain')
    rest.push({ flow, responder: from, until: Date.now() + policy.drainMs });
  state.draining = rest.length ? rest : undefined;
}

/** Resolved labs by the (never changed) description object the state store handed out. */
const resolved = new WeakMap<LabState['description'], { prefix: string; lab: Lab }>();

/**
 * The resolved lab of a state. Resolving checks every flow again (~0.3 s at 100,000 flows); the
 * state store shares one description object while its file is unchanged, so a daemon resolves a
 * lab once, not once per change.
 */
function labOf(state: LabState): Lab {
  const hit = resolved.get(state.description);
  if (hit?.prefix === state.prefix) return hit.lab;
  const lab = resolveLab(state.description, {
    prefix: state.prefix,
    source: `state of lab ${state.id}`,
  });
  resolved.set(state.description, { prefix: state.prefix, lab });
  return lab;
}

function toStateFlow(f: LabFlow): LabState['flows'][number] {
  return f.name === undefined
    ? { address: f.address, initiator: f.initiator, responder: f.responder }
    : { name: f.name, address: f.address, initiator: f.initiator, responder: f.responder };
}

function fromStateFlow(f: LabState['flows'][number]): LabFlow {
  return { name: f.name, address: f.address, initiator: f.initiator, responder: f.responder };
}

/**
 * Whether the recorded daemon serves the lab: this process, a process started as its daemon, or
 * one that answers on the lab's socket as that PID (the prompt of `flowmig up`, which serves the
 * lab while it runs, carries no daemon mark on its command line).
 */
async function daemonRuns(
  id: string,
  daemon: { readonly pid: number },
  stateDir: string,
): Promise<boolean> {
  if (daemon.pid === process.pid) return true;
  if (!isAlive(daemon.pid)) return false;
  if (await isOurProcess(daemon.pid, [DAEMON_MARKER, id])) return true;
  return (await runningDaemon(id, stateDir))?.pid === daemon.pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How a migration's rule change and conntrack delete were applied. */
interface Applied {
  readonly steps: StepRecord[];
  readonly path: ApplyPath;
  readonly note?: string;
  readonly totalMs?: number;
}

const NOTHING_MOVED: LiveTcpResult = {
  moved: 0,
  failed: [],
  rolledBack: undefined,
  heldPackets: undefined,
  totalMs: 0,
  queued: { unacked: 0, unsent: 0, unread: 0 },
  steps: [],
};

/** What `readTranslator` returns. */
interface TranslatorView {
  readonly table: KernelFlowTable;
  readonly late: LateState;
  /** The hold table, read when the lab moves TCP connections (policy `migrate`). */
  readonly hold?: HoldState;
}

/**
 * How the translator differs from the desired flow table (empty: it agrees): missing tables or
 * hooks, flows pointing elsewhere, flows flowmig does not know, foreign rules in flowmig's chains.
 */
function driftOf(
  engineName: string,
  desired: readonly FlowMapping[],
  { table, late, hold }: TranslatorView,
): string[] {
  const drift: string[] = [];
  if (hold && !hold.installed) drift.push('the hold table is missing or incomplete');
  if (hold && !hold.queueRules) drift.push('the hold queue rules are missing');
  // Between migrations nothing is held: an element left by a crash would stall its flow's TCP.
  if (hold?.held.length) drift.push(`${hold.held.length} flow(s) held in the hold table`);
  if (!table.installed) drift.push(`the ${engineName} rules are missing or incomplete`);
  if (!late.installed) drift.push('the late-packet table is missing or incomplete');
  if (table.foreignRules)
    drift.push(`${table.foreignRules} foreign or changed rule(s)/chain(s) in flowmig's table`);
  if (late.foreignRules)
    drift.push(`${late.foreignRules} foreign or changed rule(s)/chain(s) in the late table`);
  const kernel = new Map(table.mappings.map((m) => [m.address, m]));
  for (const m of desired) {
    const k = kernel.get(m.address);
    if (!k) drift.push(`flow ${m.address} has no mapping`);
    else if (k.responderAddress !== m.responderAddress || k.initiatorAddress !== m.initiatorAddress)
      drift.push(
        `flow ${m.address} maps ${k.initiatorAddress || '?'} → ${k.responderAddress || '?'}, not ${m.initiatorAddress} → ${m.responderAddress}`,
      );
    if (late.installed && late.initiators.get(m.address) !== m.initiatorAddress)
      drift.push(`flow ${m.address}: the late table names another initiator`);
  }
  const known = new Set(desired.map((m) => m.address));
  for (const k of table.mappings)
    if (!known.has(k.address)) drift.push(`unknown flow ${k.address} in the translator`);
  return drift;
}
