// Applies a planned change to a lab's translator by the first path that works: over netlink from
// this process (in-process), by the lab's agent process, then by running programs; says which path
// it took and why, and keeps (restarts, stands by) the agent behind the in-process path.
import type { ApplyRequest, ApplyResult } from '../agent/agent.js';
import type { AgentClient } from '../agent/client.js';
import type { Engine } from '../engines/engine.js';
import { lateTable } from '../engines/late.js';
import { engineFor } from '../engines/registry.js';
import { execute, nowMs, type StepRecord } from '../exec/execute.js';
import type { Lab, LabFlow } from '../lab/model.js';
import { mappingsFor } from '../plan/build.js';
import type { Op } from '../plan/ops.js';
import type { LabState } from '../state/store.js';
import { type AgentHandle, connectAgent, startAgent, stopAgent } from './agent-process.js';
import { InProcessAgents } from './in-process.js';
import type { ControlContext } from './lab-state.js';
import { type NetlinkChange, netlinkChange, netlinkSteps } from './netlink-request.js';
import type { ApplyPath, ControlPath } from './results.js';

/** How a change's rule transaction and conntrack deletes were applied. */
export interface Applied {
  readonly steps: StepRecord[];
  readonly path: ApplyPath;
  /** Why the path is not the first one, or what else happened on the way. */
  readonly note?: string;
  /** The netlink path's own time (rule, conntrack pass), when it took one. */
  readonly totalMs?: number;
}

/**
 * A planned change: its ops, and every flow after it (for a restatement when the agent failed;
 * a function when making the list costs more than the change: a batch in a lab of 100,000 flows).
 */
export interface PlannedChange {
  readonly ops: readonly Op[];
  readonly flows: readonly LabFlow[] | (() => readonly LabFlow[]);
}

/** What this module asks of a connection to the agent (AgentClient; a fake in tests). */
export type AgentConnection = Pick<
  AgentClient,
  'apply' | 'hello' | 'hold' | 'release' | 'standby' | 'usable' | 'unref' | 'close'
>;

/** The agent process's lifecycle (agent-process.ts; a fake in tests). */
export interface AgentProcesses {
  start(
    init: { netns: string; id: string; stateDir: string },
    record: (h: AgentHandle) => Promise<void>,
  ): Promise<AgentHandle>;
  connect(h: AgentHandle, id: string): Promise<AgentConnection | string>;
  stop(h: AgentHandle, id: string): Promise<void>;
}

/** The in-process agents, one per lab (in-process.ts; a fake in tests). */
export interface LocalAgents {
  unavailable(): string | undefined;
  get(lab: string, netns: string): Promise<{ apply(req: ApplyRequest): Promise<ApplyResult> }>;
  peek(lab: string): Promise<{ readonly index: { readonly size: number } }> | undefined;
  drop(lab: string): void;
  closeAll(): void;
}

export interface ApplyPathOptions {
  /** Run and use the lab's agent process (engines with a netlink path). */
  readonly agent: boolean;
  /** Try the in-process path first (engines with a netlink path). */
  readonly inProcess: boolean;
  readonly local?: LocalAgents;
  readonly agents?: AgentProcesses;
}

const AGENT_PROCESSES: AgentProcesses = {
  start: startAgent,
  connect: connectAgent,
  stop: stopAgent,
};

const joined = (a: string | undefined, b: string | undefined) => (a && b ? `${a}; ${b}` : (a ?? b));

export class ApplyPaths {
  private readonly useAgent: boolean;
  private readonly inProcess: boolean;
  private readonly local: LocalAgents;
  private readonly agents: AgentProcesses;
  /** Per lab: the connection to its agent this controller keeps (see agentFor). */
  private readonly agentClients = new Map<string, { pid: number; client: AgentConnection }>();
  /** Per lab: the agent process told to stand by (see standAgentBy). */
  private readonly agentsStandingBy = new Map<string, number>();

