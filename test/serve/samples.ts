// Sample values shared by the serve tests.
import type { TcpSocketState } from '../../src/tcp-repair/types.js';

/** A plausible checkpointed socket (never handed to the kernel by the unit tests). */
export const SAMPLE_STATE: TcpSocketState = {
  version: 1,
  local: { address: 'fc01::1', port: 5555 },
  peer: { address: 'fe00::1', port: 40_001 },
  sendSeq: 1_000,
  recvSeq: 2_000,
  sendQueue: Buffer.from('abc').toString('base64'),
  unsent: 1,
  recvQueue: '',
  mss: 1_440,
  timestamp: 123_456,
  window: { sndWl1: 1, sndWnd: 65_535, maxWindow: 65_535, rcvWnd: 65_535, rcvWup: 2_000 },
  options: 7,
  sndWscale: 7,
  rcvWscale: 7,
};
