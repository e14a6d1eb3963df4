// Only the pure exports of agent.ts: the Agent class opens netlink sockets and is not built here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BATCH_FLOWS, splitEdits, toElement } from '../../src/agent/agent.js';
import { addressBytes } from '../../src/net/ipv6.js';
import { messages } from '../../src/netlink/codec.js';
import { type MapEdit, type MapElement, mapEditBatch } from '../../src/netlink/nftables.js';

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : '-');
const ab = (a: string) => addressBytes(a).toString('hex');

describe('toElement', () => {
  it('1-part key without value: 16 key bytes, no value', () => {
    const e = toElement(['fe00::1'], false);
    assert.equal(hex(e.key), ab('fe00::1'));
    assert.equal(e.value, undefined);
    assert.equal('value' in e, false);
  });

  it('1-part key with value: key from the first part, value from the last', () => {
    const e = toElement(['fe00::1', 'fc02::2'], true);
    assert.equal(hex(e.key), ab('fe00::1'));
    assert.equal(hex(e.value), ab('fc02::2'));
  });

  it('2-part key without value: 32 bytes, parts back to back', () => {
    const e = toElement(['fc00::1', 'fe00::1:0'], false);
    assert.equal(e.key.length, 32);
    assert.equal(hex(e.key), ab('fc00::1') + ab('fe00::1:0'));
    assert.equal(e.value, undefined);
  });

  it('2-part key with value (the snat map’s element)', () => {
    const e = toElement(['fc00::1', 'fe00::2', 'fe00::2'], true);
    assert.equal(hex(e.key), ab('fc00::1') + ab('fe00::2'));
    assert.equal(hex(e.value), ab('fe00::2'));
  });

  it('accepts any spelling of an address', () => {
    const e = toElement(['FE00:0:0::0001', 'FC02::2'], true);
    assert.equal(hex(e.key), ab('fe00::1'));
    assert.equal(hex(e.value), ab('fc02::2'));
  });

  it('every key byte is written (no leftovers of uninitialised memory)', () => {
    for (let i = 0; i < 50; i++) {
      const e = toElement(['::', '::'], false);
      assert.equal(hex(e.key), '00'.repeat(32));
    }
  });

  it('refuses an invalid address', () => {
    assert.throws(() => toElement(['fe00::g'], false), /not an IPv6 address/);
    assert.throws(() => toElement(['fe00::1', '1.2.3.4'], true), /not an IPv6 address/);
  });
});

/** The flow of an element: the last 16 bytes of its key (the abstract address). */
const flowOf = (el: MapElement) => hex(el.key.subarray(el.key.length - 16));

const addr = (i: number) => `fe00::${(i + 1).toString(16)}`;

/** A migration of n flows: dnat fc01::1 → fc02::2 and snat initiator fc00::1 → fc03::1. */
function migration(n: number, order: 'same' | 'reversed' = 'same'): MapEdit[] {
  const ids = Array.from({ length: n }, (_, i) => i);
  const snatIds = order === 'same' ? ids : [...ids].reverse();
  return [
    {
      table: 'flowmig',
      map: 'dnat_to',
      remove: ids.map((i) => toElement([addr(i)], false)),
      add: ids.map((i) => toElement([addr(i), 'fc02::2'], true)),
    },
    {
      table: 'flowmig',
      map: 'snat_from',
      remove: snatIds.map((i) => toElement(['fc00::1', addr(i)], false)),
      add: snatIds.map((i) => toElement(['fc03::1', addr(i), addr(i)], true)),
    },
  ];
}

/** Every element as `map kind key value`, for multiset comparisons. */
function inventory(edits: readonly MapEdit[]): string[] {
  return edits
    .flatMap((e) =>
      (['remove', 'add'] as const).flatMap((kind) =>
        e[kind].map((el) => `${e.table} ${e.map} ${kind} ${hex(el.key)} ${hex(el.value)}`),
      ),
    )
    .sort();
}

function checkSplit(input: readonly MapEdit[], batches: readonly MapEdit[][], max: number): void {
  // nothing lost, nothing duplicated
  assert.deepEqual(inventory(batches.flat()), inventory(input));
  // each flow in exactly one batch; at most `max` flows per batch
  const batchOfFlow = new Map<string, number>();
  batches.forEach((batch, b) => {
    const flows = new Set<string>();
    for (const e of batch) {
      for (const el of [...e.remove, ...e.add]) {
        const f = flowOf(el);
        flows.add(f);
        const seen = batchOfFlow.get(f);
        assert.ok(seen === undefined || seen === b, `flow ${f} in batches ${seen} and ${b}`);
        batchOfFlow.set(f, b);
      }
    }
    assert.ok(flows.size <= max, `batch ${b} has ${flows.size} flows (max ${max})`);
    assert.ok(flows.size > 0, `batch ${b} is empty`);
    // one edit per map in a batch, each keeping its table
    const maps = batch.map((e) => e.map);
    assert.equal(new Set(maps).size, maps.length, `batch ${b} repeats a map: ${maps.join(',')}`);
  });
}