  constructor(
    private readonly ctx: ControlContext,
    options: ApplyPathOptions,
  ) {
    this.useAgent = options.agent;
    this.inProcess = options.inProcess;
    this.local = options.local ?? new InProcessAgents();
    this.agents = options.agents ?? AGENT_PROCESSES;
  }

  /** Whether `up` starts an agent for the lab: its engine has a netlink path and agents are on. */
  wantsAgent(lab: Lab): boolean {
    return engineFor(lab.engine).fastPath !== undefined && this.useAgent;
  }

  /**
   * Applies a planned change. Order: in-process (when on and the ops are element edits), the
   * agent, programs; each path that fails or is unavailable says why in the result's note.
   */
  async apply(state: LabState, lab: Lab, p: PlannedChange): Promise<Applied> {
    if (p.ops.length === 0) return { steps: [], path: 'programs' };
    const engine = engineFor(lab.engine);
    const change = netlinkChange(engine, p.ops);
    let localNote: string | undefined;
    if (change && this.inProcess) {
      const local = await this.applyInProcess(state, lab, change);
      if ('applied' in local) return local.applied;
      localNote = local.note;
    }
    // Asked even when the ops need programs: a dead agent is restarted (and said so) either way.
    const got = await this.agentFor(state, lab);
    const note = joined(localNote, got.note);
    if (got.client && change) {
      try {
        return await this.applyByAgent(got.client, change, note);
      } catch (error) {
        return this.restateAfterAgentFailure(state, lab, engine, p, change, error, localNote);
      }
    }
    return {
      steps: await execute(this.ctx.runner, p.ops),
      path: 'programs',
      ...(note ? { note } : {}),
    };
  }

  private async applyInProcess(
    state: LabState,
    lab: Lab,
    change: NetlinkChange,
  ): Promise<{ applied: Applied } | { note: string }> {
    const why = this.local.unavailable();
    if (why) return { note: `in-process path unavailable (${why})` };
    try {
      const startedAt = nowMs();
      const agent = await this.local.get(lab.id, lab.translator.netns);
      const r = await agent.apply(change.request);
      const totalMs = nowMs() - startedAt;
      await this.standAgentBy(state, lab);
      return {
        applied: { steps: netlinkSteps(change, r, startedAt), path: 'in-process', totalMs },
      };
    } catch (error) {
      // Sockets in a namespace that changed, or a failed batch: the next call starts anew.
      this.local.drop(lab.id);
      return { note: `in-process path failed (${(error as Error).message})` };
    }
  }

  private async applyByAgent(
    client: AgentConnection,
    change: NetlinkChange,
    note: string | undefined,
  ): Promise<Applied> {
    const { table, edits, conntrack, after = [] } = change.request;
    const startedAt = nowMs();
    const r = await client.apply(table, edits, conntrack, after);
    const totalMs = nowMs() - startedAt;
    const steps = netlinkSteps(change, r, startedAt);
    if (after.length > 0 && r.releaseMs === undefined && !r.releasing) {
      // An agent that did not apply `after` (an older build): the programs do it.
      steps.push(...(await execute(this.ctx.runner, change.later)));
      const why = 'the agent did not apply the release step; the programs did';
      return { steps, path: 'agent', totalMs, note: joined(note, why) };
    }
    return { steps, path: 'agent', totalMs, ...(note ? { note } : {}) };
  }

  /**
   * The agent failed or hung: it is stopped (the next change starts a fresh one), and as its batch
   * may or may not have been committed, the programs set the whole table (idempotent). The
   * late-packet grace of this change is not restated (its late packets may be lost).
   */
  private async restateAfterAgentFailure(
    state: LabState,
    lab: Lab,
    engine: Engine,
    p: PlannedChange,
    change: NetlinkChange,
    error: unknown,
    localNote: string | undefined,
  ): Promise<Applied> {
    this.forgetAgentClient(lab.id);
    if (state.agent) await this.agents.stop(state.agent, lab.id);
    state.agent = undefined;
    state.agentError = `agent failed: ${(error as Error).message}`;
    // Recorded now: a migration's commit records its flows, not the agent.
    await this.ctx.store.write(state);
    const all = mappingsFor(lab, typeof p.flows === 'function' ? p.flows() : p.flows);
    const t = lab.translator.netns;
    const steps = await execute(this.ctx.runner, [
      engine.replace(t, all),
      lateTable.replace(t, all),
      ...p.ops.filter((o) => o.kind === 'conntrackDelete'),
      ...change.later,
    ]);
    const why = `agent failed (${(error as Error).message}); used the programs instead`;
    return { steps, path: 'programs', note: joined(localNote, why) };
  }

