// The controller's behaviour with each engine, without root: up, swap and migrate, evacuate,
// status and drift, reconcile, down, against the fake kernel (which applies the engines' typed
// operations and traces packets). The same assertions hold for nftables and iptables.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Flowmig } from '../../src/control/flowmig.js';
import { HOLD_SET, HOLD_TABLE } from '../../src/engines/hold.js';
import { DNAT_BACK_MAP, FLOWMIG_TABLE, NFT_TABLE } from '../../src/engines/nftables.js';
import type { Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { EngineName, LabDescriptionInput } from '../../src/lab/schema.js';
import { counter, setRef } from '../../src/nft/objects.js';
import { addElements, addTable, deleteElements } from '../../src/nft/transaction.js';
import { type Delivery, FakeKernel, type SentPacket } from '../support/fake-kernel.js';
import { referenceLab, THREE_SERVERS_LAB, TWO_CLIENTS_LAB } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const ENGINES: readonly EngineName[] = ['nftables', 'iptables'];

/** Three servers; C serves two flows, D one. */
const EVACUATION_LAB: LabDescriptionInput = {
  ...THREE_SERVERS_LAB,
  name: 'evac',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'C' },
    { address: 'fe00::3', initiator: 'A', responder: 'D' },
  ],
};

/** The reference lab whose flow moves its TCP connections (the hold table is installed). */
const LIVE_LAB: LabDescriptionInput = {
  ...THREE_SERVERS_LAB,
  name: 'live',
  flows: [{ address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'migrate' }],
};

/** Where a packet went: its node and the source it arrived from (or that it went nowhere). */
const where = (d: Delivery) => (d.node ? `${d.node} from ${d.from}` : d.held ? 'held' : 'nowhere');

