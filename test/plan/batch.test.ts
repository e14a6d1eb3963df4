// planBatch: rounds of distinct flows in arrival order, each move checked on its own, and each
// round one rule change, one conntrack pass and the late release, with either engine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinNftOps } from '../../src/engines/edits.js';
import type { Engine } from '../../src/engines/engine.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { lateTable } from '../../src/engines/late.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { InputError } from '../../src/errors.js';
import type { Lab, LabFlow } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { type BatchRound, flowSource, type Move, planBatch } from '../../src/plan/batch.js';
import { mappingsFor } from '../../src/plan/build.js';
import { planMigration } from '../../src/plan/migrate.js';
import type { Op } from '../../src/plan/ops.js';
import { argvOf, mappingsAfter } from '../engines/ops.js';
import { at, THREE_SERVERS_LAB } from '../support/labs.js';

/** Three servers (C, D, E), four flows; fe00::4 moves its TCP connections along (live). */
const BATCH_LAB: LabDescriptionInput = {
  ...THREE_SERVERS_LAB,
  name: 'batch',
  flows: [
    { name: 'one', address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'C' },
    { address: 'fe00::3', initiator: 'A', responder: 'D' },
    { address: 'fe00::4', initiator: 'A', responder: 'C', tcp: 'migrate' },
  ],
};

const programOf = (op: Op) => (op.kind === 'netfilterApply' ? argvOf(op)[0] : op.kind);

/** A round as `flow:from>to` per move (`=` when it changes nothing), with `live` marked. */
const shape = (r: BatchRound) =>
  `${r.live ? 'live ' : ''}${r.moves.map((m) => `${m.flow.address}:${m.from.responder}${m.changed ? '>' : '='}${m.flow.responder}`).join(' ')}`;

const swap = (flow?: string): Move => ({ kind: 'swap', flow });
const migrate = (flow: string, node: string): Move => ({ kind: 'migrate', flow, node });

