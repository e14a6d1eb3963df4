// Lab descriptions and assertion helpers shared by the unit tests (no I/O).
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { Lab } from '../../src/lab/model.js';
import { type ResolveOptions, resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';

/** The reference lab (A client, B translator, C and D servers, flow fe00::1 A→C), resolved. */
export function referenceLab(options: ResolveOptions = {}): Lab {
  return resolveLab(REFERENCE_LAB, options);
}

/** Reference topology with two flows: fe00::1 A→C and fe00::2 A→D. */
export const TWO_FLOWS_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'twoflows',
  flows: [
    { address: 'fe00::1', initiator: 'A', responder: 'C' },
    { address: 'fe00::2', initiator: 'A', responder: 'D' },
  ],
};

/** Reference topology plus a third server E (fc03::1). */
export const THREE_SERVERS_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'three',
  nodes: [...REFERENCE_LAB.nodes, { name: 'E', role: 'server' }],
  links: [
    ...REFERENCE_LAB.links,
    { node: 'E', address: 'fc03::1/64', translatorAddress: 'fc03::2/64' },
  ],
};

/** Reference topology plus a second client E (fc03::1). */
export const TWO_CLIENTS_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'clients',
  nodes: [...REFERENCE_LAB.nodes, { name: 'E', role: 'client' }],
  links: [
    ...REFERENCE_LAB.links,
    { node: 'E', address: 'fc03::1/64', translatorAddress: 'fc03::2/64' },
  ],
};

/** A client, the translator and a single server C: nothing to swap to. */
export const ONE_SERVER_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'single',
  nodes: REFERENCE_LAB.nodes.filter((n) => n.name !== 'D'),
  links: REFERENCE_LAB.links.filter((l) => l.node !== 'D'),
};

/** A named flow `web` on fe00::1 in the reference topology. */
export const NAMED_FLOW_LAB: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'named',
  flows: [{ name: 'web', address: 'fe00::1', initiator: 'A', responder: 'C' }],
};

/** Asserts that `fn` throws an InputError whose message matches every pattern; returns it. */
export function assertInputError(fn: () => unknown, ...patterns: RegExp[]): InputError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

/** Element `i` of `items`, failing the test when it is missing (for noUncheckedIndexedAccess). */
export function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  assert.ok(item !== undefined, `no element ${i} (length ${items.length})`);
  return item;
}
