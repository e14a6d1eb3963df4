// Many clients, many flows, one daemon: 50 connections each issue 100 swaps and migrations over 200
// flows while the translator's map is sampled every few ms. No flow is ever unmapped, every request
// gets exactly one reply, and afterwards the map, the daemon's flows and the state files agree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MigrationResult } from '../../src/control/flowmig.js';
import type { HelloReply } from '../../src/daemon-api/protocol.js';
import { sleep } from '../../src/experiment/process.js';
import type { LabFlow } from '../../src/lab/model.js';
import { StateStore } from '../../src/state/store.js';
import { dnatMap, flowAddress, LineClient, SERVERS, serverOf, withBurstLab } from './burst.js';

const FLOWS = 200;
const CLIENTS = 50;
const REQUESTS = 100;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

describe('the daemon under concurrent clients', () => {
  it(`${CLIENTS} clients × ${REQUESTS} swaps and migrations over ${FLOWS} flows: never unmapped, one reply each, map = flows = state`, async (t) => {
    await withBurstLab(FLOWS, async ({ lab, stateDir, socket }) => {
      const servers = serverOf(lab);
      const addresses = Array.from({ length: FLOWS }, (_, i) => flowAddress(i));
      // The sampler: the translator's map, again and again, until the clients are done.
      let done = false;
      let samples = 0;
      const unmapped: string[] = [];
      const sampler = (async () => {
        while (!done) {
          const map = await dnatMap(lab);
          samples++;
          for (const a of addresses)
            if (!servers.has(map.get(a) ?? '')) unmapped.push(`${a} in sample ${samples}`);
          await sleep(2);
        }
      })();
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, () => LineClient.open(socket)),
      );
      const results: MigrationResult[] = [];
      const failures: string[] = [];
      try {
        await Promise.all(
          clients.map(async (c) => {
            for (let i = 0; i < REQUESTS; i++) {
              const flow = pick(addresses);
              const reply = await c.request(
                Math.random() < 0.5
                  ? { verb: 'swap', flow }
                  : { verb: 'migrate', flow, node: pick(SERVERS) },
              );
              if (reply?.ok) results.push(reply.result as MigrationResult);
              else failures.push(reply ? reply.error : 'no reply');
            }
          }),
        );
      } finally {
        done = true;
        await sampler;
      }
      await sleep(100); // a second reply to anything would have come by now
      assert.deepEqual(failures, []);
      assert.equal(results.length, CLIENTS * REQUESTS);
      assert.deepEqual(
        clients.flatMap((c) => c.strays),
        [],
        'no request answered twice, no reply to nothing',
      );
      assert.equal(
        clients.reduce((n, c) => n + c.replies, 0),
        CLIENTS * REQUESTS,
      );
      assert.deepEqual(unmapped.slice(0, 10), [], 'a flow unmapped while sampled');
      assert.ok(samples >= 5, `the map was sampled ${samples} times`);

      const c = clients[0] ?? assert.fail('no client');
      const flowsReply = await c.request({ verb: 'flows' });
      assert.ok(flowsReply?.ok);
      const daemonFlows = flowsReply.result as LabFlow[];
      const state = await new StateStore(stateDir).read(lab.id);
      assert.ok(state);
      const map = await dnatMap(lab);
      const asMap = (flows: readonly { address: string; responder: string }[]) =>
        new Map(flows.map((f) => [f.address, f.responder]));
      const kernel = new Map([...map].map(([a, r]) => [a, servers.get(r) ?? `?${r}`]));
      assert.equal(kernel.size, FLOWS);
      assert.deepEqual(kernel, asMap(daemonFlows), 'the map is the daemon’s flows');
      assert.deepEqual(asMap(state.flows), asMap(daemonFlows), 'the state files are too');
      const changed = results.filter((r) => r.changed).length;
      assert.equal(state.migrations, changed, 'every change answered is recorded, once');

      const helloReply = await c.request({ verb: 'hello' });
      assert.ok(helloReply?.ok);
      const hello = helloReply.result as HelloReply;
      const sizes = hello.sizes ?? assert.fail('hello has no batch sizes');
      assert.equal(
        Object.values(sizes).reduce((n, x) => n + x, 0),
        hello.batches,
      );
      assert.equal(hello.queued, 0);
      t.diagnostic(
        `${samples} samples of the map; ${hello.batches} batches, sizes ${JSON.stringify(sizes)}; ${changed} changes`,
      );
      for (const x of clients) x.close();
    });
  });
});
