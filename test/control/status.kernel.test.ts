// The translator read back over netlink (set element dumps + `nft -j -t`) says what `nft -j`
// says: the same flows, initiators, former responders, counters and drift, in agreement and not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTranslator, type TranslatorView } from '../../src/control/translator-view.js';
import type { EngineName } from '../../src/lab/schema.js';
import { runner, type TestLab, withLab } from '../kernel-support/lab.js';

const LAB = {
  name: 'status',
  nodes: [
    { name: 'A', role: 'client' as const },
    { name: 'E', role: 'client' as const },
    { name: 'B', role: 'translator' as const },
    { name: 'C', role: 'server' as const },
    { name: 'D', role: 'server' as const },
  ],
  links: [
    { node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::2/64' },
    { node: 'E', address: 'fc03::1/64', translatorAddress: 'fc03::2/64' },
    { node: 'C', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
    { node: 'D', address: 'fc02::2/64', translatorAddress: 'fc02::1/64' },
  ],
  flows: Array.from({ length: 12 }, (_, i) => ({
    address: `fe00::${(i + 1).toString(16)}`,
    initiator: i % 3 ? 'A' : 'E',
    responder: i % 2 ? 'D' : 'C',
  })),
  graceSeconds: 30,
};

/** A view with its lists in one order, expiry rounded (the two reads are moments apart). */
function comparable(v: TranslatorView) {
  const by = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    table: {
      ...v.table,
      mappings: [...v.table.mappings].sort((a, b) => by(a.address, b.address)),
    },
    late: {
      ...v.late,
      initiators: [...v.late.initiators].sort((a, b) => by(a[0], b[0])),
      former: v.late.former
        .map((f) => ({ ...f, expiresMs: Math.round(f.expiresMs / 10_000) }))
        .sort((a, b) =>
          by(`${a.address} ${a.responderAddress}`, `${b.address} ${b.responderAddress}`),
        ),
    },
  };
}

async function bothReads(t: TestLab) {
  const ctx = { runner: t.fm.runner, store: t.fm.store };
  const fast = await readTranslator(ctx, t.lab, { netlink: true });
  const slow = await readTranslator(ctx, t.lab, { netlink: false });
  assert.equal(fast.read, 'netlink');
  assert.equal(slow.read, 'nft');
  assert.deepEqual(comparable(fast), comparable(slow));
  return fast;
}

const nft = (t: TestLab, script: string) =>
  runner.run(['nft', '-f', '-'], { netns: t.ns('B'), stdin: `${script}\n` });

for (const engine of ['nftables', 'iptables'] as EngineName[]) {
  describe(`translator read back over netlink (${engine})`, () => {
    it('agrees with nft -j: in sync, after migrations (former responders), and drifted', async () => {
      await withLab(
        LAB,
        async (t) => {
          const fresh = await bothReads(t);
          assert.equal(fresh.table.mappings.length, 12);
          assert.equal(fresh.late.initiators.size, 12);
          assert.deepEqual(fresh.late.former, []);
          for (const flow of ['fe00::1', 'fe00::2', 'fe00::7']) await t.fm.swap(t.lab.id, flow);
          const moved = await bothReads(t);
          assert.equal(moved.late.former.length, 3);
          for (const f of moved.late.former) assert.ok(f.expiresMs > 20_000, JSON.stringify(f));
          assert.deepEqual((await t.fm.status(t.lab.id)).drift, []);

          // Drift behind flowmig's back: another initiator for fe00::3's late packets; for the
          // nftables engine also a flow whose way back is gone and a flow flowmig does not know.
          await nft(t, 'delete element ip6 flowmig_late initiator_of { fe00::3 }');
          await nft(t, 'add element ip6 flowmig_late initiator_of { fe00::3 : fc03::1 }');
          if (engine === 'nftables') {
            await nft(t, 'delete element ip6 flowmig dnat_back { fc02::2 . fe00::4 }');
            await nft(t, 'add element ip6 flowmig dnat_to { fc00::1 . fe00::99 : fc01::1 }');
          }
          const drifted = await bothReads(t);
          const status = await t.fm.status(t.lab.id);
          assert.ok(status.drift.includes('flow fe00::3: the late table names another initiator'));
          if (engine === 'nftables') {
            assert.equal(
              drifted.table.mappings.find((m) => m.address === 'fe00::4')?.responderAddress,
              '',
            );
            assert.ok(status.drift.includes('unknown flow fe00::99 in the translator'));
            assert.equal(status.flows.find((f) => f.address === 'fe00::4')?.inSync, false);
          }
          const repaired = await t.fm.reconcile(t.lab.id);
          assert.equal(repaired.repaired, true, JSON.stringify(repaired));
          await bothReads(t);
          assert.deepEqual((await t.fm.status(t.lab.id)).drift, []);

          // Tables missing: both reads say so (a dump of a set that is not there reads as none).
          await nft(t, 'delete table ip6 flowmig_late');
          if (engine === 'nftables') await nft(t, 'delete table ip6 flowmig');
          const gone = await bothReads(t);
          assert.equal(gone.late.installed, false);
          assert.equal(gone.late.initiators.size, 0);
          if (engine === 'nftables') {
            assert.equal(gone.table.installed, false);
            assert.deepEqual(gone.table.mappings, []);
          }
        },
        { engine },
      );
    });
  });
}
