// What the crash test's child commits: commit k moves flows to responder R<k>, so the state after
// commits 1..m is known exactly (one flow per commit, three flows every third commit).
import type { LabState } from '../../src/state/store.js';

/** The flows (by index) commit `k` moves. */
export function touchedBy(k: number, flows: number): number[] {
  return k % 3 === 0 ? [k % flows, (k + 7) % flows, (k + 11) % flows] : [k % flows];
}

export function flowAt(i: number, responder: string): LabState['flows'][number] {
  return { address: `fe00::1:${i.toString(16)}`, initiator: 'A', responder };
}

/** The flows after commits 1..m over `flows` flows that all started on C. */
export function flowsAfter(m: number, flows: number): LabState['flows'] {
  const out = Array.from({ length: flows }, (_, i) => flowAt(i, 'C'));
  for (let k = 1; k <= m; k++) for (const i of touchedBy(k, flows)) out[i] = flowAt(i, `R${k}`);
  return out;
}
