// A flow's live TCP move with the real ports plugged in: the flowmig serve runtimes on both
// servers (over their control sockets) and the translator's hold table (through the agent, or the
// programs without one). The order and its rollback are live-tcp.ts's.
import type { AgentClient } from '../agent/client.js';
import { HOLD_TABLE, holdEdit, holdTable } from '../engines/hold.js';
import { engineFor } from '../engines/registry.js';
import { FlowmigError } from '../errors.js';
import { execute } from '../exec/execute.js';
import type { Runner } from '../exec/runner.js';
import { concreteAddress, type Lab, type LabFlow } from '../lab/model.js';
import { mappingsFor } from '../plan/build.js';
import { type MigrationPlan, planMigration } from '../plan/migrate.js';
import type { Op } from '../plan/ops.js';
import type { ServeClient } from '../serve/client.js';
import type { LabState } from '../state/store.js';
import {
  type LiveTcpResult,
  moveConnections,
  type ServerRuntime,
  type TranslatorPort,
} from './live-tcp.js';
import { connectServer } from './serve-process.js';

/** The controller's part of a live move: applying a planned change, and the lab's agent if any. */
export interface LiveSwitch<A> {
  apply(p: { readonly ops: readonly Op[]; readonly flows: readonly LabFlow[] }): Promise<A>;
  /** The agent that holds and releases packets (none: the programs set the hold, packets drop). */
  agent(): Promise<Pick<AgentClient, 'hold' | 'release'> | undefined>;
}

const NOTHING_MOVED: LiveTcpResult = {
  moved: 0,
  failed: [],
  rolledBack: undefined,
  heldPackets: undefined,
  totalMs: 0,
  queued: { unacked: 0, unsent: 0, unread: 0 },
  steps: [],
};

/**
 * A responder move of a flow with `tcp: migrate`: its TCP connections move too, between the
 * flowmig serve runtimes on both servers. Without a runtime on either server there is nothing to
 * move: the flow migrates as with `reset`, and the result says why no connection moved.
 */
export async function migrateLive<A>(
  runner: Runner,
  state: LabState,
  lab: Lab,
  p: MigrationPlan,
  live: LiveSwitch<A>,
): Promise<{ applied: A; tcp: LiveTcpResult & { note?: string } }> {
  const from = p.from.responder;
  const to = p.flow.responder;
  const handle = (node: string) => state.servers?.find((s) => s.node === node);
  const plain = async (note: string) => ({
    applied: await live.apply(p),
    tcp: { ...NOTHING_MOVED, note },
  });
  const fromH = handle(from);
  const toH = handle(to);
  if (!fromH) return plain(`flowmig serve does not run on ${from}: no connection to move`);
  if (!toH) return plain(`flowmig serve does not run on ${to}: ${from}'s connections were reset`);
  // Both ends must be able to use TCP repair (as each said when it started): else refuse before
  // anything changes.
  for (const h of [fromH, toH])
    if (h.repairUnavailable)
      throw new FlowmigError(
        `cannot move the TCP connections of flow ${p.flow.address}: flowmig serve on ${h.node} cannot use TCP repair (${h.repairUnavailable}); build the native TCP repair addon (npm run build:native) and restart it`,
      );
  const fromC = await connectServer(fromH, lab.id);
  if (typeof fromC === 'string') return plain(`${fromC}: no connection moved`);
  const toC = await connectServer(toH, lab.id);
  if (typeof toC === 'string') {
    fromC.close();
    return plain(`${toC}: ${from}'s connections were reset`);
  }
  try {
    const [mapping] = mappingsFor(lab, [p.flow]);
    const newAddress = concreteAddress(lab, to);
    if (!mapping || !newAddress) throw new Error(`flow ${p.flow.address} has no addresses`);
    const agent = await live.agent();
    const t = lab.translator.netns;
    let applied: { value: A } | undefined;
    const translator: TranslatorPort = {
      hold: async () => {
        if (agent) await agent.hold(HOLD_TABLE, [holdEdit(mapping, true)]);
        else await execute(runner, [holdTable.set(t, mapping, true)]);
      },
      switchOver: async () => {
        applied = { value: await live.apply(p) };
      },
      switchBack: async () => {
        const engine = engineFor(lab.engine);
        await live.apply(planMigration(lab, engine, p.flows, p.flow.address, from));
      },
      release: async () => {
        if (agent) return (await agent.release(HOLD_TABLE, [holdEdit(mapping, false)])).released;
        // No agent, no queue listener: the held packets were dropped (TCP sends them again).
        await execute(runner, [holdTable.set(t, mapping, false)]);
        return undefined;
      },
    };
    const tcp = await moveConnections(serverRuntime(fromC), serverRuntime(toC), translator, {
      peerAddress: p.flow.address,
      newAddress,
    });
    if (!applied) throw new Error('the flow was not switched');
    return {
      applied: applied.value,
      tcp: agent ? tcp : { ...tcp, note: 'no agent: held packets were dropped, not queued' },
    };
  } finally {
    fromC.close();
    toC.close();
  }
}

/** A serve control connection (ServeClient) as the orchestration's ServerRuntime port. */
export function serverRuntime(c: ServeClient): ServerRuntime {
  return {
    prepare: (peerAddress, timeoutMs) => c.prepare({ peerAddress }, timeoutMs),
    prepareIds: (ids, timeoutMs) => c.prepare({ ids }, timeoutMs),
    checkpoint: (ids) => c.checkpoint(ids),
    restore: (connections, localAddress) => c.restore(connections, { localAddress }),
    resume: async (ids) => (await c.resume(ids)).failed,
    abort: async (ids) => {
      await c.abort(ids);
    },
  };
}
