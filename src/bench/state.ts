// State store costs at 1,000 and 100,000 flows: a commit (journal line + fdatasync) and a read
// against a write of the whole state. Run: node dist/src/bench/state.js [--dir DIR] [--json]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REFERENCE_LAB } from '../lab/default.js';
import { labDescriptionSchema } from '../lab/schema.js';
import { distribution } from '../results/stats.js';
import type { LabState, MigrationRecord, StateFlow } from '../state/store.js';
import { StateStore } from '../state/store.js';
import { abstractAddress } from './flows.js';

export interface StateBenchRow {
  readonly flows: number;
  /** What was timed; `per` says per what the figures are. */
  readonly op: string;
  readonly samples: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly max_ms: number;
  /** Total time over the samples divided by the migrated flows (compactions included). */
  readonly ms_per_migration?: number;
  /** Bytes written to the state files per migrated flow (lines and snapshots). */
  readonly bytes_per_migration?: number;
  readonly note?: string;
}

const ID = 'bench-state';

/** A lab state of `n` flows whose description lists them too, as `up` records it. */
function labState(n: number): LabState {
  const flows: StateFlow[] = Array.from({ length: n }, (_, i) => ({
    address: abstractAddress(i),
    initiator: 'A',
    responder: i % 2 ? 'D' : 'C',
  }));
  const description = labDescriptionSchema.parse({ ...REFERENCE_LAB, flows });
  const now = new Date().toISOString();
  return {
    version: 1,
    id: ID,
    prefix: '',
    description,
    phase: 'up',
    pid: process.pid,
    createdAt: now,
    updatedAt: now,
    created: ['A', 'B', 'C', 'D'],
    flows,
    migrations: 0,
  };
}

function migration(f: StateFlow): MigrationRecord {
  return {
    flow: f.address,
    from: f.responder === 'C' ? 'D' : 'C',
    to: f.responder,
    at: new Date().toISOString(),
    totalMs: 0.12,
    ruleMs: 0.06,
    conntrackMs: 0.05,
    conntrackDeleted: 1,
    path: 'in-process',
  };
}

/** Times `fn` `count` times; each sample in ms. */
async function timed(count: number, fn: (i: number) => Promise<unknown> | unknown) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

function row(flows: number, op: string, samples: number[], extra: Partial<StateBenchRow> = {}) {
  const d = distribution(samples);
  return { flows, op, samples: d.count, p50_ms: d.p50, p99_ms: d.p99, max_ms: d.max, ...extra };
}

/** Bytes of the lab's state files now. */
async function bytesOf(store: StateStore): Promise<number> {
  const size = (p: string) =>
    stat(p).then(
      (s) => s.size,
      () => 0,
    );
  return (await size(store.path(ID))) + (await size(store.journalPath(ID)));
}

/** The rows for one lab size, in a fresh state directory under `root`. */
export async function benchState(root: string, n: number): Promise<StateBenchRow[]> {
  const dir = await mkdtemp(join(root, `flowmig-bench-state-${n}-`));
  try {
    const store = new StateStore(dir);
    const other = new StateStore(dir);
    const rows: StateBenchRow[] = [];
    const base = labState(n);
    const writes = await timed(n > 10_000 ? 5 : 50, () => store.write(base));
    const snapshot = await bytesOf(store);
    rows.push(row(n, 'write (whole state)', writes, { bytes_per_migration: snapshot }));

    const state = await store.read(ID);
    if (!state) throw new Error('the state did not read back');
    // Single-flow commits, as a daemon batch of one; and batches of 100 flows. Enough of both
    // that at least one compaction falls among them (weight above max(1,000, n / 4)).
    let k = 0;
    /** The next `batch` flows' change (each moves to the other server), applied to `state`. */
    const change = (batch: number) => {
      const flows: StateFlow[] = [];
      for (let j = 0; j < batch; j++) {
        const i = (k * 7_919 + j * 104_729) % n;
        const f = state.flows[i] as StateFlow;
        const to = { ...f, responder: f.responder === 'C' ? 'D' : 'C' };
        state.flows[i] = to;
        flows.push(to);
      }
      k += batch;
      state.migrations = k;
      return { flows, migrations: k, lastMigration: migration(flows[0] as StateFlow) };
    };
    // Single-flow commits (a daemon batch of one) and lines of 100 flows: enough of each that a
    // compaction falls among them (more than max(1,000, n / 4) flow records).
    for (const batch of [1, 100]) {
      const count = Math.ceil((Math.max(1_000, n / 4) * 1.2) / batch);
      const samples: number[] = [];
      let written = 0;
      for (let c = 0; c < count; c++) {
        const next = change(batch);
        const before = await bytesOf(store);
        const t = performance.now();
        await store.commit(state, next);
        samples.push(performance.now() - t);
        const after = await bytesOf(store);
        // A compaction leaves the files smaller: what it wrote is the new snapshot.
        written += after >= before ? after - before : after;
      }
      const total = samples.reduce((a, b) => a + b, 0);
      rows.push(
        row(n, `commit (${batch} flow${batch > 1 ? 's' : ''} per line)`, samples, {
          ms_per_migration: total / (count * batch),
          bytes_per_migration: written / (count * batch),
          note: 'max: the commit that compacted',
        }),
      );
    }

    rows.push(row(n, 'unchangedSince', await timed(1_000, () => store.unchangedSince(ID))));
    rows.push(row(n, 'read (files unchanged)', await timed(200, () => store.read(ID))));
    await other.read(ID);
    const catchUps: number[] = [];
    for (let c = 0; c < 50; c++) {
      await store.commit(state, change(1));
      catchUps.push((await timed(1, () => other.read(ID)))[0] ?? 0);
    }
    rows.push(
      row(n, 'read after another store committed', catchUps, {
        note: 'only the new line is read',
      }),
    );
    const cold = await timed(n > 10_000 ? 3 : 20, () => new StateStore(dir).read(ID));
    rows.push(row(n, 'read (cold: parse snapshot + journal)', cold));
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: tmpdir() },
      flows: { type: 'string', default: '1000,100000' },
      json: { type: 'boolean', default: false },
    },
  });
  const rows: StateBenchRow[] = [];
  for (const n of values.flows.split(',').map(Number))
    rows.push(...(await benchState(values.dir, n)));
  if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
  else {
    const f = (x: number | undefined, d = 3) => (x === undefined ? '' : x.toFixed(d));
    process.stdout.write(
      `${'flows'.padStart(7)}  ${'op'.padEnd(38)} ${'samples'.padStart(7)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'max ms'.padStart(9)} ${'ms/migr'.padStart(8)} ${'B/migr'.padStart(9)}\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `${String(r.flows).padStart(7)}  ${r.op.padEnd(38)} ${String(r.samples).padStart(7)} ${f(r.p50_ms).padStart(9)} ${f(r.p99_ms).padStart(9)} ${f(r.max_ms).padStart(9)} ${f(r.ms_per_migration).padStart(8)} ${f(r.bytes_per_migration, 0).padStart(9)}\n`,
      );
  }
}
