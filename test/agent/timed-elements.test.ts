import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimedElements } from '../../src/agent/timed-elements.js';
import type { MapEdit } from '../../src/engines/engine.js';

const T = 'flowmig_late';
const joinLate = (keys: string[][], timeoutMs = 5_000): MapEdit => ({
  table: T,
  map: 'late_from',
  set: true,
  remove: [],
  add: keys,
  timeoutMs,
});
const release = (keys: string[][], timeoutMs: number | null = 5_000): MapEdit => ({
  table: T,
  map: 'late_from',
  set: true,
  remove: [],
  add: [],
  absent: keys,
  ...(timeoutMs === null ? {} : { timeoutMs }),
});
const C = ['fc01::1', 'fe00::1'];
const D = ['fc02::2', 'fe00::1'];

describe('TimedElements: which releases are needed', () => {
  it('keeps every release while elements added before the agent started may still live', () => {
    const t = new TimedElements(0);
    assert.deepEqual(t.needed([release([C, D])], 'flowmig', 3_000), [release([C, D])]);
  });

  it('after that, keeps only the elements this agent added and that have not expired', () => {
    const t = new TimedElements(0);
    t.note([joinLate([C])], 'flowmig', 10_000);
    assert.deepEqual(t.needed([release([C, D])], 'flowmig', 12_000), [release([C])]);
    // C expired at 15 s (plus slack): nothing left to release.
    assert.deepEqual(t.needed([release([C, D])], 'flowmig', 16_500), []);
  });

  it('a released or removed element is gone; a re-added one is back', () => {
    const t = new TimedElements(0);
    t.note([joinLate([C, D])], 'flowmig', 10_000);
    t.note([release([C])], 'flowmig', 11_000);
    t.note([{ ...joinLate([]), remove: [D] }], 'flowmig', 11_000);
    assert.deepEqual(t.needed([release([C, D])], 'flowmig', 11_500), []);
    t.note([joinLate([D])], 'flowmig', 12_000);
    assert.deepEqual(t.needed([release([C, D])], 'flowmig', 12_500), [release([D])]);
  });

  it('leaves edits without a timeout, map edits and edits with other work untouched', () => {
    const t = new TimedElements(0);
    const noTimeout = release([C], null);
    const map: MapEdit = { map: 'dnat_to', remove: [], add: [], absent: [C] };
    const mixed: MapEdit = { ...release([C]), add: [D] };
    assert.deepEqual(t.needed([noTimeout, map], 'flowmig', 60_000), [noTimeout, map]);
    assert.deepEqual(t.needed([mixed], 'flowmig', 60_000), [{ ...mixed, absent: [] }]);
  });

  it('tells tables apart (the default table fills in a missing one)', () => {
    const t = new TimedElements(0);
    t.note([{ ...joinLate([C]), table: undefined }], 'other', 10_000);
    assert.deepEqual(t.needed([release([C])], 'flowmig', 11_000), []);
    assert.deepEqual(t.needed([{ ...release([C]), table: undefined }], 'other', 11_000).length, 1);
  });

  it('forgets expired elements once it holds many', () => {
    const t = new TimedElements(0);
    const many = Array.from({ length: 2_000 }, (_, i) => [`fc01::${i + 1}`, 'fe00::1']);
    t.note([joinLate(many, 1_000)], 'flowmig', 0);
    assert.equal(t.size, 2_000);
    t.note([joinLate([C])], 'flowmig', 10_000);
    assert.equal(t.size, 1);
  });
});
