// The apply paths' fallback order and the reason each result gives, against fakes of the
// in-process agents, the agent process and the programs (a recording runner): no root, no process.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApplyRequest, ApplyResult } from '../../src/agent/agent.js';
import type { HelloReply } from '../../src/agent/protocol.js';
import type { AgentHandle } from '../../src/control/agent-process.js';
import {
  type AgentConnection,
  type AgentProcesses,
  ApplyPaths,
  type LocalAgents,
} from '../../src/control/apply-path.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import type { Lab } from '../../src/lab/model.js';
import { type MigrationPlan, planSwap } from '../../src/plan/migrate.js';
import { type LabState, StateStore } from '../../src/state/store.js';
import { referenceLab } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

/** What a netlink path answers: rule, conntrack pass, and the release when there was one. */
const answer = (req: ApplyRequest, withRelease = true): ApplyResult => ({
  ruleMs: 1,
  conntrackMs: 2,
  totalMs: 3,
  ...(withRelease && req.after?.length ? { releaseMs: 0.5 } : {}),
  deleted: 4,
  lookup: 'index',
});

class FakeLocal implements LocalAgents {
  why: string | undefined;
  failure: Error | undefined;
  readonly requests: ApplyRequest[] = [];
  readonly dropped: string[] = [];
  unavailable(): string | undefined {
    return this.why;
  }
  async get(_lab: string, _netns: string) {
    return {
      apply: async (req: ApplyRequest) => {
        this.requests.push(req);
        if (this.failure) throw this.failure;
        return answer(req);
      },
    };
  }
  peek() {
    return undefined;
  }
  drop(lab: string): void {
    this.dropped.push(lab);
  }
  closeAll(): void {}
}

class FakeAgents implements AgentProcesses {
  readonly running = new Set<number>();
  readonly log: string[] = [];
  readonly requests: ApplyRequest[] = [];
  nextPid = 1000;
  startFailure: Error | undefined;
  applyFailure: Error | undefined;
  /** An agent that answers without applying `after` (an older build). */
  noRelease = false;

  async start(
    init: { netns: string; id: string; stateDir: string },
    record: (h: AgentHandle) => Promise<void>,
  ): Promise<AgentHandle> {
    this.log.push('start');
    if (this.startFailure) throw this.startFailure;
    const h = { pid: this.nextPid++, socket: `${init.stateDir}/a.sock`, log: 'a.log' };
    await record(h);
    this.running.add(h.pid);
    return h;
  }

  async connect(h: AgentHandle): Promise<AgentConnection | string> {
    this.log.push(`connect ${h.pid}`);
    if (!this.running.has(h.pid)) return `agent (pid ${h.pid}) is not running`;
    const agents = this;
    let open = true;
    const c = {
      get usable() {
        return open && agents.running.has(h.pid);
      },
      unref() {},
      close() {
        open = false;
      },
      async apply(
        table: string,
        edits: ApplyRequest['edits'],
        conntrack: ApplyRequest['conntrack'],
        after: ApplyRequest['edits'] = [],
      ) {
        const req = { table, edits, conntrack, after };
        agents.requests.push(req);
        if (agents.applyFailure) throw agents.applyFailure;
        return answer(req, !agents.noRelease);
      },
      async hello() {
        return { pid: h.pid, indexing: true, entries: 7 } as HelloReply;
      },
      async standby() {
        agents.log.push(`standby ${h.pid}`);
      },
      async hold() {
        return { holdMs: 0 };
      },
      async release() {
        return { releaseMs: 0, released: 0 };
      },
    };
    return c;
  }

  async stop(h: AgentHandle): Promise<void> {
    this.log.push(`stop ${h.pid}`);
    this.running.delete(h.pid);
  }
}

