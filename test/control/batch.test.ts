// changeFlows on a netlink path (a fake in-process agent): a round is one request (one rule
// transaction, one conntrack pass, one release), a batch one journal entry; each move's result
// shows its own part of its round; the held state finds flows by any name and records moves.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApplyRequest, ApplyResult } from '../../src/agent/agent.js';
import { ApplyPaths, type LocalAgents } from '../../src/control/apply-path.js';
import { changeFlows, type MoveOutcome } from '../../src/control/batch.js';
import { HeldLab } from '../../src/control/held.js';
import { toStateFlow } from '../../src/control/lab-state.js';
import type { MigrationContext } from '../../src/control/migrations.js';
import type { MigrationResult } from '../../src/control/results.js';
import type { MapEdit } from '../../src/engines/engine.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { StateStore } from '../../src/state/store.js';
import { THREE_SERVERS_LAB } from '../support/labs.js';
import { stateOf } from '../support/state.js';
import { removeDir, tempDir } from '../support/tmp.js';

/** An in-process agent that records each request and answers with a pass that deleted 5. */
class FakeLocal implements LocalAgents {
  readonly requests: ApplyRequest[] = [];
  unavailable(): string | undefined {
    return undefined;
  }
  async get() {
    return {
      apply: async (req: ApplyRequest): Promise<ApplyResult> => {
        this.requests.push(req);
        return {
          ruleMs: 1,
          conntrackMs: 2,
          totalMs: 3,
          releaseMs: 0.5,
          deleted: 5,
          lookup: 'index',
        };
      },
    };
  }
  peek() {
    return undefined;
  }
  drop(): void {}
  closeAll(): void {}
}

const LAB = {
  ...THREE_SERVERS_LAB,
  name: 'batch',
  flows: [
    { name: 'one', address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'C' },
    { address: 'fe00::3', initiator: 'A', responder: 'D' },
  ],
};

const ok = (o: MoveOutcome | undefined): MigrationResult => {
  assert.ok(o?.ok, `expected a result, got ${o && !o.ok ? o.error.message : 'nothing'}`);
  return o.result;
};

/** The flows an edit names (the abstract address is in every element). */
const flowsOf = (edits: readonly MapEdit[]) =>
  [
    ...new Set(
      edits.flatMap((e) =>
        [...e.remove, ...e.add, ...(e.absent ?? [])].flatMap((k) =>
          k.filter((part) => part.startsWith('fe00:')),
        ),
      ),
    ),
  ].sort();

