// A lab as the controller's modules see it: where its state and commands go, the resolved lab of
// its recorded state, its flows in either form, and the check that it is up.
import { FlowmigError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import type { Lab, LabFlow } from '../lab/model.js';
import { resolveLab } from '../lab/resolve.js';
import type { LabState, StateStore } from '../state/store.js';

/** What every verb acts through: the lab's recorded state and the commands it runs. */
export interface ControlContext {
  readonly store: StateStore;
  readonly runner: Runner;
}

/** Resolved labs by the (never changed) description object the state store handed out. */
const resolved = new WeakMap<LabState['description'], { prefix: string; lab: Lab }>();

/**
 * The resolved lab of a state. Resolving checks every flow again (~0.3 s at 100,000 flows); the
 * state store shares one description object while its file is unchanged, so a daemon resolves a
 * lab once, not once per change.
 */
export function labOf(state: LabState): Lab {
  const hit = resolved.get(state.description);
  if (hit?.prefix === state.prefix) return hit.lab;
  const lab = resolveLab(state.description, {
    prefix: state.prefix,
    source: `state of lab ${state.id}`,
  });
  resolved.set(state.description, { prefix: state.prefix, lab });
  return lab;
}

export function toStateFlow(f: LabFlow): LabState['flows'][number] {
  return f.name === undefined
    ? { address: f.address, initiator: f.initiator, responder: f.responder }
    : { name: f.name, address: f.address, initiator: f.initiator, responder: f.responder };
}

export function fromStateFlow(f: LabState['flows'][number]): LabFlow {
  return { name: f.name, address: f.address, initiator: f.initiator, responder: f.responder };
}

/** The state of lab `id`, which must be up (not building, not gone). */
export async function requireUp(store: StateStore, id: string): Promise<LabState> {
  const state = await store.read(id);
  if (!state) throw new FlowmigError(`no lab '${id}' is up`);
  if (state.phase !== 'up') throw new FlowmigError(`lab ${id} is not up (it is ${state.phase})`);
  return state;
}

/** Whether a process with this PID exists (EPERM: it does, and is someone else's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
