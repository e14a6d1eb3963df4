// The TCP drain policy on real namespaces: an ncat TCP session keeps talking to its old server
// across swaps while new connections and ICMP move at once; when the drain ends, it is reset.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Background, sleep } from '../../src/experiment/process.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { ENGINE_VARIANTS, runner, withLab } from '../kernel-support/lab.js';

const DRAIN: LabDescriptionInput = {
  ...REFERENCE_LAB,
  flows: [{ address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'drain', drainSeconds: 3 }],
};

async function echoRequests(netns: string): Promise<number> {
  const text = (await runner.run(['cat', '/proc/net/snmp6'], { netns })).stdout;
  return Number(/^Icmp6InEchos\s+(\d+)/m.exec(text)?.[1] ?? 0);
}

for (const variant of ENGINE_VARIANTS) {
  describe(`tcp: drain — ${variant.name}`, () => {
    it('an open ncat session stays on its server across swaps, new ones move; the drain end resets it', async () => {
      await withLab(
        DRAIN,
        async ({ fm, lab, ns }) => {
          const listen = (node: string, address: string) =>
            Background.start(['ncat', '-l', '-k', address, '5555'], {
              netns: ns(node),
              stdin: true,
            });
          const c = listen('C', 'fc01::1');
          const d = listen('D', 'fc02::2');
          let one: Background | undefined;
          let two: Background | undefined;
          try {
            await sleep(300);
            one = Background.start(['ncat', 'fe00::1', '5555'], { netns: ns('A'), stdin: true });
            const says = async (client: Background, server: Background, line: string) => {
              client.write(`${line}\n`);
              assert.ok(await server.waitFor(line, 3_000), `${line} reached its server`);
            };
            await says(one, c, 'one-before');

            // Swap to D: the session drains on C; a new connection and ping land on D.
            const r = await fm.swap(lab.id, 'fe00::1');
            assert.equal(r.to, 'D');
            await says(one, c, 'one-after-swap');
            two = Background.start(['ncat', 'fe00::1', '5555'], { netns: ns('A'), stdin: true });
            await says(two, d, 'two-new');
            assert.doesNotMatch(c.stdout, /two-new/);
            const before = await echoRequests(ns('D'));
            await runner.run(['ping', '-c', '2', '-i', '0.1', 'fe00::1'], { netns: ns('A') });
            assert.ok((await echoRequests(ns('D'))) >= before + 2, 'ICMP moved to D');
            const status = await fm.status(lab.id);
            const flow = status.flows[0];
            assert.equal(flow?.draining.C, 1, 'one connection drains on C');
            assert.deepEqual(
              flow?.drains.map((x) => x.responder),
              ['C'],
            );

            // Back to C (C serves again, D drains `two`), then to D again (C drains anew).
            await fm.swap(lab.id, 'fe00::1');
            await says(one, c, 'one-back-on-C');
            await says(two, d, 'two-drains-on-D');
            await fm.swap(lab.id, 'fe00::1');
            await says(one, c, 'one-third-swap');
            await says(two, d, 'two-current-again');
            assert.ok(one.running && two.running, 'neither client was reset');

            // The drain ends (3 s): C's remaining connection loses its entry, and its next
            // segment reaches D, which has no socket for it: a reset.
            await sleep(3_500);
            assert.equal(await fm.endDrains(lab.id), 1);
            assert.deepEqual((await fm.status(lab.id)).flows[0]?.draining, {});
            one.write('one-after-drain\n');
            const ended = await Promise.race([
              one.exited.then(() => true),
              sleep(5_000).then(() => false),
            ]);
            assert.ok(ended, 'the drained session was reset after the drain');
            assert.doesNotMatch(c.stdout, /one-after-drain/);
            assert.ok(two.running, 'the current connection is untouched');
          } finally {
            for (const p of [one, two, c, d]) await p?.stop('SIGKILL');
          }
        },
        { engine: variant.engine, agent: variant.agent, inProcess: variant.inProcess },
      );
    });
  });
}