describe('ApplyPaths: the fallback order and why', () => {
  let root = '';
  let n = 0;
  let store: StateStore;
  let runner: RecordingRunner;
  let local: FakeLocal;
  let agents: FakeAgents;
  let lab: Lab;
  let state: LabState;
  let swap: MigrationPlan;

  before(async () => {
    root = await tempDir('apply-path');
  });
  after(async () => {
    await removeDir(root);
  });
  beforeEach(() => {
    store = new StateStore(`${root}/state-${n++}`);
    runner = new RecordingRunner((call) =>
      call.argv[0] === 'conntrack'
        ? { stderr: 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n' }
        : undefined,
    );
    local = new FakeLocal();
    agents = new FakeAgents();
    lab = referenceLab({ prefix: 't1-' });
    state = stateOf(lab);
    swap = planSwap(lab, nftablesEngine, lab.flows, undefined);
  });

  const paths = (options: { agent?: boolean; inProcess?: boolean } = {}) =>
    new ApplyPaths(
      { store, runner },
      { agent: options.agent ?? true, inProcess: options.inProcess ?? true, local, agents },
    );
  /** Records a running agent for the lab, as `up` would. */
  const withAgent = async (p: ApplyPaths) => (await p.startAgent(state, lab)).pid;

  it('in-process first: one request, the agent told to stand by once, no program runs', async () => {
    const p = paths();
    const pid = await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'in-process');
    assert.equal(r.note, undefined);
    assert.equal(local.requests.length, 1);
    assert.equal(local.requests[0]?.table, 'flowmig');
    assert.deepEqual(local.requests[0]?.conntrack, [
      { address: 'fe00::1', keepReplySrc: 'fc02::2' },
    ]);
    assert.deepEqual(
      r.steps.map((s) => [s.op.kind, s.durationMs]),
      [
        ['netfilterApply', 1],
        ['conntrackDelete', 2],
        ['netfilterApply', 0.5],
      ],
    );
    await p.apply(state, lab, planSwap(lab, nftablesEngine, swap.flows, undefined));
    assert.deepEqual(
      agents.log.filter((l) => l.startsWith('standby')),
      [`standby ${pid}`],
      'once per agent process',
    );
    assert.deepEqual(agents.requests, []);
    assert.deepEqual(runner.calls, []);
  });

  it('in-process unavailable: the agent applies it, and the note says why', async () => {
    local.why = 'the native netlink addon is not available: not built';
    const p = paths();
    await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'agent');
    assert.equal(
      r.note,
      'in-process path unavailable (the native netlink addon is not available: not built)',
    );
    assert.equal(local.requests.length, 0);
    assert.equal(agents.requests.length, 1);
  });

  it('in-process fails: its sockets are dropped, the agent applies it, the note says why', async () => {
    local.failure = new Error('netlink: Operation not permitted');
    const p = paths();
    await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'agent');
    assert.equal(r.note, 'in-process path failed (netlink: Operation not permitted)');
    assert.deepEqual(local.dropped, [lab.id]);
    assert.equal(agents.requests.length, 1);
  });

  it('in-process off: the agent, with no note; its connection is kept for the next change', async () => {
    const p = paths({ inProcess: false });
    const pid = await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.deepEqual([r.path, r.note], ['agent', undefined]);
    await p.apply(state, lab, planSwap(lab, nftablesEngine, swap.flows, undefined));
    assert.equal(local.requests.length, 0);
    assert.equal(agents.requests.length, 2);
    assert.deepEqual(agents.log, ['start', `connect ${pid}`], 'one connect for both');
  });

  it('a dead agent is restarted, and the note says so', async () => {
    const p = paths({ inProcess: false });
    const pid = await withAgent(p);
    agents.running.delete(pid);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'agent');
    assert.equal(r.note, `agent (pid ${pid}) is not running; restarted it (pid ${pid + 1})`);
    assert.equal(state.agent?.pid, pid + 1, 'the new agent is recorded');
  });

  it('no agent and a restart that fails: the programs, and the note says both', async () => {
    agents.startFailure = new Error('the agent did not start: timeout');
    const p = paths({ inProcess: false });
    state.agentError = 'no answer within 5 s';
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'programs');
    assert.equal(
      r.note,
      'no answer within 5 s; restart failed: the agent did not start: timeout; used the programs instead',
    );
    // The planned ops as they are: rule, conntrack delete, release.
    assert.deepEqual(
      runner.calls.map((c) => c.argv[0]),
      swap.ops.map((o) => (o.kind === 'conntrackDelete' ? 'conntrack' : 'nft')),
    );
  });

  it('both netlink paths fail: the programs restate the tables, and the note says why', async () => {
    local.failure = new Error('batch refused');
    agents.applyFailure = new Error('agent: netlink: No buffer space available');
    const p = paths();
    const pid = await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'programs');
    assert.equal(
      r.note,
      'in-process path failed (batch refused); agent failed (agent: netlink: No buffer space available); used the programs instead',
    );
    // Whole table, late table, the conntrack delete, the release.
    assert.deepEqual(
      runner.calls.map((c) => c.argv.join(' ')),
      ['nft -f -', 'nft -f -', 'conntrack -D -f ipv6 --orig-dst fe00::1', 'nft -f -'],
    );
    assert.match(runner.calls[0]?.stdin ?? '', /^flush map ip6 flowmig dnat_to$/m);
    assert.ok(agents.log.includes(`stop ${pid}`), 'the failed agent is stopped');
    assert.equal(state.agent, undefined);
    assert.equal(state.agentError, 'agent failed: agent: netlink: No buffer space available');
  });

  it('an agent that does not apply the release: the programs do, and the note says so', async () => {
    agents.noRelease = true;
    const p = paths({ inProcess: false });
    await withAgent(p);
    const r = await p.apply(state, lab, swap);
    assert.equal(r.path, 'agent');
    assert.equal(r.note, 'the agent did not apply the release step; the programs did');
    assert.deepEqual(
      runner.calls.map((c) => c.argv.join(' ')),
      ['nft -f -'],
    );
  });

  it('an engine with no netlink path: the programs, no agent asked, no note', async () => {
    const ipt = referenceLab({ prefix: 't1-', engine: 'iptables' });
    const p = paths();
    const r = await p.apply(stateOf(ipt), ipt, planSwap(ipt, iptablesEngine, ipt.flows, undefined));
    assert.deepEqual([r.path, r.note], ['programs', undefined]);
    assert.deepEqual(agents.log, []);
    assert.deepEqual(local.requests, []);
    assert.ok(runner.calls.length > 0);
  });

  it('agents off: in-process still first; without it the programs, with no note', async () => {
    const on = await paths({ agent: false }).apply(state, lab, swap);
    assert.deepEqual([on.path, on.note], ['in-process', undefined]);
    const off = await paths({ agent: false, inProcess: false }).apply(state, lab, swap);
    assert.deepEqual([off.path, off.note], ['programs', undefined]);
    assert.deepEqual(agents.log, []);
  });

  it('nothing to change: no path is asked', async () => {
    const r = await paths().apply(state, lab, { ops: [], flows: lab.flows });
    assert.deepEqual(r, { steps: [], path: 'programs' });
    assert.deepEqual(agents.log, []);
    assert.deepEqual(runner.calls, []);
  });

  describe('controlPath: the next change’s path, and why', () => {
    it('in-process when on and available', async () => {
      assert.deepEqual(await paths().controlPath(state, lab), {
        kind: 'in-process',
        conntrackIndexed: undefined,
      });
    });

    it('the agent, as it answers, when in-process is unavailable', async () => {
      local.why = 'not built';
      const p = paths();
      const pid = await withAgent(p);
      assert.deepEqual(await p.controlPath(state, lab), {
        kind: 'agent',
        pid,
        conntrackIndexed: 7,
      });
    });

    it('the programs, and why: no fast path, agents off, none started, a dead one', async () => {
      const ipt = referenceLab({ prefix: 't1-', engine: 'iptables' });
      assert.deepEqual(await paths().controlPath(stateOf(ipt), ipt), {
        kind: 'programs',
        reason: 'engine iptables has no fast path',
      });
      assert.deepEqual(await paths({ agent: false, inProcess: false }).controlPath(state, lab), {
        kind: 'programs',
        reason: 'the agent is turned off (FLOWMIG_AGENT=off)',
      });
      const p = paths({ inProcess: false });
      assert.deepEqual(await p.controlPath(state, lab), {
        kind: 'programs',
        reason: 'no agent was started',
      });
      const pid = await withAgent(p);
      agents.running.delete(pid);
      assert.deepEqual(await p.controlPath(state, lab), {
        kind: 'programs',
        reason: `agent (pid ${pid}) is not running; the next migration restarts it`,
      });
    });
  });
});
