// The TCP drain policy without a kernel: the lab file, the planner, the commands, the agent's
// choice of entries, the fake translator, and the controller's drain bookkeeping.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keeps } from '../../src/agent/agent.js';
import { Flowmig } from '../../src/control/flowmig.js';
import { FakeTranslator } from '../../src/engines/fake.js';
import { lateTable } from '../../src/engines/late.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { policyOf } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { commandFor, commandsFor, NON_TCP_PROTOCOLS } from '../../src/plan/command.js';
import { drainEnd, planSwap } from '../../src/plan/migrate.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { assertInputError, TWO_FLOWS_LAB } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const DRAIN_LAB: LabDescriptionInput = {
  ...TWO_FLOWS_LAB,
  name: 'drain',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'drain', drainSeconds: 2 },
    { address: 'fe00::2', initiator: 'A', responder: 'D' },
  ],
};

describe('tcp policy in the lab file', () => {
  it('drain with its time; reset (the reference) by default', () => {
    const lab = resolveLab(DRAIN_LAB);
    assert.deepEqual(policyOf(lab, 'fe00::1'), { tcp: 'drain', drainMs: 2000 });
    assert.deepEqual(policyOf(lab, 'fe00::2'), { tcp: 'reset', drainMs: 0 });
  });

  it('an unknown policy or a drain time that is not positive is refused, named', () => {
    const bad = (flow: Record<string, unknown>) => ({
      ...DRAIN_LAB,
      flows: [{ address: 'fe00::1', initiator: 'A', responder: 'C', ...flow }],
    });
    assertInputError(() => resolveLab(bad({ tcp: 'teleport' })), /flows\.0\.tcp/, /reset/);
    assertInputError(() => resolveLab(bad({ tcp: 'drain', drainSeconds: 0 })), /drainSeconds/);
  });
});

describe('planning a drain', () => {
  const lab = resolveLab(DRAIN_LAB, { prefix: 'd-' });
  const current = lab.flows;

  it("a draining flow's conntrack delete keeps TCP; another flow's does not", () => {
    const drain = planSwap(lab, nftablesEngine, current, 'fe00::1');
    const del = drain.ops.find((o) => o.kind === 'conntrackDelete');
    assert.deepEqual(del, {
      kind: 'conntrackDelete',
      netns: 'd-B',
      origDst: 'fe00::1',
      keepReplySrc: 'fc02::2',
      keepTcp: true,
    });
    const reset = planSwap(lab, nftablesEngine, current, 'fe00::2');
    const other = reset.ops.find((o) => o.kind === 'conntrackDelete');
    assert.equal(other && 'keepTcp' in other, false);
  });

  it('the conntrack program deletes every other protocol, one run each', () => {
    const op = planSwap(lab, nftablesEngine, current, 'fe00::1').ops.find(
      (o) => o.kind === 'conntrackDelete',
    );
    assert.ok(op);
    const commands = commandsFor(op);
    assert.equal(commands.length, NON_TCP_PROTOCOLS.length);
    assert.ok(!NON_TCP_PROTOCOLS.includes('tcp' as never));
    for (const [i, c] of commands.entries()) {
      assert.deepEqual(c.argv, [
        'conntrack',
        '-D',
        '-f',
        'ipv6',
        '--orig-dst',
        'fe00::1',
        '-p',
        NON_TCP_PROTOCOLS[i],
      ]);
      assert.deepEqual(c.okExitCodes, [0, 1]);
    }
  });

  it("a drain's end deletes only the entries translated to the former responder", () => {
    const op = drainEnd(lab, 'fe00::1', 'C');
    assert.ok(op);
    assert.deepEqual(commandFor(op).argv, [
      'conntrack',
      '-D',
      '-f',
      'ipv6',
      '--orig-dst',
      'fe00::1',
      '--reply-src',
      'fc01::1',
    ]);
    assert.equal(drainEnd(lab, 'fe00::1', 'X'), undefined);
  });
});

describe('the agent keeps what a target keeps', () => {
  const entry = (proto: number, replySrc: string) => ({
    origDst: 'fe00::1',
    replySrc,
    proto,
    tuple: Buffer.alloc(0),
    key: `${proto}${replySrc}`,
  });
  it('TCP entries of a draining flow, and entries already on the new responder', () => {
    const drain = { address: 'fe00::1', keepReplySrc: 'fc02::2', keepTcp: true };
    assert.equal(keeps(drain, entry(6, 'fc01::1')), true, 'TCP on the old responder drains');
    assert.equal(keeps(drain, entry(17, 'fc01::1')), false, 'UDP moves');
    assert.equal(keeps(drain, entry(58, 'fc01::1')), false, 'ICMPv6 moves');
    assert.equal(keeps(drain, entry(17, 'fc02::2')), true, 'already on the new responder');
    const reset = { address: 'fe00::1', keepReplySrc: 'fc02::2' };
    assert.equal(keeps(reset, entry(6, 'fc01::1')), false, 'reset: TCP goes too');
  });
});

