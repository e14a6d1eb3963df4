// Durability of the daemon's batches: a burst of 100 clients, the daemon SIGKILLed at a random
// moment, restarted; 16 times. After each restart every migration answered ok is in the kernel and
// in the state files (as answered, or moved on by the same flow's next move), and none that was
// not answered is half-applied: the translator's map equals the state files for every flow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MigrationResult } from '../../src/control/flowmig.js';
import type { DaemonReply, HelloReply } from '../../src/daemon-api/protocol.js';
import { sleep } from '../../src/experiment/process.js';
import { StateStore } from '../../src/state/store.js';
import { cli } from '../kernel-support/lab.js';
import { dnatMap, flowAddress, LineClient, SERVERS, serverOf, withBurstLab } from './burst.js';

const CLIENTS = 100;
const KILLS = 16;
/** Moves each client asks for per burst, at most two under way at once on its connection. */
const PER_CLIENT = 40;

/** The server after `node`: where a swap moves a flow (C → D → E → C). */
const after = (node: string) =>
  SERVERS[(SERVERS.indexOf(node as (typeof SERVERS)[number]) + 1) % SERVERS.length] as string;

interface Sent {
  readonly node: string;
  reply: DaemonReply | undefined;
}

/**
 * One client's burst on its own flow: each move to the server after the one before (by `swap` or
 * by `migrate` naming it), two under way at a time, until the connection closes. The moves sent,
 * in order, with the replies that came.
 */
async function drive(c: LineClient, flow: string, start: string): Promise<Sent[]> {
  const sent: Sent[] = [];
  const pending: Promise<void>[] = [];
  let node = start;
  for (let i = 0; i < PER_CLIENT && !c.closed; i++) {
    node = after(node);
    const entry: Sent = { node, reply: undefined };
    sent.push(entry);
    const body =
      Math.random() < 0.5
        ? ({ verb: 'swap', flow } as const)
        : ({ verb: 'migrate', flow, node } as const);
    pending.push(
      c.request(body).then((r) => {
        entry.reply = r;
      }),
    );
    if (pending.length >= 2) await pending.shift();
  }
  await Promise.all(pending);
  return sent;
}

describe('the daemon killed during bursts', () => {
  it(`SIGKILL at ${KILLS} random points of bursts of ${CLIENTS} clients: what was answered stays, nothing is half-applied`, async (t) => {
    await withBurstLab(CLIENTS, async ({ lab, stateDir, socket: firstSocket }) => {
      const servers = serverOf(lab);
      let socket = firstSocket;
      const first = await new StateStore(stateDir).read(lab.id);
      assert.ok(first);
      let responders = new Map(first.flows.map((f) => [f.address, f.responder]));
      let migrations = first.migrations;
      let answeredTotal = 0;
      let inFlight = 0;
      for (let k = 0; k < KILLS; k++) {
        const probe = await LineClient.open(socket);
        const hello = await probe.request({ verb: 'hello' });
        probe.close();
        assert.ok(hello?.ok, `kill ${k}: the daemon answers`);
        const pid = (hello.result as HelloReply).pid;
        const clients = await Promise.all(
          Array.from({ length: CLIENTS }, () => LineClient.open(socket)),
        );
        const runs = clients.map((c, i) =>
          drive(c, flowAddress(i), responders.get(flowAddress(i)) ?? ''),
        );
        await sleep(Math.random() * 250);
        process.kill(pid, 'SIGKILL');
        const bursts = await Promise.all(runs);
        for (const c of clients) c.close();

        const restart = await cli(['daemon', '--detach', '--json'], { stateDir });
        assert.equal(restart.code, 0, `restart ${k}: ${restart.stderr}`);
        socket = (JSON.parse(restart.stdout) as { socket: string }).socket;

        // The restarted daemon restated the translator from the state files: they agree.
        const state = await new StateStore(stateDir).read(lab.id);
        assert.ok(state, `kill ${k}: the state reads`);
        const map = await dnatMap(lab);
        const now = new Map(state.flows.map((f) => [f.address, f.responder]));
        for (const [address, responder] of now)
          assert.equal(servers.get(map.get(address) ?? ''), responder, `kill ${k}: ${address}`);

        let answered = 0;
        let sent = 0;
        for (const [i, moves] of bursts.entries()) {
          const flow = flowAddress(i);
          const start = responders.get(flow) ?? '';
          // Replies on one connection come in order: the answered moves are the first ones.
          const done = moves.findIndex((m) => m.reply === undefined);
          const m = done < 0 ? moves.length : done;
          for (const [j, move] of moves.entries()) {
            if (j >= m) {
              assert.equal(move.reply, undefined, `kill ${k}: ${flow} answered after a gap`);
              continue;
            }
            assert.ok(move.reply?.ok, `kill ${k}: ${flow}: ${JSON.stringify(move.reply)}`);
            const r = move.reply.result as MigrationResult;
            const from = j === 0 ? start : (moves[j - 1]?.node ?? '');
            assert.deepEqual(
              [r.flow, r.from, r.to, r.changed],
              [flow, from, move.node, true],
              `kill ${k}: ${flow} move ${j}`,
            );
          }
          // Where the flow may be: where its last answered move took it, or where a later move
          // (sent, not answered) took it whole.
          const allowed = [
            m === 0 ? start : (moves[m - 1]?.node ?? ''),
            ...moves.slice(m).map((x) => x.node),
          ];
          assert.ok(
            allowed.includes(now.get(flow) ?? ''),
            `kill ${k}: ${flow} is on ${now.get(flow)}, not one of ${allowed.join(', ')} (${m} of ${moves.length} answered)`,
          );
          answered += m;
          sent += moves.length;
        }
        assert.ok(
          state.migrations - migrations >= answered && state.migrations - migrations <= sent,
          `kill ${k}: ${state.migrations - migrations} migrations recorded, ${answered} answered, ${sent} sent`,
        );
        assert.deepEqual(
          clients.flatMap((c) => c.strays),
          [],
          `kill ${k}: a reply to no request`,
        );
        answeredTotal += answered;
        inFlight += sent - answered;
        responders = now;
        migrations = state.migrations;
      }
      t.diagnostic(
        `${KILLS} kills: ${answeredTotal} migrations answered, ${inFlight} sent and not answered`,
      );
      assert.ok(answeredTotal > 0, 'some migrations were answered before a kill');
    });
  });
});
