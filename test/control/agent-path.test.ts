// The controller's agent path against a fake agent: a marked process (so flowmig takes it for the
// lab's agent) and a Unix socket served here that records the requests and answers them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { ApplyResult } from '../../src/agent/agent.js';
import type { AgentReply, AgentRequest } from '../../src/agent/protocol.js';
import { Flowmig } from '../../src/control/flowmig.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { isRunning } from '../../src/procs/find.js';
import { lineReader } from '../../src/rpc/lines.js';
import { referenceLab, TWO_CLIENTS_LAB } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

const ID = 't1-default';

type Apply = Extract<AgentRequest, { op: 'apply' }>;

/** What a real agent answers for an apply; `releaseMs` only when there was an `after`. */
const answer = (req: Apply): ApplyResult => ({
  ruleMs: 1,
  conntrackMs: 2,
  totalMs: 3,
  ...(req.after?.length ? { releaseMs: 0.5 } : {}),
  deleted: 4,
  lookup: 'index',
});

/** The release's one edit: the new responders made absent from the late set. */
const released = (absent: string[][]) => [
  {
    table: 'flowmig_late',
    map: 'late_from',
    set: true,
    remove: [],
    add: [],
    absent,
    timeoutMs: 5000,
  },
];

describe('Flowmig’s agent path (a fake agent)', () => {
  let root = '';
  let n = 0;
  let server: Server;
  let socket = '';
  let child: ChildProcess;
  let requests: Apply[];
  let reply: (req: Apply) => AgentReply;
  let runner: RecordingRunner;
  let fm: Flowmig;
  const conns = new Set<Socket>();

  before(async () => {
    root = await tempDir('agent-path');
  });
  after(async () => {
    await removeDir(root);
  });

  beforeEach(async () => {
    requests = [];
    reply = (req) => ({ id: req.id, ok: true, ...answer(req) });
    socket = `${root}/a${n}.sock`;
    server = createServer((conn) => {
      conns.add(conn);
      conn.on('close', () => conns.delete(conn));
      conn.on('error', () => {});
      conn.on(
        'data',
        lineReader((line) => {
          const req = JSON.parse(line) as AgentRequest;
          if (req.op !== 'apply') {
            conn.write(`${JSON.stringify({ id: req.id, ok: false, error: 'unexpected' })}\n`);
            return;
          }
          requests.push(req);
          conn.write(`${JSON.stringify(reply(req))}\n`);
        }),
      );
    });
    server.listen(socket);
    await once(server, 'listening');
    // flowmig checks the recorded PID's command line for the agent's marker and the lab id.
    child = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 60_000)', '--', '--flowmig-agent', ID],
      { stdio: 'ignore' },
    );
    runner = new RecordingRunner((call) =>
      call.argv[0] === 'conntrack'
        ? { stderr: 'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n' }
        : undefined,
    );
    // The agent path itself: the in-process path (tried first by default) is off.
    fm = new Flowmig({
      stateDir: `${root}/state-${n++}`,
      runner,
      preflight: false,
      agent: true,
      inProcess: false,
    });
  });

  afterEach(async () => {
    for (const c of conns) c.destroy();
    server.close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  /** Records `lab` as up (nftables, so it has a fast path) with the fake agent as its agent. */
  async function upWithAgent(lab: Lab): Promise<void> {
    const pid = child.pid ?? assert.fail('no pid');
    await fm.store.write(stateOf(lab, { agent: { pid, socket, log: `${root}/agent.log` } }));
  }

  const lab = (input: LabDescriptionInput = REFERENCE_LAB) =>
    input === REFERENCE_LAB
      ? referenceLab({ prefix: 't1-' })
      : resolveLab(input, { prefix: 't1-' });

  it('a swap: the rule edits, the conntrack targets, and the release as `after`', async () => {
    await upWithAgent(lab());
    const result = await fm.swap(ID);
    assert.equal(result.path, 'agent');
    assert.equal(result.note, undefined);
    assert.deepEqual(runner.lines(), [], 'no program runs');
    assert.equal(requests.length, 1);
    const [req] = requests;
    assert.equal(req?.table, 'flowmig');
    // The rule transaction: the engine's maps and C as a former responder; nothing absent.
    assert.deepEqual(req?.edits, [
      {
        map: 'dnat_to',
        remove: [['fc00::1', 'fe00::1']],
        add: [['fc00::1', 'fe00::1', 'fc02::2']],
      },
      {
        map: 'dnat_back',
        remove: [['fc01::1', 'fe00::1']],
        add: [['fc02::2', 'fe00::1', 'fc00::1']],
      },
      {
        table: 'flowmig_late',
        map: 'late_from',
        set: true,
        remove: [],
        add: [['fc01::1', 'fe00::1']],
        timeoutMs: 5000,
      },
    ]);
    assert.deepEqual(req?.conntrack, [{ address: 'fe00::1', keepReplySrc: 'fc02::2' }]);
    // After the conntrack deletes (a second transaction): D leaves the late set.
    assert.deepEqual(req?.after, released([['fc02::2', 'fe00::1']]));
  });

  it('reports the release as a step after the conntrack pass, with the agent’s releaseMs', async () => {
    await upWithAgent(lab());
    const result = await fm.swap(ID);
    const steps = result.steps.map((s) => ({
      kind: s.op.kind,
      offset: s.startedAt - (result.steps[0]?.startedAt ?? 0),
      durationMs: s.durationMs,
      deleted: s.deleted,
    }));
    assert.deepEqual(steps, [
      { kind: 'netfilterApply', offset: 0, durationMs: 1, deleted: undefined },
      { kind: 'conntrackDelete', offset: 1, durationMs: 2, deleted: 4 },
      { kind: 'netfilterApply', offset: 3, durationMs: 0.5, deleted: undefined },
    ]);
    const release = result.steps[2]?.op;
    assert.ok(release?.kind === 'netfilterApply');
    assert.deepEqual(release.edits, released([['fc02::2', 'fe00::1']]));
    assert.equal(result.ruleMs, 1);
    assert.equal(result.conntrackMs, 2);
    assert.equal(result.conntrackDeleted, 4);
    assert.equal((await fm.store.read(ID))?.flows[0]?.responder, 'D');
  });

  it('a swap back: the returning responder C is released', async () => {
    await upWithAgent(lab());
    await fm.swap(ID);
    await fm.swap(ID);
    assert.equal(requests.length, 2);
    const late = requests[1]?.edits.find((e) => e.map === 'late_from');
    assert.deepEqual(late?.add, [['fc02::2', 'fe00::1']]);
    assert.equal(late && 'absent' in late, false);
    assert.deepEqual(requests[1]?.after, released([['fc01::1', 'fe00::1']]));
  });

  it('an evacuation: one request, every moved flow released in one `after` edit', async () => {
    const two: LabDescriptionInput = {
      ...REFERENCE_LAB,
      flows: [
        { address: 'fe00::1', initiator: 'A', responder: 'C' },
        { address: 'fe00::2', initiator: 'A', responder: 'C' },
      ],
    };
    await upWithAgent(lab(two));
    const result = await fm.evacuate(ID, 'C', 'D');
    assert.equal(result.moved, 2);
    assert.equal(result.path, 'agent');
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0]?.conntrack, [
      { address: 'fe00::1', keepReplySrc: 'fc02::2' },
      { address: 'fe00::2', keepReplySrc: 'fc02::2' },
    ]);
    assert.deepEqual(
      requests[0]?.after,
      released([
        ['fc02::2', 'fe00::1'],
        ['fc02::2', 'fe00::2'],
      ]),
    );
  });

  it('an initiator move: nobody to release, so the request has no `after`', async () => {
    await upWithAgent(lab({ ...TWO_CLIENTS_LAB, name: 'default' }));
    const result = await fm.migrate(ID, 'fe00::1', 'E');
    assert.equal(result.path, 'agent');
    assert.equal(requests.length, 1);
    assert.equal('after' in (requests[0] ?? {}), false);
    assert.deepEqual(
      result.steps.map((s) => s.op.kind),
      ['netfilterApply', 'conntrackDelete'],
    );
  });

  it('graceSeconds 0: no former responder, no `after`', async () => {
    await upWithAgent(lab({ ...REFERENCE_LAB, graceSeconds: 0 }));
    await fm.swap(ID);
    assert.equal(requests.length, 1);
    assert.equal('after' in (requests[0] ?? {}), false);
    assert.equal(
      requests[0]?.edits.some((e) => (e as { table?: string }).table === 'flowmig_late'),
      false,
    );
  });

  it('the agent fails: the programs restate the tables, delete conntrack, then release', async () => {
    reply = (req) => ({ id: req.id, ok: false, error: 'netlink: No buffer space available' });
    await upWithAgent(lab());
    const pid = child.pid ?? assert.fail('no pid');
    const result = await fm.swap(ID);
    assert.equal(result.path, 'programs');
    assert.match(result.note ?? '', /^agent failed \(agent: netlink: No buffer space available\)/);
    assert.deepEqual(runner.lines(), [
      'ip netns exec t1-B nft -f -',
      'ip netns exec t1-B nft -f -',
      'ip netns exec t1-B conntrack -D -f ipv6 --orig-dst fe00::1',
      'ip netns exec t1-B nft -f -',
    ]);
    assert.match(runner.calls[0]?.stdin ?? '', /^flush map ip6 flowmig dnat_to$/m);
    assert.match(runner.calls[1]?.stdin ?? '', /^flush map ip6 flowmig_late initiator_of$/m);
    // The release still follows the conntrack delete.
    assert.equal(
      runner.calls[3]?.stdin,
      [
        'add element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        'delete element ip6 flowmig_late late_from { fc02::2 . fe00::1 }',
        '',
      ].join('\n'),
    );
    // The failed agent was stopped and forgotten.
    assert.equal(await isRunning(pid), false);
    const state = await fm.store.read(ID);
    assert.equal(state?.agent, undefined);
    assert.match(state?.agentError ?? '', /^agent failed: /);
    assert.equal(state?.flows[0]?.responder, 'D');
  });
});