for (const engine of ENGINES) {
  describe(`the controller with the ${engine} engine, on the fake kernel`, () => {
    let root = '';
    let n = 0;
    let kernel: FakeKernel;
    let fm: Flowmig;
    const P = engine === 'nftables' ? 'n1-' : 'i1-';
    const B = `${P}B`;

    before(async () => {
      root = await tempDir(`engines-${engine}`);
    });
    after(async () => {
      await removeDir(root);
    });
    beforeEach(() => {
      kernel = new FakeKernel();
      // Conntrack as the fake translator keeps it: entries made by traced packets.
      kernel.conntrackDeleted = undefined;
      kernel.conntrackList = undefined;
      fm = new Flowmig({
        runner: kernel.runner,
        preflight: false,
        agent: false,
        inProcess: false,
        stateDir: `${root}/state-${n++}`,
      });
    });

    const lab = (description?: LabDescriptionInput): Lab =>
      description
        ? resolveLab({ ...description, name: 'default' }, { prefix: P, engine })
        : referenceLab({ prefix: P, engine });
    const send = (from: string, dst: string, proto: SentPacket['proto'], id: number) =>
      kernel.trace({ from: `${P}${from}`, dst, proto, id });
    const ping = (from: string, id = 7, dst = 'fe00::1') => where(send(from, dst, 'icmpv6', id));

    it('up: the translator installed and in agreement; A reaches C from fe00::1, and back', async () => {
      const l = lab();
      const status = await fm.up(l);
      assert.equal(status.engine, engine);
      assert.equal(status.translatorInstalled, true);
      assert.deepEqual(status.drift, []);
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder, f.kernelResponder, f.inSync]),
        [['fe00::1', 'C', 'fc01::1', true]],
      );
      assert.equal(status.controlPath.kind, 'programs');
      assert.equal(ping('A'), `${P}C from fe00::1`);
      // The responder speaks first: C's packet to the flow reaches A; D is no part of it.
      assert.equal(ping('C', 8), `${P}A from fe00::1`);
      assert.equal(ping('D', 9), 'nowhere');
      // Another abstract address is nobody's.
      assert.equal(ping('A', 10, 'fe00::9'), 'nowhere');
      // A's, C's and D's packets each opened an entry to the flow's address.
      assert.equal((await fm.status(l.id)).flows[0]?.conntrackEntries, 3);
    });

    it('swap: the ongoing ping moves to D (rule first, then its entries); C’s late reply reaches A until the grace ends', async () => {
      const l = lab();
      await fm.up(l);
      assert.equal(ping('A'), `${P}C from fe00::1`);
      const r = await fm.swap(l.id);
      assert.deepEqual([r.from, r.to, r.changed, r.path], ['C', 'D', true, 'programs']);
      assert.equal(r.conntrackDeleted, 1, 'the ping’s entry');
      assert.equal(ping('A'), `${P}D from fe00::1`, 'the same ping, now on D');
      // C's echo reply that was in flight: rewritten statelessly to A, from the flow's address.
      const late = send('C', 'fe00::1', 'icmpv6', 7);
      assert.deepEqual(
        [where(late), late.late, late.newEntry],
        [`${P}A from fe00::1`, true, false],
      );
      const status = await fm.status(l.id);
      assert.deepEqual(status.drift, []);
      assert.deepEqual(status.late.former, [
        { address: 'fe00::1', responderAddress: 'fc01::1', expiresMs: 5000 },
      ]);
      assert.equal(status.late.translated, 1, 'the late table counted the rewrite');
      kernel.advance(l.graceMs);
      assert.equal(ping('C', 7), 'nowhere', 'after the grace C is nobody');
      assert.deepEqual((await fm.status(l.id)).late.former, []);
      // And back: C serves again, D's replies are the late ones.
      const back = await fm.swap(l.id);
      assert.deepEqual([back.from, back.to], ['D', 'C']);
      assert.equal(ping('A'), `${P}C from fe00::1`);
      assert.equal(ping('D', 7), `${P}A from fe00::1`);
    });

    it('migrate the initiator: E’s packets take the flow, A’s no longer do', async () => {
      const l = lab(TWO_CLIENTS_LAB);
      await fm.up(l);
      assert.equal(ping('A'), `${P}C from fe00::1`);
      const r = await fm.migrate(l.id, 'fe00::1', 'E');
      assert.equal(r.role, 'initiator');
      assert.equal(ping('E', 11), `${P}C from fe00::1`);
      assert.equal(ping('A', 12), 'nowhere');
      assert.equal(ping('C', 13), `${P}E from fe00::1`);
      const status = await fm.status(l.id);
      assert.deepEqual(status.drift, []);
      assert.deepEqual(
        status.flows.map((f) => [f.initiator, f.inSync]),
        [['E', true]],
      );
    });

    it('evacuate: every flow of C moves to D in one transaction; only their entries go', async () => {
      const l = lab(EVACUATION_LAB);
      await fm.up(l);
      for (const [dst, id] of [
        ['fe00::1', 1],
        ['fe00::2', 2],
        ['fe00::3', 3],
      ] as const)
        send('A', dst, 'udp', 40000 + id);
      const r = await fm.evacuate(l.id, 'C', 'D');
      assert.equal(r.moved, 2);
      assert.equal(r.conntrackDeleted, 2);
      for (const dst of ['fe00::1', 'fe00::2', 'fe00::3'])
        assert.equal(where(send('A', dst, 'udp', 50000)), `${P}D from ${dst}`);
      const status = await fm.status(l.id);
      assert.deepEqual(status.drift, []);
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder, f.inSync]),
        [
          ['fe00::1', 'D', true],
          ['fe00::2', 'D', true],
          ['fe00::3', 'D', true],
        ],
      );
      // fe00::3's first connection was never deleted: two entries now, the others one each.
      assert.deepEqual(
        status.flows.map((f) => f.conntrackEntries),
        [1, 1, 2],
      );
    });

    it('status names drift made behind its back; reconcile repairs it and traffic flows again', async () => {
      const l = lab();
      await fm.up(l);
      // Someone breaks the engine's own objects, and deletes the late table.
      if (engine === 'nftables') {
        kernel.nftBy(B, [
          deleteElements(setRef(FLOWMIG_TABLE, DNAT_BACK_MAP), [{ key: ['fc01::1', 'fe00::1'] }]),
          addTable({ ...FLOWMIG_TABLE, sets: [], chains: [{ name: 'mine', rules: [[counter]] }] }),
        ]);
      } else {
        // Declaring flowmig's chain flushes it: the flow's rules are gone.
        kernel
          .netfilter(B)
          .xtables.restore('*nat\n:FLOWMIG-DNAT - [0:0]\nCOMMIT\n', { noflush: true });
      }
      kernel.deleteTable(B, 'flowmig_late');
      const drifted = await fm.status(l.id);
      assert.equal(drifted.flows[0]?.inSync, false);
      assert.ok(
        drifted.drift.includes('the late-packet table is missing or incomplete'),
        drifted.drift.join('; '),
      );
      if (engine === 'nftables') {
        assert.ok(
          drifted.drift.some((d) => /foreign or changed/.test(d)),
          drifted.drift.join('; '),
        );
        assert.equal(ping('C', 8), 'nowhere', 'the way back is gone');
      } else {
        assert.ok(drifted.drift.includes('flow fe00::1 has no mapping'), drifted.drift.join('; '));
        assert.equal(ping('A'), 'nowhere', 'no mapping');
      }
      const r = await fm.reconcile(l.id);
      assert.deepEqual([r.repaired, r.remaining], [true, undefined]);
      assert.deepEqual(r.drift, drifted.drift);
      const status = await fm.status(l.id);
      assert.deepEqual(status.drift, []);
      assert.equal(status.flows[0]?.inSync, true);
      assert.equal(ping('A', 20), `${P}C from fe00::1`);
      assert.equal(ping('C', 21), `${P}A from fe00::1`);
      // Nothing left to do.
      assert.deepEqual((await fm.reconcile(l.id)).drift, []);
    });

    it('a lab whose flow moves TCP: the hold table and its queue rules are installed, nothing held', async () => {
      const l = lab(LIVE_LAB);
      await fm.up(l);
      assert.deepEqual((await fm.status(l.id)).drift, []);
      // A crash left the flow held: its TCP is queued, status says so, reconcile clears it.
      kernel.nftBy(B, [
        addElements({ family: 'ip6', name: HOLD_TABLE, set: HOLD_SET, kind: 'set' }, [
          { key: ['fc00::1', 'fe00::1'] },
        ]),
      ]);
      assert.equal(where(send('A', 'fe00::1', 'tcp', 40000)), 'held');
      assert.equal(where(send('A', 'fe00::1', 'udp', 40000)), `${P}C from fe00::1`);
      assert.ok((await fm.status(l.id)).drift.includes('1 flow(s) held in the hold table'));
      assert.equal((await fm.reconcile(l.id)).repaired, true);
      assert.equal(where(send('A', 'fe00::1', 'tcp', 40001)), `${P}C from fe00::1`);
    });

    it('down: everything the lab made is gone, and a second down is fine', async () => {
      const l = lab();
      await fm.up(l);
      const mark = kernel.lines().length;
      const first = await fm.down(l.id);
      assert.equal(first.hadState, true);
      assert.deepEqual(kernel.names(), []);
      // nftables deletes its table before the namespaces go; ip6tables' rules go with them.
      const deletes = kernel.runner.calls
        .slice(mark)
        .filter((c) => c.argv.join(' ') === 'nft -f -');
      assert.equal(deletes.length, engine === 'nftables' ? 1 : 0);
      if (engine === 'nftables')
        assert.deepEqual(deletes[0]?.stdin, `delete table ip6 ${NFT_TABLE}\n`);
      assert.deepEqual(await fm.down(l.id), {
        id: l.id,
        removed: [],
        skipped: [],
        hadState: false,
      });
    });
  });
}