for (const engine of [nftablesEngine, iptablesEngine] as Engine[]) {
  describe(`planBatch (${engine.name} engine)`, () => {
    const lab: Lab = resolveLab(BATCH_LAB, { engine: engine.name });
    const plan = (moves: Move[], flows: readonly LabFlow[] = lab.flows) =>
      planBatch(lab, engine, flowSource(flows), moves);
    const rules = engine === nftablesEngine ? ['nft'] : ['ip6tables-restore', 'nft'];

    it('distinct flows: one round, in arrival order', () => {
      const p = plan([swap('fe00::2'), migrate('one', 'E'), swap('fe00::3')]);
      assert.deepEqual(p.rounds.map(shape), ['fe00::2:C>D fe00::1:C>E fe00::3:D>E']);
      assert.deepEqual(
        at(p.rounds, 0).moves.map((m) => m.index),
        [0, 1, 2],
      );
      assert.deepEqual(p.refused, []);
    });

    it('a flow asked for again starts the next round; each move has its own from → to', () => {
      const p = plan([
        swap('fe00::1'),
        swap('fe00::2'),
        swap('fe00::1'),
        migrate('fe00::3', 'C'),
        swap('fe00::2'),
        migrate('fe00::1', 'C'),
      ]);
      assert.deepEqual(p.rounds.map(shape), [
        'fe00::1:C>D fe00::2:C>D',
        'fe00::1:D>E fe00::3:D>C fe00::2:D>E',
        'fe00::1:E>C',
      ]);
      assert.deepEqual(
        p.rounds.flatMap((r) => r.moves.map((m) => m.index)),
        [0, 1, 2, 3, 4, 5],
        'arrival order kept across rounds',
      );
    });

    it('a move that changes nothing is in its round with no ops of its own', () => {
      const p = plan([migrate('fe00::1', 'C'), swap('fe00::2'), migrate('fe00::1', 'D')]);
      assert.deepEqual(p.rounds.map(shape), ['fe00::1:C=C fe00::2:C>D', 'fe00::1:C>D']);
      const first = at(p.rounds, 0);
      assert.deepEqual(
        first.ops.filter((o) => o.kind === 'conntrackDelete').map((o) => o.origDst),
        ['fe00::2'],
      );
      const nothing = plan([migrate('fe00::1', 'C'), migrate('fe00::3', 'D')]);
      assert.deepEqual(nothing.rounds.map(shape), ['fe00::1:C=C fe00::3:D=D']);
      assert.deepEqual(at(nothing.rounds, 0).ops, []);
    });

    it('each move is checked on its own: refused ones fail alone, the rest are planned', () => {
      const p = plan([
        swap('fe00::9'),
        migrate('fe00::1', 'Z'),
        swap('fe00::1'),
        migrate('fe00::2', 'B'),
        swap(),
        migrate('fe00::1', 'A'),
        swap('fe00:0::2'),
      ]);
      assert.deepEqual(
        p.refused.map((r) => [r.index, r.error instanceof InputError, r.error.message]),
        [
          [0, true, "unknown flow 'fe00::9' (flows: fe00::1 (one), fe00::2, fe00::3, fe00::4)"],
          [1, true, "unknown node 'Z' (nodes: A, B, C, D, E)"],
          [3, true, "'B' is the translator; a flow migrates to a client or a server"],
          [
            4,
            true,
            'swap: the lab has 4 flows (fe00::1, fe00::2, fe00::3, fe00::4); name one with --flow FLOW (at the prompt: swap FLOW)',
          ],
        ],
      );
      // A refused move changes nothing: fe00::1 moved once (to D), then its initiator to A (no-op).
      assert.deepEqual(p.rounds.map(shape), ['fe00::1:C>D', 'fe00::1:D=D fe00::2:C>D']);
      const last = at(at(p.rounds, 1).moves, 0);
      assert.equal(last.role, 'initiator');
    });

    it('a live TCP responder move is alone in its round; its initiator move is not', () => {
      const p = plan([swap('fe00::1'), swap('fe00::4'), swap('fe00::2'), swap('fe00::3')]);
      assert.deepEqual(p.rounds.map(shape), [
        'fe00::1:C>D',
        'live fe00::4:C>D',
        'fe00::2:C>D fe00::3:D>E',
      ]);
      // Its own ops, as a migration of that flow alone plans them (after the round before it).
      const afterFirst = lab.flows.map((f) =>
        f.address === 'fe00::1' ? { ...f, responder: 'D' } : f,
      );
      assert.deepEqual(
        at(p.rounds, 1).ops,
        planMigration(lab, engine, afterFirst, 'fe00::4', 'D').ops,
      );
    });

    it('a round is one rule change, the flows’ conntrack deletes, then one release', () => {
      const p = plan([swap('fe00::1'), swap('fe00::2'), swap('fe00::3')]);
      const round = at(p.rounds, 0);
      assert.deepEqual(round.ops.map(programOf), [
        ...rules,
        'conntrackDelete',
        'conntrackDelete',
        'conntrackDelete',
        'nft',
      ]);
      const before = mappingsFor(
        lab,
        round.moves.map((m) => m.from),
      );
      const after = mappingsFor(
        lab,
        round.moves.map((m) => m.flow),
      );
      const changes = before.map((b, i) => ({ before: b, after: after[i] }));
      const all = mappingsFor(
        lab,
        lab.flows.map((f) => round.moves.find((m) => m.flow.address === f.address)?.flow ?? f),
      );
      const engineOp = engine.update('B', changes, () => all);
      const lateOp = lateTable.update('B', changes, lab.graceMs);
      assert.ok(lateOp);
      assert.deepEqual(
        round.ops.slice(0, rules.length),
        engine.fastPath ? [joinNftOps(engineOp, lateOp)] : [engineOp, lateOp],
      );
      assert.deepEqual(
        round.ops.filter((o) => o.kind === 'conntrackDelete'),
        [
          { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::1', keepReplySrc: 'fc02::2' },
          { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::2', keepReplySrc: 'fc02::2' },
          { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::3', keepReplySrc: 'fc03::1' },
        ],
      );
      assert.deepEqual(round.ops.at(-1), lateTable.release('B', changes, lab.graceMs));
    });

    it('the rounds’ ops in order give the table of the moves in order', () => {
      const moves = [
        swap('fe00::1'),
        swap('fe00::2'),
        swap('fe00::1'),
        migrate('fe00::3', 'C'),
        swap('fe00::1'),
      ];
      const p = plan(moves);
      assert.equal(p.rounds.length, 3);
      let flows: readonly LabFlow[] = lab.flows;
      for (const m of moves) {
        const one = planBatch(lab, engine, flowSource(flows), [m]);
        const moved = at(at(one.rounds, 0).moves, 0).flow;
        flows = flows.map((f) => (f.address === moved.address ? moved : f));
      }
      const install = engine.install('B', mappingsFor(lab, lab.flows));
      const late = lateTable.install('B', mappingsFor(lab, lab.flows));
      const byAddress = (a: { address: string }, b: { address: string }) =>
        a.address.localeCompare(b.address);
      assert.deepEqual(
        mappingsAfter(engine, [install, late, ...p.rounds.flatMap((r) => r.ops)]).sort(byAddress),
        mappingsFor(lab, flows).sort(byAddress),
      );
      assert.deepEqual(
        flows.map((f) => f.responder),
        ['C', 'D', 'C', 'C'],
      );
    });

    it('finds flows by name and by any spelling of their address; leaves its input alone', () => {
      const flows = lab.flows.map((f) => ({ ...f }));
      const p = plan([swap('one'), swap('FE00:0000::2')], flows);
      assert.deepEqual(p.rounds.map(shape), ['fe00::1:C>D fe00::2:C>D']);
      assert.deepEqual(
        flows.map((f) => f.responder),
        ['C', 'C', 'D', 'C'],
      );
    });

    it('no moves: no rounds', () => {
      assert.deepEqual(plan([]), { rounds: [], refused: [] });
    });
  });
}
