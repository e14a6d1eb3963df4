// The daemon holds its lab's lock while it runs and lends it to another process that changes the
// lab (`--direct`): the change waits for the daemon's batch under way, the daemon's next batch
// waits for the change and plans from it (its copy of the state read again), and no request of a
// client of the daemon fails meanwhile.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MigrationResult } from '../../src/control/flowmig.js';
import { StateStore } from '../../src/state/store.js';
import { cli } from '../kernel-support/lab.js';
import { dnatMap, flowAddress, LineClient, serverOf, withBurstLab } from './burst.js';

const FLOWS = 10;

describe("the daemon's lock, lent to --direct", () => {
  it('direct swaps between the clients’ swaps: each plans from the one before, the map equals the state', async () => {
    await withBurstLab(FLOWS, async ({ lab, stateDir, socket }) => {
      assert.equal(existsSync(join(stateDir, `${lab.id}.lock`)), true, 'the daemon holds the lock');
      const flow = flowAddress(0);
      const clients = await Promise.all([0, 1, 2].map(() => LineClient.open(socket)));
      let stop = false;
      const failures: string[] = [];
      // Three clients swapping the other flows all along.
      const loops = clients.map(async (c, k) => {
        let i = 0;
        while (!stop) {
          const r = await c.request({ verb: 'swap', flow: flowAddress(1 + ((k * 3 + i++) % 9)) });
          if (!r?.ok) failures.push(JSON.stringify(r));
        }
      });
      try {
        // The flow moved in turns by --direct and by the daemon: every move starts where the one
        // before ended (a stale copy in the daemon would plan from where the flow was before).
        let at = (await new StateStore(stateDir).read(lab.id))?.flows[0]?.responder;
        for (let i = 0; i < 6; i++) {
          const direct = await cli(
            ['swap', '--direct', '--lab', lab.id, '--flow', flow, '--json'],
            {
              stateDir,
            },
          );
          assert.equal(direct.code, 0, direct.stderr);
          const d = JSON.parse(direct.stdout) as MigrationResult;
          assert.equal(d.from, at, `direct swap ${i}`);
          assert.equal(d.path, 'in-process', `direct swap ${i}: ${d.note ?? ''}`);
          const viaDaemon = await clients[0]?.request({ verb: 'swap', flow });
          assert.ok(viaDaemon?.ok, JSON.stringify(viaDaemon));
          const r = viaDaemon.result as MigrationResult;
          assert.equal(r.from, d.to, `the daemon's swap after direct swap ${i}`);
          assert.equal(r.path, 'in-process', `daemon swap ${i}: ${r.note ?? ''}`);
          at = r.to;
        }
      } finally {
        stop = true;
        await Promise.all(loops);
        for (const c of clients) c.close();
      }
      assert.deepEqual(failures, []);
      const state = await new StateStore(stateDir).read(lab.id);
      assert.ok(state);
      const servers = serverOf(lab);
      const map = await dnatMap(lab);
      for (const f of state.flows)
        assert.equal(servers.get(map.get(f.address) ?? ''), f.responder, f.address);
      // The daemon still answers and holds the lock again.
      const status = await cli(['status', '--lab', lab.id, '--json'], { stateDir });
      assert.equal(status.code, 0, status.stderr);
      assert.equal(existsSync(join(stateDir, `${lab.id}.lock`)), true);
    });
  });
});
