// Synthetic flow tables for benchmarks: N abstract addresses, fe00::1 first, all from one initiator.
import type { FlowMapping } from '../engines/engine.js';

/** The i-th abstract address (i ≥ 0): fe00::1, then fe00::1:0, fe00::1:1, ... (all distinct). */
export function abstractAddress(i: number): string {
  if (i === 0) return 'fe00::1';
  const n = i + 0xffff; // skip fe00::0:0 .. fe00::0:ffff so fe00::1 stays unique
  return `fe00::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
}

/** N mappings; flow 0 (fe00::1) starts on `first`, the rest alternate between the two servers. */
export function syntheticMappings(
  n: number,
  initiator: string,
  servers: readonly [string, string],
  first: string = servers[0],
): FlowMapping[] {
  const out: FlowMapping[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      address: abstractAddress(i),
      initiatorAddress: initiator,
      responderAddress: i === 0 ? first : (servers[i % 2] ?? servers[0]),
    });
  }
  return out;
}