describe('a draining flow in the fake translator', () => {
  it('an open TCP connection stays on C, new ones, UDP and ping go to D; the drain end moves it', () => {
    const lab = resolveLab(DRAIN_LAB);
    const fake = new FakeTranslator();
    const mapping = {
      address: 'fe00::1',
      initiatorAddress: 'fc00::1',
      responderAddress: 'fc01::1',
    };
    // The late table too: the swap's transaction writes to it (nft would fail without it).
    for (const op of [nftablesEngine.install('B', [mapping]), lateTable.install('B', [mapping])])
      fake.apply(op);
    const tcp = { src: 'fc00::1', dst: 'fe00::1', proto: 'tcp' as const, id: 40000 };
    const udp = { src: 'fc00::1', dst: 'fe00::1', proto: 'udp' as const, id: 40001 };
    assert.equal(fake.send(tcp).to, 'fc01::1');
    assert.equal(fake.send(udp).to, 'fc01::1');
    for (const op of planSwap(lab, nftablesEngine, lab.flows, 'fe00::1').ops) fake.apply(op);
    assert.equal(fake.send(tcp).to, 'fc01::1', 'the open connection drains on C');
    assert.equal(fake.send(udp).to, 'fc02::2', 'UDP moved');
    assert.equal(fake.send({ ...tcp, id: 40002 }).to, 'fc02::2', 'a new connection lands on D');
    const end = drainEnd(lab, 'fe00::1', 'C');
    assert.ok(end);
    fake.apply(end);
    assert.equal(fake.send({ ...tcp, id: 40002 }).to, 'fc02::2', 'D keeps its connection');
    assert.equal(fake.send(tcp).to, 'fc02::2', 'the drained connection now reaches D (reset)');
  });
});

describe('the controller keeps track of drains', () => {
  let root = '';
  before(async () => {
    root = await tempDir('drain');
  });
  after(async () => {
    await removeDir(root);
  });

  it('a migration starts a drain; a due drain deletes the former responder’s entries', async () => {
    const kernel = new FakeKernel();
    const fm = new Flowmig({ stateDir: `${root}/s1`, runner: kernel.runner, preflight: false });
    const lab = resolveLab({ ...DRAIN_LAB, engine: 'iptables' }, { prefix: 'd1-' });
    await fm.up(lab);
    const r = await fm.swap(lab.id, 'fe00::1');
    assert.equal(r.to, 'D');
    const cmds = kernel.lines().filter((l) => l.includes(' conntrack -D '));
    assert.equal(cmds.length, NON_TCP_PROTOCOLS.length, 'every protocol but TCP');
    const state = await fm.store.read(lab.id);
    assert.equal(state?.draining?.length, 1);
    assert.equal(state?.draining?.[0]?.responder, 'C');
    const status = await fm.status(lab.id);
    const drains = status.flows.find((f) => f.address === 'fe00::1')?.drains;
    assert.equal(drains?.length, 1);
    assert.ok((drains?.[0]?.endsInMs ?? 0) > 1000);
    // Not due yet: nothing happens.
    const mark = kernel.lines().length;
    assert.equal(await fm.endDrains(lab.id), 0);
    assert.deepEqual(kernel.lines().slice(mark), []);
    // Due: C's remaining entries go, and the drain is over.
    assert.equal(await fm.endDrains(lab.id, Date.now() + 5_000), 1);
    assert.deepEqual(
      kernel
        .lines()
        .slice(mark)
        .filter((l) => l.includes(' conntrack ')),
      ['ip netns exec d1-B conntrack -D -f ipv6 --orig-dst fe00::1 --reply-src fc01::1'],
    );
    assert.equal((await fm.store.read(lab.id))?.draining, undefined);
  });

  it('swapping back to a draining responder ends its drain (its connections are current)', async () => {
    const kernel = new FakeKernel();
    const fm = new Flowmig({ stateDir: `${root}/s2`, runner: kernel.runner, preflight: false });
    const lab = resolveLab({ ...DRAIN_LAB, engine: 'iptables' }, { prefix: 'd2-' });
    await fm.up(lab);
    await fm.swap(lab.id, 'fe00::1'); // C drains
    await fm.swap(lab.id, 'fe00::1'); // back to C: D drains, C does not
    const draining = (await fm.store.read(lab.id))?.draining ?? [];
    assert.deepEqual(
      draining.map((d) => d.responder),
      ['D'],
    );
    // A reset flow never drains.
    await fm.swap(lab.id, 'fe00::2');
    assert.equal((await fm.store.read(lab.id))?.draining?.length, 1);
  });
});