describe('changeFlows on a netlink path', () => {
  let root = '';
  let n = 0;
  let store: StateStore;
  let local: FakeLocal;
  let ctx: MigrationContext;
  let lab: Lab;
  let held: HeldLab;

  before(async () => {
    root = await tempDir('batch');
  });
  after(async () => {
    await removeDir(root);
  });
  beforeEach(async () => {
    store = new StateStore(`${root}/state-${n++}`);
    const runner = new RecordingRunner(() => undefined);
    local = new FakeLocal();
    const base = { store, runner };
    ctx = { ...base, paths: new ApplyPaths(base, { agent: false, inProcess: true, local }) };
    lab = resolveLab(LAB, { prefix: 'b1-' });
    await store.write(stateOf(lab, { flows: lab.flows.map(toStateFlow) }));
    const state = await store.read(lab.id);
    assert.ok(state);
    held = new HeldLab(state);
  });

  const journalLines = async () =>
    (await readFile(store.journalPath(lab.id), 'utf8').catch(() => '')).split('\n').filter(Boolean);

  it('distinct flows: one request with every flow’s edits, conntrack targets and release', async () => {
    const outcomes = await changeFlows(ctx, held, [
      { kind: 'swap', flow: 'one' },
      { kind: 'migrate', flow: 'fe00::2', node: 'E' },
      { kind: 'swap', flow: 'fe00::3' },
    ]);
    assert.equal(local.requests.length, 1);
    const [req] = local.requests;
    assert.ok(req);
    assert.deepEqual(flowsOf(req.edits), ['fe00::1', 'fe00::2', 'fe00::3']);
    assert.deepEqual(req.conntrack, [
      { address: 'fe00::1', keepReplySrc: 'fc02::2' },
      { address: 'fe00::2', keepReplySrc: 'fc03::1' },
      { address: 'fe00::3', keepReplySrc: 'fc03::1' },
    ]);
    assert.deepEqual(flowsOf(req.after ?? []), ['fe00::1', 'fe00::2', 'fe00::3']);
    const results = outcomes.map(ok);
    assert.deepEqual(
      results.map((r) => [
        r.flow,
        r.from,
        r.to,
        r.path,
        r.batched,
        r.ruleMs,
        r.conntrackMs,
        r.conntrackDeleted,
      ]),
      [
        ['fe00::1', 'C', 'D', 'in-process', 3, 1, 2, 5],
        ['fe00::2', 'C', 'E', 'in-process', 3, 1, 2, 5],
        ['fe00::3', 'D', 'E', 'in-process', 3, 1, 2, 5],
      ],
    );
    // Each result shows its own part of the round: no other flow's edits.
    for (const r of results) {
      assert.deepEqual(
        r.steps.map((s) => s.op.kind),
        ['netfilterApply', 'conntrackDelete', 'netfilterApply'],
      );
      for (const s of r.steps) {
        if (s.op.kind === 'conntrackDelete') assert.equal(s.op.origDst, r.flow);
        if (s.op.kind === 'netfilterApply') assert.deepEqual(flowsOf(s.op.edits ?? []), [r.flow]);
      }
    }
    // The held state and the files record the batch, in one journal entry.
    assert.deepEqual(
      held.all().map((f) => f.responder),
      ['D', 'E', 'E'],
    );
    assert.equal((await journalLines()).length, 1);
    const read = await store.read(lab.id);
    assert.deepEqual(
      read?.flows.map((f) => f.responder),
      ['D', 'E', 'E'],
    );
    assert.equal(read?.migrations, 3);
    assert.equal(read?.lastMigration?.flow, 'fe00::3');
  });

  it('a flow twice: two requests, in order; one journal entry for the batch', async () => {
    const outcomes = await changeFlows(ctx, held, [
      { kind: 'swap', flow: 'fe00::1' },
      { kind: 'swap', flow: 'fe00::2' },
      { kind: 'swap', flow: 'fe00::1' },
    ]);
    assert.deepEqual(
      outcomes.map(ok).map((r) => `${r.flow}:${r.from}>${r.to}:${r.batched ?? 1}`),
      ['fe00::1:C>D:2', 'fe00::2:C>D:2', 'fe00::1:D>E:1'],
    );
    assert.deepEqual(
      local.requests.map((r) => r.conntrack.map((c) => c.address)),
      [['fe00::1', 'fe00::2'], ['fe00::1']],
    );
    assert.equal((await journalLines()).length, 1);
    assert.equal((await store.read(lab.id))?.migrations, 3);
  });

  it('a batch that changes nothing sends nothing and commits nothing', async () => {
    const outcomes = await changeFlows(ctx, held, [
      { kind: 'migrate', flow: 'fe00::1', node: 'C' },
      { kind: 'swap', flow: 'fe00::9' },
    ]);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? o.result.changed : o.error.message)),
      [false, "unknown flow 'fe00::9' (flows: fe00::1 (one), fe00::2, fe00::3)"],
    );
    assert.deepEqual(local.requests, []);
    assert.deepEqual(await journalLines(), []);
  });
});

describe('HeldLab', () => {
  const lab = resolveLab(LAB, { prefix: 'b2-' });

  it('finds a flow by name or any spelling of its address; records moves by replacing records', () => {
    const state = stateOf(lab, { flows: lab.flows.map((f) => Object.freeze(toStateFlow(f))) });
    const held = new HeldLab(state);
    assert.equal(held.find('one')?.address, 'fe00::1');
    assert.equal(held.find('FE00:0::2')?.address, 'fe00::2');
    assert.equal(held.find('fe00::9'), undefined);
    const before = state.flows[1];
    held.set({ name: undefined, address: 'fe00::2', initiator: 'A', responder: 'E' });
    assert.equal(state.flows[1]?.responder, 'E');
    assert.equal(before?.responder, 'C', 'the frozen record was replaced, not changed');
    assert.equal(held.find('fe00::2')?.responder, 'E');
    assert.throws(
      () => held.set({ name: undefined, address: 'fe00::9', initiator: 'A', responder: 'E' }),
      /not one of lab/,
    );
  });
});
