// Lab state records for store and controller tests.
import type { Lab } from '../../src/lab/model.js';
import type { LabState } from '../../src/state/store.js';

/** The state `up` would record for `lab` once built. */
export function stateOf(lab: Lab, over: Partial<LabState> = {}): LabState {
  return {
    version: 1,
    id: lab.id,
    prefix: lab.prefix,
    description: lab.description,
    phase: 'up',
    pid: process.pid,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    created: lab.nodes.map((n) => n.netns),
    flows: lab.flows.map((f) => ({
      address: f.address,
      initiator: f.initiator,
      responder: f.responder,
    })),
    migrations: 0,
    ...over,
  };
}
