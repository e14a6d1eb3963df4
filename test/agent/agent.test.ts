// Only the pure exports of agent.ts: the Agent class opens netlink sockets and is not built here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  batchesOf,
  MAX_BATCH_ELEMENTS,
  MAX_BATCH_FLOWS,
  splitEdits,
  toElement,
} from '../../src/agent/agent.js';
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

  it('2-part key with value (the dnat maps’ elements)', () => {
    const e = toElement(['fc00::1', 'fe00::2', 'fc02::2'], true);
    assert.equal(hex(e.key), ab('fc00::1') + ab('fe00::2'));
    assert.equal(hex(e.value), ab('fc02::2'));
  });

  it('a set element: every part is key (the late set’s former responder . abstract address)', () => {
    const e = toElement(['fc01::1', 'fe00::1'], false);
    assert.equal(hex(e.key), ab('fc01::1') + ab('fe00::1'));
    assert.equal('value' in e, false);
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

const KINDS = ['remove', 'add', 'absent'] as const;

/** Every element of an edit, of every kind. */
const elementsOf = (e: MapEdit) => KINDS.flatMap((kind) => e[kind] ?? []);

/**
 * A batch for n flows (initiator fc00::1) moving from fc01::1 to fc02::2 with every kind of element
 * splitEdits must keep together: the engine's two maps, then the late set (fc01::1 for 5 s,
 * fc02::2 absent). The planner sends the absent elements apart, in the `after` batch that follows
 * the conntrack deletes (see releaseEdits); splitEdits treats any mix the same. `reversed` lists
 * the way back's flows the other way round.
 */
function migration(n: number, order: 'same' | 'reversed' = 'same'): MapEdit[] {
  const ids = Array.from({ length: n }, (_, i) => i);
  const backIds = order === 'same' ? ids : [...ids].reverse();
  return [
    {
      table: 'flowmig',
      map: 'dnat_to',
      remove: ids.map((i) => toElement(['fc00::1', addr(i)], false)),
      add: ids.map((i) => toElement(['fc00::1', addr(i), 'fc02::2'], true)),
    },
    {
      table: 'flowmig',
      map: 'dnat_back',
      remove: backIds.map((i) => toElement(['fc01::1', addr(i)], false)),
      add: backIds.map((i) => toElement(['fc02::2', addr(i), 'fc00::1'], true)),
    },
    {
      table: 'flowmig_late',
      map: 'late_from',
      remove: [],
      add: ids.map((i) => toElement(['fc01::1', addr(i)], false)),
      timeoutMs: 5000,
      absent: ids.map((i) => toElement(['fc02::2', addr(i)], false)),
    },
  ];
}

/** Every element as `table map kind timeout key value`, for multiset comparisons. */
function inventory(edits: readonly MapEdit[]): string[] {
  return edits
    .flatMap((e) =>
      KINDS.flatMap((kind) =>
        (e[kind] ?? []).map(
          (el) =>
            `${e.table} ${e.map} ${kind} ${kind === 'add' ? (e.timeoutMs ?? '-') : '-'} ${hex(el.key)} ${hex(el.value)}`,
        ),
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
      for (const el of elementsOf(e)) {
        const f = flowOf(el);
        flows.add(f);
        const seen = batchOfFlow.get(f);
        assert.ok(seen === undefined || seen === b, `flow ${f} in batches ${seen} and ${b}`);
        batchOfFlow.set(f, b);
      }
    }
    assert.ok(flows.size <= max, `batch ${b} has ${flows.size} flows (max ${max})`);
    assert.ok(flows.size > 0, `batch ${b} is empty`);
    // one edit per source edit in a batch (here: one per table and map)
    const maps = batch.map((e) => `${e.table} ${e.map}`);
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

  it('up to `max` elements: the edits as they are, in one batch', () => {
    const input = migration(3); // 3 flows × (2 dnat_to + 2 dnat_back + 1 late + 1 absent)
    const out = splitEdits(input, 18);
    assert.equal(out.length, 1);
    assert.equal(out[0]?.length, input.length);
    for (const [i, e] of input.entries()) assert.equal(out[0]?.[i], e);
  });

  it('`max` counts flows: 3 flows fit one batch of 3, not of 2', () => {
    const input = migration(3);
    for (const [max, batches] of [
      [17, 1],
      [3, 1],
      [2, 2],
      [1, 3],
    ] as const) {
      const out = splitEdits(input, max);
      checkSplit(input, out, max);
      assert.equal(out.length, batches, `max ${max}`);
    }
  });

  it('with max 3: 10 flows become 4 batches of 3, 3, 3 and 1 flows', () => {
    const input = migration(10);
    const out = splitEdits(input, 3);
    checkSplit(input, out, 3);
    assert.equal(out.length, 4);
    const flowsPer = out.map((b) => new Set(b.flatMap((e) => elementsOf(e).map(flowOf))).size);
    assert.deepEqual(flowsPer, [3, 3, 3, 1]);
  });

  it('a flow’s elements share a batch: its deletes, adds, late element and absent one', () => {
    const input = migration(7);
    const out = splitEdits(input, 3);
    checkSplit(input, out, 3);
    for (const batch of out) {
      const flows = (map: string, kind: (typeof KINDS)[number]) =>
        (batch.find((e) => e.map === map)?.[kind] ?? []).map(flowOf).sort();
      const moved = flows('dnat_to', 'add');
      assert.ok(moved.length > 0);
      for (const map of ['dnat_to', 'dnat_back'])
        for (const kind of ['remove', 'add'] as const)
          assert.deepEqual(flows(map, kind), moved, `${map} ${kind}`);
      assert.deepEqual(flows('late_from', 'add'), moved, 'late_from add');
      assert.deepEqual(flows('late_from', 'absent'), moved, 'late_from absent');
    }
  });

  it('every batch keeps the late set’s table and timeout; the maps get none', () => {
    const out = splitEdits(migration(7), 3);
    for (const batch of out) {
      const late = batch.find((e) => e.map === 'late_from');
      assert.equal(late?.table, 'flowmig_late');
      assert.equal(late?.timeoutMs, 5000);
      for (const e of batch.filter((x) => x.map !== 'late_from')) {
        assert.equal(e.table, 'flowmig');
        assert.equal('timeoutMs' in e, false, e.map);
      }
    }
  });

  it('two edits of one set with different timeouts stay apart (one slot per edit)', () => {
    const late = (ids: number[], timeoutMs: number): MapEdit => ({
      table: 'flowmig_late',
      map: 'late_from',
      remove: [],
      add: ids.map((i) => toElement(['fc01::1', addr(i)], false)),
      timeoutMs,
    });
    const out = splitEdits([late([0, 1], 1000), late([1, 2], 2000)], 2);
    assert.deepEqual(
      out.map((batch) => batch.map((e) => [e.timeoutMs, e.add.map(flowOf)])),
      [
        [
          [1000, [ab(addr(0)), ab(addr(1))]],
          [2000, [ab(addr(1))]],
        ],
        [[2000, [ab(addr(2))]]],
      ],
    );
  });

  it('edits holding only absent elements are split by flow too', () => {
    const input: MapEdit[] = [
      {
        table: 'flowmig_late',
        map: 'late_from',
        remove: [],
        add: [],
        absent: [0, 1, 2, 3, 4].map((i) => toElement(['fc02::2', addr(i)], false)),
      },
    ];
    const out = splitEdits(input, 2);
    checkSplit(input, out, 2);
    assert.deepEqual(
      out.map((b) => b[0]?.absent?.length),
      [2, 2, 1],
    );
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
    for (const map of ['dnat_to', 'dnat_back']) {
      const orig = input.find((e) => e.map === map);
      assert.ok(orig);
      const removes = out.flatMap((b) => b.filter((e) => e.map === map).flatMap((e) => e.remove));
      assert.deepEqual(
        removes.map((e) => hex(e.key)),
        orig.remove.map((e) => hex(e.key)),
      );
      for (const b of out)
        for (const e of b)
          assert.equal(e.table, e.map === 'late_from' ? 'flowmig_late' : 'flowmig');
    }
  });

  it('additions and removals of different flows (new and removed flows) are all kept', () => {
    const input: MapEdit[] = [
      {
        table: 'flowmig',
        map: 'dnat_to',
        remove: [0, 1, 2].map((i) => toElement(['fc00::1', addr(i)], false)),
        add: [3, 4, 5, 6].map((i) => toElement(['fc00::1', addr(i), 'fc01::1'], true)),
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

  it('each batch encodes with mapEditBatch: deletes, adds, then the absent add and delete', () => {
    const input = migration(5);
    const out = splitEdits(input, 2);
    let seq = 1;
    const seen: string[] = [];
    const DEL = (10 << 8) | 14;
    const NEW = (10 << 8) | 12;
    for (const part of out) {
      const batch = mapEditBatch(part, seq);
      seq = batch.nextSeq;
      const types = [...messages(batch.data)].map((m) => m.type);
      // Deletes of the two maps; adds of the two maps, the late element and the absent one; then
      // the absent one's delete.
      assert.deepEqual(types, [0x10, DEL, DEL, NEW, NEW, NEW, NEW, DEL, 0x11]);
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

describe('batchesOf', () => {
  it('edits up to MAX_BATCH_ELEMENTS elements go as they are, in one batch', () => {
    const input = migration(10);
    const out = batchesOf(input);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], input);
    assert.deepEqual(batchesOf([]), []);
    assert.equal(MAX_BATCH_ELEMENTS, 65_536);
  });

  it('bigger edits are split by flow (each batch at most MAX_BATCH_FLOWS flows)', () => {
    const input = migration(MAX_BATCH_FLOWS + 10); // 6 elements per flow: over the element limit
    const out = batchesOf(input);
    assert.ok(out.length >= 2, `${out.length} batches`);
    checkSplit(input, out, MAX_BATCH_FLOWS);
  });
});
