// The host daemon's planner for flows whose TCP connections move (`tcp: migrate`): each one a move
// of its own (its switch alone, and its switch back), apart from the revision's other changes;
// only on the flow's ingress host, only when its responder changes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { StoredFlow } from '../../src/cluster/flows.js';
import type { FlowEvent } from '../../src/cluster/watch.js';
import { type Applied, planEvents } from '../../src/hostd/plan.js';
import { type HostView, hostView } from '../../src/hostd/view.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import type { Op } from '../../src/plan/ops.js';
import { ROOT } from '../kernel-support/lab.js';

const A = 'fc00::1';
const S1 = 'fc01::1';
const S2 = 'fc02::1';
const S3 = 'fc03::1';

const put = (address: string, responder: string, tcp: StoredFlow['tcp']): FlowEvent => ({
  kind: 'put',
  flow: { address, initiator: A, responder, tcp, generation: 0, modRevision: 1 },
});
const kinds = (ops: readonly Op[]) => ops.map((o) => o.kind);
/** The map elements an op's nft transaction adds (address → responder), as text. */
const text = (ops: readonly Op[]) => JSON.stringify(ops);

describe('planEvents: flows with tcp: migrate', () => {
  let h1: HostView;
  let h2: HostView;
  before(async () => {
    const cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), {
      prefix: 't1-',
    });
    h1 = hostView(cluster, 'h1');
    h2 = hostView(cluster, 'h2');
  });

  it('a responder change on the ingress host is a move: its own switch and switch back, not in ops', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put('fe00::1', S1, 'migrate'), put('fe00::2', S1, 'reset')]);
    const p = planEvents(h1, on1, [put('fe00::1', S2, 'migrate'), put('fe00::2', S3, 'reset')]);
    assert.equal(p.moves.length, 1);
    const [m] = p.moves;
    assert.ok(m);
    assert.equal(m.address, 'fe00::1');
    assert.equal(m.from.responder, S1);
    assert.equal(m.to.responder, S2);
    // The other flow's migration alone in ops; the moving flow's in its move.
    assert.deepEqual(kinds(p.ops), ['netfilterApply', 'conntrackDelete', 'netfilterApply']);
    assert.match(text(p.ops), /fe00::2/);
    assert.doesNotMatch(text(p.ops), /fe00::1/);
    assert.deepEqual(kinds(m.ops), ['netfilterApply', 'conntrackDelete', 'netfilterApply']);
    assert.match(text(m.ops), /fe00::1/);
    assert.doesNotMatch(text(m.ops), /fe00::2/);
    assert.match(text(m.ops), new RegExp(S2));
    assert.match(text(m.back), new RegExp(S1), 'the switch back names the old server');
    assert.equal(p.changed, 2);
    assert.equal(on1.get('fe00::1')?.responder, S2, 'applied: the table’s value');
  });

  it('no move: a new flow, the same responder, a policy other than migrate, or another host', () => {
    const on1: Applied = new Map();
    assert.deepEqual(planEvents(h1, on1, [put('fe00::1', S1, 'migrate')]).moves, []);
    assert.deepEqual(planEvents(h1, on1, [put('fe00::1', S1, 'migrate')]).moves, []);
    const drain: Applied = new Map();
    planEvents(h1, drain, [put('fe00::1', S1, 'drain')]);
    assert.deepEqual(planEvents(h1, drain, [put('fe00::1', S2, 'drain')]).moves, []);
    const on2: Applied = new Map();
    planEvents(h2, on2, [put('fe00::1', S1, 'migrate')]);
    const p2 = planEvents(h2, on2, [put('fe00::1', S2, 'migrate')]);
    assert.deepEqual(p2.moves, [], 'h2 only routes the flow');
    assert.deepEqual(p2.ops, []);
  });

  it('two moves in one batch: each from where the one before left the table', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put('fe00::1', S1, 'migrate'), put('fe00::2', S1, 'migrate')]);
    const p = planEvents(h1, on1, [put('fe00::1', S2, 'migrate'), put('fe00::2', S3, 'migrate')]);
    assert.deepEqual(
      p.moves.map((m) => [m.address, m.from.responder, m.to.responder]),
      [
        ['fe00::1', S1, S2],
        ['fe00::2', S1, S3],
      ],
    );
    assert.deepEqual(p.ops, [], 'nothing else changed');
  });
});
