// Bulk migration: everything on C moves to D in one transaction, one conntrack pass; D's own
// flows keep their entries; C gets nothing afterwards. For every engine variant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrackList } from '../../src/engines/conntrack.js';
import { Background, sleep } from '../../src/experiment/process.js';
import { delta, NetnsCounters } from '../../src/experiment/snmp6.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { ENGINE_VARIANTS, pathOf, TWO_FLOW_LAB, withLab } from '../kernel-support/lab.js';

const THREE_FLOWS: LabDescriptionInput = {
  ...TWO_FLOW_LAB,
  name: 'threeflows',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'D' },
    { address: 'fe00::3', initiator: 'A', responder: 'C' },
  ],
};

for (const variant of ENGINE_VARIANTS) {
  describe(`evacuate: ${variant.name}`, () => {
    it('moves every flow on C to D at once, and touches no other flow', async () => {
      await withLab(
        THREE_FLOWS,
        async ({ fm, lab, ns }) => {
          const events = Background.start(['conntrack', '-E', '-e', 'DESTROY', '-f', 'ipv6'], {
            netns: ns('B'),
          });
          await sleep(300);
          const pings = ['fe00::1', 'fe00::2', 'fe00::3'].map((a) =>
            Background.start(['ping', '-q', '-i', '0.005', a], { netns: ns('A') }),
          );
          const c = await NetnsCounters.open(ns('C'));
          try {
            await sleep(400);
            const r = await fm.evacuate(lab.id, 'C', 'D');
            assert.equal(r.moved, 2);
            assert.equal(r.path, pathOf(variant));
            assert.ok(
              r.conntrackDeleted >= 2,
              `the moved flows' entries went (${r.conntrackDeleted})`,
            );
            await sleep(50);
            const before = await c.read();
            await sleep(300);
            assert.equal(delta(before, await c.read(), 'Icmp6InEchos'), 0, 'C gets nothing now');
            await events.stop('SIGINT');
            const destroyed = parseConntrackList(events.stdout).map((e) => e.origDst);
            assert.ok(!destroyed.includes('fe00::2'), 'the flow already on D kept its entry');
            const s = await fm.status(lab.id);
            assert.deepEqual(
              s.flows.map((f) => [f.address, f.responder, f.inSync]),
              [
                ['fe00::1', 'D', true],
                ['fe00::2', 'D', true],
                ['fe00::3', 'D', true],
              ],
            );
            const again = await fm.evacuate(lab.id, 'C', 'D');
            assert.equal(again.moved, 0, 'nothing left on C');
          } finally {
            await c.close();
            await Promise.all([...pings, events].map((p) => p.stop('SIGKILL')));
          }
        },
        { engine: variant.engine, agent: variant.agent, inProcess: variant.inProcess },
      );
    });
  });
}
