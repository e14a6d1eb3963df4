// Starts, finds and stops a lab's translator agent (the no-spawn fast path for migrations).
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AgentClient } from '../agent/client.js';
import { findByMarker, isOurProcess } from '../procs/find.js';
import { NoAnswerError, startManaged, stopProcess } from '../procs/managed.js';
import { withConnection } from '../rpc/client.js';

export interface AgentHandle {
  readonly pid: number;
  readonly socket: string;
  readonly log: string;
}

const MAIN = fileURLToPath(new URL('../agent/main.js', import.meta.url));
export const AGENT_MARKER = '--flowmig-agent';
const MARKER = AGENT_MARKER;

export function agentPaths(stateDir: string, id: string): { socket: string; log: string } {
  return { socket: `${stateDir}/${id}.agent.sock`, log: `${stateDir}/${id}.agent.log` };
}

/**
 * Starts the agent in the translator namespace and waits until it answers. `record` runs right
 * after the spawn, before the wait, so a crash in between still leaves the PID on record.
 */
export async function startAgent(
  init: { netns: string; id: string; stateDir: string },
  record: (h: AgentHandle) => Promise<void>,
  timeoutMs = 5_000,
): Promise<AgentHandle> {
  const { socket, log } = agentPaths(init.stateDir, init.id);
  await rm(socket, { force: true });
  try {
    const { pid } = await startManaged({
      argv: [process.execPath, MAIN, MARKER, init.id, '--socket', socket, '--netns', init.netns],
      netns: init.netns,
      logFile: log,
      markers: [MARKER, init.id],
      record: (pid) => record({ pid, socket, log }),
      probe: () =>
        withConnection(
          () => AgentClient.connect(socket, 500),
          (c) => c.hello(),
        ),
      timeoutMs,
    });
    return { pid, socket, log };
  } catch (error) {
    if (!(error instanceof NoAnswerError)) throw error;
    await rm(socket, { force: true });
    throw new Error(`the agent did not start: ${error.message} (log: ${log})`);
  }
}

export async function stopAgent(h: AgentHandle, id: string): Promise<void> {
  // Stop only the process we started: the PID must still run our agent for this lab.
  if (await isOurProcess(h.pid, [MARKER, id])) await stopProcess(h.pid);
  await rm(h.socket, { force: true });
}

/** A connection to a running agent, or the reason there is none. */
export async function connectAgent(h: AgentHandle, id: string): Promise<AgentClient | string> {
  if (!(await isOurProcess(h.pid, [MARKER, id]))) return `agent (pid ${h.pid}) is not running`;
  try {
    return await AgentClient.connect(h.socket, 1_000);
  } catch (error) {
    return `agent (pid ${h.pid}) does not answer: ${(error as Error).message}`;
  }
}

/** PIDs of running flowmig agents whose lab id satisfies `match`, found from /proc. */
export function findAgentsWhere(match: (id: string) => boolean): Promise<number[]> {
  return findByMarker(MARKER, match);
}

/** PIDs of running agents of lab `id` (when the state file is gone, or as a safety net). */
export function findAgents(id: string): Promise<number[]> {
  return findAgentsWhere((x) => x === id);
}

/** Stops every agent of lab `id`: the recorded one and any other the kernel still runs. */
export async function stopAllAgents(id: string, recorded: AgentHandle | undefined): Promise<void> {
  if (recorded) await stopAgent(recorded, id);
  for (const pid of await findAgents(id)) await stopProcess(pid);
}
