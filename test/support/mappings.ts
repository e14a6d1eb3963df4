// Flow mappings shared by the engine tests: two flows from one initiator, one per server.
import type { FlowMapping } from '../../src/engines/engine.js';

export const M1: FlowMapping = {
  address: 'fe00::1',
  initiatorAddress: 'fc00::1',
  responderAddress: 'fc01::1',
};

export const M2: FlowMapping = {
  address: 'fe00::2',
  initiatorAddress: 'fc00::1',
  responderAddress: 'fc02::2',
};
