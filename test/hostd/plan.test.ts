// The host daemon's planner (pure): what each host of the three-host example does for a flow
// table change — the ingress host the single-host migration, the others a route.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { StoredFlow } from '../../src/cluster/flows.js';
import type { FlowEvent } from '../../src/cluster/watch.js';
import { type Applied, planEvents } from '../../src/hostd/plan.js';
import { parseRoutes, routeBatch, routeDiff } from '../../src/hostd/routes.js';
import { type HostView, hostView } from '../../src/hostd/view.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import type { ClusterLab } from '../../src/lab/cluster-model.js';
import type { Op } from '../../src/plan/ops.js';
import { ROOT } from '../kernel-support/lab.js';

const A = 'fc00::1';
const S1 = 'fc01::1';
const S2 = 'fc02::1';

const put = (responder: string, initiator = A, tcp: StoredFlow['tcp'] = 'reset'): FlowEvent => ({
  kind: 'put',
  flow: { address: 'fe00::1', initiator, responder, tcp, generation: 0, modRevision: 1 },
});

const kinds = (ops: readonly Op[]) => ops.map((o) => o.kind);

describe('planEvents', () => {
  let cluster: ClusterLab;
  let h1: HostView;
  let h2: HostView;
  before(async () => {
    cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), { prefix: 't1-' });
    h1 = hostView(cluster, 'h1');
    h2 = hostView(cluster, 'h2');
  });

  it('a new flow: its ingress host maps it (no conntrack to delete), the others route it there', () => {
    const on1: Applied = new Map();
    const p1 = planEvents(h1, on1, [put(S1)]);
    assert.deepEqual(kinds(p1.ops), ['netfilterApply']);
    assert.deepEqual(p1.routes, []);
    assert.equal(on1.get('fe00::1')?.responder, S1);
    const on2: Applied = new Map();
    const p2 = planEvents(h2, on2, [put(S1)]);
    assert.deepEqual(p2.ops, []);
    assert.deepEqual(p2.routes, [{ kind: 'replace', address: 'fe00::1', via: 'fd00:fab::1' }]);
    assert.equal(on2.get('fe00::1')?.responder, S1, 'a routed flow is applied too');
  });

  it('a migration: rule first, then only the flow’s entries (those already on the new server stay), then the release', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put(S1)]);
    const p = planEvents(h1, on1, [put(S2)]);
    assert.deepEqual(kinds(p.ops), ['netfilterApply', 'conntrackDelete', 'netfilterApply']);
    assert.deepEqual(p.ops[1], {
      kind: 'conntrackDelete',
      netns: 't1-T1',
      origDst: 'fe00::1',
      keepReplySrc: S2,
    });
    const rule = p.ops[0];
    assert.ok(rule?.kind === 'netfilterApply');
    assert.match(JSON.stringify(rule.edits), /fc01::1/);
    assert.match(JSON.stringify(rule.edits), /fc02::1/);
    assert.equal(p.changed, 1);
    // The other hosts: the route stays (the ingress host did not change).
    const on2: Applied = new Map();
    planEvents(h2, on2, [put(S1)]);
    const q = planEvents(h2, on2, [put(S2)]);
    assert.deepEqual([q.ops, q.routes, q.changed], [[], [], 0]);
  });

  it('two changes of one flow in one batch are planned as one, from the first before to the last after', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put(S1)]);
    const p = planEvents(h1, on1, [put(S2), put('fc03::1')]);
    const ct = p.ops.filter((o) => o.kind === 'conntrackDelete');
    assert.equal(ct.length, 1);
    assert.equal(on1.get('fe00::1')?.responder, 'fc03::1');
  });

  it('a deleted flow: unmapped and its entries gone on the ingress host, its route gone elsewhere', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put(S1)]);
    const p = planEvents(h1, on1, [{ kind: 'delete', address: 'fe00::1' }]);
    assert.deepEqual(kinds(p.ops), ['netfilterApply', 'conntrackDelete']);
    assert.deepEqual(p.ops[1], { kind: 'conntrackDelete', netns: 't1-T1', origDst: 'fe00::1' });
    assert.equal(on1.size, 0);
    const on2: Applied = new Map();
    planEvents(h2, on2, [put(S1)]);
    const q = planEvents(h2, on2, [{ kind: 'delete', address: 'fe00::1' }]);
    assert.deepEqual(q.routes, [{ kind: 'delete', address: 'fe00::1' }]);
  });

  it('a flow naming an address that is no node of the lab is skipped with a problem; the rest goes on', () => {
    const on1: Applied = new Map();
    const bad: FlowEvent = {
      kind: 'put',
      flow: {
        address: 'fe00::9',
        initiator: A,
        responder: 'fc09::1',
        tcp: 'reset',
        generation: 0,
        modRevision: 2,
      },
    };
    const p = planEvents(h1, on1, [bad, put(S1)]);
    assert.deepEqual(p.problems, [
      { key: 'fe00::9', problem: 'responder fc09::1 is no node of lab t1-three' },
    ]);
    assert.deepEqual([...on1.keys()], ['fe00::1']);
  });

  it('a draining flow keeps its TCP entries on the old server until its drain time', () => {
    const on1: Applied = new Map();
    planEvents(h1, on1, [put(S1, A, 'drain')]);
    const p = planEvents(h1, on1, [put(S2, A, 'drain')]);
    const ct = p.ops.find((o) => o.kind === 'conntrackDelete');
    assert.deepEqual(ct, {
      kind: 'conntrackDelete',
      netns: 't1-T1',
      origDst: 'fe00::1',
      keepReplySrc: S2,
      keepTcp: true,
    });
    // The lab file gives fe00::1 no drain time of its own: the policy's default is none here.
    assert.ok(p.drains.every((d) => d.address === 'fe00::1' && d.former === S1));
  });
});

describe('routes', () => {
  it('batch lines for ip -batch, tagged with flowmig’s protocol number', () => {
    assert.equal(
      routeBatch(
        [
          { kind: 'replace', address: 'fe00::1', via: 'fd00:fab::1' },
          { kind: 'delete', address: 'fe00::2' },
        ],
        'T2-fab',
      ),
      'route replace fe00::1/128 via fd00:fab::1 dev T2-fab proto 199\nroute del fe00::2/128 proto 199\n',
    );
  });

  it('reads ip -j route back and diffs it against the table', () => {
    const kernel = parseRoutes(
      JSON.stringify([
        { dst: 'fe00::1', gateway: 'fd00:fab::1', dev: 'T2-fab', protocol: '199' },
        { dst: 'fe00::2', gateway: 'fd00:fab::3', dev: 'T2-fab', protocol: '199' },
        { dst: 'fe00::3', gateway: 'fd00:fab::1', dev: 'T2-fab', protocol: '199' },
      ]),
    );
    assert.equal(kernel.get('fe00::1'), 'fd00:fab::1');
    const desired = new Map([
      ['fe00::1', 'fd00:fab::1'],
      ['fe00::2', 'fd00:fab::1'],
      ['fe00::4', 'fd00:fab::3'],
    ]);
    assert.deepEqual(routeDiff(kernel, desired), [
      { kind: 'replace', address: 'fe00::2', via: 'fd00:fab::1' },
      { kind: 'replace', address: 'fe00::4', via: 'fd00:fab::3' },
      { kind: 'delete', address: 'fe00::3' },
    ]);
    assert.deepEqual([...parseRoutes('')], []);
  });
});