describe('splitEdits', () => {
  it('MAX_BATCH_FLOWS is the default limit (16384)', () => {
    assert.equal(MAX_BATCH_FLOWS, 16_384);
  });

  it('small edits: one batch holding the edits unchanged', () => {
    const input = migration(3);
    const out = splitEdits(input);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], input);
  });

  it('no edits: no batch', () => {
    assert.deepEqual(splitEdits([]), []);
  });

  it('exactly `max` elements stay in one batch', () => {
    const input = migration(3); // 12 elements
    assert.equal(splitEdits(input, 12).length, 1);
  });

  it('with max 3: 10 flows become 4 batches of 3, 3, 3 and 1 flows', () => {
    const input = migration(10);
    const out = splitEdits(input, 3);
    checkSplit(input, out, 3);
    assert.equal(out.length, 4);
    const flowsPer = out.map(
      (b) => new Set(b.flatMap((e) => [...e.remove, ...e.add].map(flowOf))).size,
    );
    assert.deepEqual(flowsPer, [3, 3, 3, 1]);
  });

  it('a flow’s remove and add share a batch, in both maps', () => {
    const input = migration(7);
    const out = splitEdits(input, 3);
    checkSplit(input, out, 3);
    for (const batch of out) {
      for (const e of batch) {
        const removed = e.remove.map(flowOf).sort();
        const added = e.add.map(flowOf).sort();
        assert.deepEqual(removed, added, `${e.map}: every removed flow is re-added in the batch`);
      }
      const dnat = batch.find((e) => e.map === 'dnat_to');
      const snat = batch.find((e) => e.map === 'snat_from');
      assert.ok(dnat && snat);
      assert.deepEqual(dnat.add.map(flowOf).sort(), snat.add.map(flowOf).sort());
    }
  });

  it('keeps flows together when the maps list them in different orders', () => {
    const input = migration(11, 'reversed');
    const out = splitEdits(input, 4);
    checkSplit(input, out, 4);
  });

  it('elements keep their map and table, and their order within a map', () => {
    const input = migration(9);
    const out = splitEdits(input, 2);
    checkSplit(input, out, 2);
    for (const map of ['dnat_to', 'snat_from']) {
      const orig = input.find((e) => e.map === map);
      assert.ok(orig);
      const removes = out.flatMap((b) => b.filter((e) => e.map === map).flatMap((e) => e.remove));
      assert.deepEqual(
        removes.map((e) => hex(e.key)),
        orig.remove.map((e) => hex(e.key)),
      );
      for (const b of out) for (const e of b) assert.equal(e.table, 'flowmig');
    }
  });

  it('additions and removals of different flows (new and removed flows) are all kept', () => {
    const input: MapEdit[] = [
      {
        table: 'flowmig',
        map: 'dnat_to',
        remove: [0, 1, 2].map((i) => toElement([addr(i)], false)),
        add: [3, 4, 5, 6].map((i) => toElement([addr(i), 'fc01::1'], true)),
      },
    ];
    const out = splitEdits(input, 2);
    checkSplit(input, out, 2);
    assert.equal(out.length, 4);
  });

  it('with the default limit: 16385 flows need two batches, the first full', () => {
    const n = MAX_BATCH_FLOWS + 1;
    const input: MapEdit[] = [
      {
        table: 'flowmig',
        map: 'dnat_to',
        remove: Array.from({ length: n }, (_, i) => ({ key: flowKey(i) })),
        add: Array.from({ length: n }, (_, i) => ({ key: flowKey(i), value: flowKey(0) })),
      },
    ];
    const out = splitEdits(input);
    assert.equal(out.length, 2);
    assert.equal(out[0]?.[0]?.remove.length, MAX_BATCH_FLOWS);
    assert.equal(out[0]?.[0]?.add.length, MAX_BATCH_FLOWS);
    assert.equal(out[1]?.[0]?.remove.length, 1);
    assert.equal(out[1]?.[0]?.add.length, 1);
  });

  it('each batch encodes with mapEditBatch and carries each flow’s delete and add', () => {
    const input = migration(5);
    const out = splitEdits(input, 2);
    let seq = 1;
    const seen: string[] = [];
    for (const part of out) {
      const batch = mapEditBatch(part, seq);
      seq = batch.nextSeq;
      const types = [...messages(batch.data)].map((m) => m.type);
      assert.equal(types[0], 0x10);
      assert.equal(types[types.length - 1], 0x11);
      seen.push(...part.flatMap((e) => e.add.map(flowOf)));
    }
    assert.equal(new Set(seen).size, 5);
  });
});

/** A 16-byte key unique per i. */
function flowKey(i: number): Buffer {
  const b = Buffer.alloc(16);
  b[0] = 0xfe;
  b.writeUInt32BE(i + 1, 12);
  return b;
}
