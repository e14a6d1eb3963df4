// A flow with `tcp: migrate` moving on its ingress host: its TCP connections go from the old
// server's flowmig serve runtime to the new one's (on any host: the runtimes are found by their
// command lines, their control sockets are files of the machine) around the flow's own switch, in
// the single-host order (control/live-tcp.ts): prepare, hold, checkpoint, switch, restore, release,
// resume. The table has the last word: a move that had to roll back (a failed restore) is
// switched again, and those connections end as with `tcp: reset`.

import { serverRuntime } from '../control/live-move.js';
import { moveConnections, type TranslatorPort } from '../control/live-tcp.js';
import { findRuntimes } from '../control/serve-process.js';
import { holdTable } from '../engines/hold.js';
import { execute } from '../exec/execute.js';
import type { Runner } from '../exec/runner.js';
import { ServeClient } from '../serve/client.js';
import type { HostApplier } from './apply.js';
import type { LiveMove } from './plan.js';
import { type HostView, mappingOf } from './view.js';

/** Moves `move`'s connections and switches the flow; returns a line for the host's log. */
export async function applyLiveMove(
  view: HostView,
  runner: Runner,
  applier: HostApplier,
  move: LiveMove,
): Promise<string> {
  const name = (address: string) => view.nodes.get(address)?.node ?? address;
  const from = name(move.from.responder);
  const to = name(move.to.responder);
  const what = `flow ${move.address} ${from} → ${to}`;
  const plain = async (why: string) => {
    await applier.apply(move.ops);
    return `${what}: ${why}; no TCP connection moved`;
  };
  const runtimes = await findRuntimes(view.lab);
  const fromR = runtimes.find((r) => r.node === from);
  const toR = runtimes.find((r) => r.node === to);
  if (!fromR) return plain(`flowmig serve does not run on ${from}`);
  if (!toR) return plain(`flowmig serve does not run on ${to}: ${from}'s connections were reset`);
  const fromC = await ServeClient.connect(fromR.socket, 1_000).catch((e: Error) => e.message);
  if (typeof fromC === 'string')
    return plain(`flowmig serve on ${from} does not answer (${fromC})`);
  const toC = await ServeClient.connect(toR.socket, 1_000).catch((e: Error) => e.message);
  if (typeof toC === 'string') {
    fromC.close();
    return plain(
      `flowmig serve on ${to} does not answer (${toC}): ${from}'s connections were reset`,
    );
  }
  try {
    const unable = [
      [from, (await fromC.hello()).repairUnavailable],
      [to, (await toC.hello()).repairUnavailable],
    ].find(([, why]) => why !== undefined);
    if (unable)
      return await plain(`flowmig serve on ${unable[0]} cannot use TCP repair (${unable[1]})`);
    const mapping = mappingOf(move.address, move.from);
    const t = view.netns;
    let switched = false;
    const translator: TranslatorPort = {
      // No queue listener here: held packets are dropped, and TCP sends them again.
      hold: async () => {
        await execute(runner, [holdTable.set(t, mapping, true)]);
      },
      switchOver: async () => {
        await applier.apply(move.ops);
        switched = true;
      },
      switchBack: async () => {
        await applier.apply(move.back);
        switched = false;
      },
      release: async () => {
        await execute(runner, [holdTable.set(t, mapping, false)]);
        return undefined;
      },
    };
    const r = await moveConnections(serverRuntime(fromC), serverRuntime(toC), translator, {
      peerAddress: move.address,
      newAddress: move.to.responder,
    });
    const failed = r.failed.length ? `, ${r.failed.length} could not move (reset)` : '';
    if (switched)
      return `${what}: moved ${r.moved} TCP connection(s) in ${r.totalMs.toFixed(1)} ms${failed}`;
    // Rolled back: the table says `to`, so the flow follows it and those connections end.
    await applier.apply(move.ops);
    return `${what}: the restore failed (${r.rolledBack ?? 'unknown'}); the flow follows the table, its connections were reset`;
  } finally {
    fromC.close();
    toC.close();
  }
}
