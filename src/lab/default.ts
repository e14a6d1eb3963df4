// The reference experiment's lab: A (client) – B (translator) – C, D (servers), flow fe00::1 A→C.
import type { LabDescriptionInput } from './schema.js';

export const REFERENCE_LAB: LabDescriptionInput = {
  name: 'default',
  engine: 'nftables',
  nodes: [
    { name: 'A', role: 'client' },
    { name: 'B', role: 'translator' },
    { name: 'C', role: 'server' },
    { name: 'D', role: 'server' },
  ],
  // The node-side addresses are the ones the reference's commands use; B's own are free choices.
  links: [
    { node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::2/64' },
    { node: 'C', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
    { node: 'D', address: 'fc02::2/64', translatorAddress: 'fc02::1/64' },
  ],
  flows: [{ address: 'fe00::1', initiator: 'A', responder: 'C' }],
};
