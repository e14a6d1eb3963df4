// Only the pure exports of agent.ts: the Agent class opens netlink sockets and is not built here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  batchesOf,
  MAX_BATCH_ELEMENTS,
  MAX_BATCH_FLOWS,
  splitEdits,
} from '../../src/agent/agent.js';
import { editTransaction } from '../../src/engines/edits.js';
import type { MapEdit } from '../../src/engines/engine.js';
import { messages } from '../../src/netlink/codec.js';
import { transactionBatch } from '../../src/nft/netlink.js';

const KINDS = ['remove', 'add', 'absent'] as const;
type Kind = (typeof KINDS)[number];

/** The flow of an element: the last part of its key (an added map element ends with its value). */
const flowOf = (e: MapEdit, kind: Kind, parts: readonly string[]) =>
  parts[parts.length - (kind === 'add' && !e.set ? 2 : 1)] ?? '';

/** The flows of one kind of an edit's elements. */
const flowsOf = (e: MapEdit | undefined, kind: Kind) =>
  (e?.[kind] ?? []).map((p) => (e ? flowOf(e, kind, p) : ''));

const addr = (i: number) => `fe00::${(i + 1).toString(16)}`;

/** Every element of an edit, of every kind, with its flow. */
const flowsOfAll = (e: MapEdit) => KINDS.flatMap((kind) => flowsOf(e, kind));

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
      remove: ids.map((i) => ['fc00::1', addr(i)]),
      add: ids.map((i) => ['fc00::1', addr(i), 'fc02::2']),
    },
    {
      table: 'flowmig',
      map: 'dnat_back',
      remove: backIds.map((i) => ['fc01::1', addr(i)]),
      add: backIds.map((i) => ['fc02::2', addr(i), 'fc00::1']),
    },
    {
      table: 'flowmig_late',
      map: 'late_from',
      set: true,
      remove: [],
      add: ids.map((i) => ['fc01::1', addr(i)]),
      timeoutMs: 5000,
      absent: ids.map((i) => ['fc02::2', addr(i)]),
    },
  ];
}

/** Every element as `table map kind timeout parts`, for multiset comparisons. */
function inventory(edits: readonly MapEdit[]): string[] {
  return edits
    .flatMap((e) =>
      KINDS.flatMap((kind) =>
        (e[kind] ?? []).map(
          (parts) =>
            `${e.table} ${e.map} ${e.set ? 'set' : 'map'} ${kind} ${kind === 'add' ? (e.timeoutMs ?? '-') : '-'} ${parts.join(' ')}`,
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
      for (const f of flowsOfAll(e)) {
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
    const flowsPer = out.map((b) => new Set(b.flatMap(flowsOfAll)).size);
    assert.deepEqual(flowsPer, [3, 3, 3, 1]);
  });

  it('a flow’s elements share a batch: its deletes, adds, late element and absent one', () => {
    const input = migration(7);
    const out = splitEdits(input, 3);
    checkSplit(input, out, 3);
    for (const batch of out) {
      const flows = (map: string, kind: Kind) =>
        flowsOf(
          batch.find((e) => e.map === map),
          kind,
        ).sort();
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
      set: true,
      remove: [],
      add: ids.map((i) => ['fc01::1', addr(i)]),
      timeoutMs,
    });
    const out = splitEdits([late([0, 1], 1000), late([1, 2], 2000)], 2);
    assert.deepEqual(
      out.map((batch) => batch.map((e) => [e.timeoutMs, flowsOf(e, 'add')])),
      [
        [
          [1000, [addr(0), addr(1)]],
          [2000, [addr(1)]],
        ],
        [[2000, [addr(2)]]],
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
        set: true,
        absent: [0, 1, 2, 3, 4].map((i) => ['fc02::2', addr(i)]),
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
      assert.deepEqual(removes, orig.remove);
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
        remove: [0, 1, 2].map((i) => ['fc00::1', addr(i)]),
        add: [3, 4, 5, 6].map((i) => ['fc00::1', addr(i), 'fc01::1']),
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
        remove: Array.from({ length: n }, (_, i) => ['fc00::1', addr(i)]),
        add: Array.from({ length: n }, (_, i) => ['fc00::1', addr(i), 'fc01::1']),
      },
    ];
    const out = splitEdits(input);
    assert.equal(out.length, 2);
    assert.equal(out[0]?.[0]?.remove.length, MAX_BATCH_FLOWS);
    assert.equal(out[0]?.[0]?.add.length, MAX_BATCH_FLOWS);
    assert.equal(out[1]?.[0]?.remove.length, 1);
    assert.equal(out[1]?.[0]?.add.length, 1);
  });

  it('each batch renders to netlink as the agent sends it: deletes, adds, then the absent add and delete', () => {
    const input = migration(5);
    const out = splitEdits(input, 2);
    let seq = 1;
    const seen: string[] = [];
    const DEL = (10 << 8) | 14;
    const NEW = (10 << 8) | 12;
    for (const part of out) {
      const batch = transactionBatch(editTransaction(part, 'flowmig'), seq);
      seq = batch.nextSeq;
      const types = [...messages(batch.data)].map((m) => m.type);
      // Deletes of the two maps; adds of the two maps, the late element and the absent one; then
      // the absent one's delete.
      assert.deepEqual(types, [0x10, DEL, DEL, NEW, NEW, NEW, NEW, DEL, 0x11]);
      seen.push(...part.flatMap((e) => flowsOf(e, 'add')));
    }
    assert.equal(new Set(seen).size, 5);
  });
});

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
