// The translator agent process: runs inside the translator namespace, serves a Unix socket.
// Started by `flowmig up` as `ip netns exec <translator> node main.js --flowmig-agent <lab> --socket <path>`.
import { statSync, unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOLD_QUEUE } from '../engines/hold.js';
import { type Peer, RpcServer } from '../rpc/server.js';
import { Agent } from './agent.js';
import { HoldQueue } from './hold-queue.js';
import { type AgentReply, type AgentRequest, MAX_REQUEST_BYTES } from './protocol.js';

const { values } = parseArgs({
  options: {
    'flowmig-agent': { type: 'string' },
    socket: { type: 'string' },
    netns: { type: 'string' },
  },
});
const lab = values['flowmig-agent'];
const path = values.socket;
if (!lab || !path) {
  process.stderr.write('usage: main.js --flowmig-agent LAB --socket PATH\n');
  process.exit(2);
}

// The conntrack index starts with the first migration: an agent that only stands behind an
// in-process controller (the daemon) is not woken by every conntrack event of the translator.
const agent = await Agent.start({ lazyIndex: true });
// Bound on the first hold (labs without TCP migration never bind it).
let holdQueue: Promise<HoldQueue> | undefined;
// Requests are applied one at a time, in arrival order: each keeps its rule-then-conntrack order.
let queue: Promise<unknown> = Promise.resolve();

/** A reply, and what to do once it is sent (before the next request). */
type Handled = AgentReply | { reply: AgentReply; afterReply: () => Promise<unknown> };

async function handle(req: AgentRequest): Promise<Handled> {
  switch (req.op) {
    case 'hello':
      return { id: req.id, ok: true, pid: process.pid, lab: lab ?? '', ...agent.stats };
    case 'apply': {
      // The caller waits for the migration only: the release transaction follows the reply.
      const { result, release } = await agent.migrate(req);
      if (!req.after?.length) return { id: req.id, ok: true, ...result };
      return {
        reply: { id: req.id, ok: true, ...result, releasing: true },
        afterReply: () =>
          release().catch((e: unknown) => {
            // The new responder may stay in the late set until its grace time ends.
            process.stderr.write(`release after migration ${req.id} failed: ${String(e)}\n`);
          }),
      };
    }
    case 'hold': {
      holdQueue ??= HoldQueue.bind(HOLD_QUEUE);
      const q = await holdQueue.catch((e: unknown) => {
        holdQueue = undefined;
        throw e;
      });
      const t0 = performance.now();
      q.hold();
      try {
        await agent.edit(req.table, req.edits);
      } catch (error) {
        await q.release();
        throw error;
      }
      return { id: req.id, ok: true, holdMs: performance.now() - t0 };
    }
    case 'release': {
      const t0 = performance.now();
      const q = holdQueue ? await holdQueue : undefined;
      // The held packets go on first, in the order they came; then the flow leaves the hold set.
      // The other way round, a packet arriving in between would overtake the held ones (and a
      // TCP segment overtaken by a newer one is dropped by the receiver's PAWS check). Packets
      // queued after the verdict are accepted as they come (HoldQueue).
      const released = q ? await q.release() : 0;
      await agent.edit(req.table, req.edits);
      return { id: req.id, ok: true, releaseMs: performance.now() - t0, released };
    }
    case 'standby':
      agent.standby();
      return { id: req.id, ok: true };
    case 'shutdown':
      setImmediate(stop);
      return { id: req.id, ok: true };
  }
}

/** Queues one request behind the ones before it (from any connection) and answers it. */
function dispatch(value: unknown, peer: Peer): Promise<unknown> {
  const req = value as AgentRequest;
  const work = queue.then(async () => {
    let handled: Handled;
    try {
      handled = await handle(req);
    } catch (e) {
      peer.send({ id: req.id, ok: false, error: String((e as Error).message ?? e) });
      return;
    }
    if ('reply' in handled) {
      peer.send(handled.reply);
      await handled.afterReply();
    } else {
      peer.send(handled);
    }
  });
  queue = work.catch(() => {});
  return work;
}

const server = await RpcServer.listen({
  path,
  existing: 'replace',
  connection: {
    maxRequestBytes: MAX_REQUEST_BYTES,
    onRequest: dispatch,
    badJson: () => ({ id: null, ok: false, error: 'not JSON' }),
    oversize: () => ({ id: null, ok: false, error: 'request line over 64 MiB' }),
    afterOversize: 'skip',
  },
  log: (m) => process.stderr.write(`${m}\n`),
});
process.stdout.write(`flowmig agent for lab ${lab} (pid ${process.pid}) listening on ${path}\n`);

function stop(): void {
  void server.close();
  void holdQueue?.then((q) => q.close()).catch(() => {});
  agent.close();
  try {
    unlinkSync(path as string);
  } catch {
    // already gone
  }
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// An agent must not outlive its namespace: if /run/netns/<name> is gone, or names another
// namespace now, nobody can reach this one any more, so the agent ends itself.
const netns = values.netns;
if (netns) {
  setInterval(() => {
    try {
      const mine = statSync('/proc/self/ns/net');
      const named = statSync(`/run/netns/${netns}`);
      if (mine.ino !== named.ino || mine.dev !== named.dev) stop();
    } catch {
      stop();
    }
  }, 2_000).unref();
}