  /** Starts the lab's agent, recording it (or why it could not start) in the state. */
  async startAgent(state: LabState, lab: Lab): Promise<AgentHandle> {
    const { store } = this.ctx;
    try {
      const h = await this.agents.start(
        { netns: lab.translator.netns, id: lab.id, stateDir: store.dir },
        async (spawned) => {
          state.agent = spawned;
          await store.write(state);
        },
      );
      state.agentError = undefined;
      await store.write(state);
      return h;
    } catch (error) {
      state.agent = undefined;
      state.agentError = (error as Error).message;
      await store.write(state);
      throw error;
    }
  }

  /**
   * A connection to the lab's agent, restarting the agent if it died; or, with no client, the
   * reason the programs are used. Nothing when the engine has no netlink path or agents are off.
   */
  async agentFor(state: LabState, lab: Lab): Promise<{ client?: AgentConnection; note?: string }> {
    if (!this.wantsAgent(lab)) return {};
    let reason = state.agentError ?? 'no agent was started';
    if (state.agent) {
      // A long-lived controller (the daemon, an experiment) keeps its connection to the agent:
      // no connect per migration. A dead agent closes it, and then a new one is made.
      const kept = this.agentClients.get(lab.id);
      if (kept?.pid === state.agent.pid && kept.client.usable) return { client: kept.client };
      this.forgetAgentClient(lab.id);
      const c = await this.agents.connect(state.agent, lab.id);
      if (typeof c !== 'string')
        return { client: this.keepAgentClient(lab.id, state.agent.pid, c) };
      reason = c;
      await this.agents.stop(state.agent, lab.id);
    }
    try {
      const h = await this.startAgent(state, lab);
      const c = await this.agents.connect(h, lab.id);
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

  private keepAgentClient(id: string, pid: number, client: AgentConnection): AgentConnection {
    client.unref();
    this.agentClients.set(id, { pid, client });
    return client;
  }

  private forgetAgentClient(id: string): void {
    this.agentClients.get(id)?.client.close();
    this.agentClients.delete(id);
  }

  /**
   * Once this controller migrates in-process, the lab's agent (kept as the fallback) stops
   * following conntrack events: it would be woken by every one of them for nothing, on the CPU the
   * migrations need. Once per agent process; best effort (a dead agent is left to agentFor).
   */
  private async standAgentBy(state: LabState, lab: Lab): Promise<void> {
    const agent = state.agent;
    if (!agent || this.agentsStandingBy.get(lab.id) === agent.pid) return;
    this.agentsStandingBy.set(lab.id, agent.pid);
    const kept = this.agentClients.get(lab.id);
    const c =
      kept?.pid === agent.pid && kept.client.usable
        ? kept.client
        : await this.agents.connect(agent, lab.id);
    if (typeof c === 'string') return;
    await c.standby().catch(() => {});
    if (c !== kept?.client) c.close();
  }

  /** The path the next change of the lab takes, and why (asking the agent itself). */
  async controlPath(state: LabState, lab: Lab): Promise<ControlPath> {
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
    const c = await this.agents.connect(state.agent, lab.id);
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

  /** Forgets what is kept for lab `id` (its agent connection, its in-process sockets). */
  forget(id: string): void {
    this.forgetAgentClient(id);
    this.local.drop(id);
  }

  /** Closes everything kept open; the paths stay usable (they reopen on the next change). */
  close(): void {
    this.local.closeAll();
    for (const id of [...this.agentClients.keys()]) this.forgetAgentClient(id);
  }
}
