// Golden bytes: the nf_tables batches the agent sends for the engines' edits (typed transactions
// rendered to netlink) are byte for byte the ones kept in netlink-golden.json, made before the
// edits were typed; bulk edits (split into several batches) are compared by hash.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { batchesOf } from '../../src/agent/agent.js';
import { editTransaction } from '../../src/engines/edits.js';
import type { FlowMapping, MapEdit } from '../../src/engines/engine.js';
import { lateEdits, releaseEdits } from '../../src/engines/late.js';
import { additions, nftablesEngine } from '../../src/engines/nftables.js';
import { transactionBatch } from '../../src/nft/netlink.js';
import { goldenScenarios } from '../engines/golden-scenarios.js';

/** Repository root: this file runs as dist/test/nft/netlink-golden.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Sent {
  readonly hex: string;
  readonly acks: readonly number[];
  readonly nextSeq: number;
}
interface Hashed {
  readonly sha256: string;
  readonly bytes: number;
  readonly acks: number;
  readonly nextSeq: number;
}

const GOLDEN = JSON.parse(
  readFileSync(join(ROOT, 'test', 'nft', 'netlink-golden.json'), 'utf8'),
) as Record<string, (Sent | Hashed)[]>;

/** The batches as the agent sends them, from sequence 1000 on. */
function batches(edits: readonly MapEdit[]): Sent[] {
  let seq = 1000;
  return batchesOf(edits).map((part) => {
    const b = transactionBatch(editTransaction(part, 'flowmig'), seq);
    seq = b.nextSeq;
    return { hex: b.data.toString('hex'), acks: b.acks, nextSeq: b.nextSeq };
  });
}

const hashed = (list: Sent[]): Hashed[] =>
  list.map((b) => ({
    sha256: createHash('sha256').update(Buffer.from(b.hex, 'hex')).digest('hex'),
    bytes: b.hex.length / 2,
    acks: b.acks.length,
    nextSeq: b.nextSeq,
  }));

describe('golden netlink batches of the engines’ edits', () => {
  const now: Record<string, (Sent | Hashed)[]> = {};
  for (const [name, ops] of Object.entries(goldenScenarios()))
    ops.forEach((op, i) => {
      if (op.edits) now[`${name}#${i}`] = batches(op.edits as MapEdit[]);
    });
  // 20,000 flows moved at once: more elements than one batch takes, split by flow.
  const flows: FlowMapping[] = Array.from({ length: 20_000 }, (_, i) => ({
    address: `fe00::${(i + 1).toString(16)}:1`,
    initiatorAddress: 'fc00::1',
    responderAddress: 'fc01::1',
  }));
  const changes = flows.map((m) => ({ before: m, after: { ...m, responderAddress: 'fc02::2' } }));
  const update = nftablesEngine.update('B', changes, () => []).edits ?? [];
  now['bulk-20000/update'] = hashed(batches([...update, ...lateEdits(changes, 5000)]));
  now['bulk-20000/release'] = hashed(batches(releaseEdits(changes, 5000)));
  const install = nftablesEngine.update('B', additions(flows), () => []).edits ?? [];
  now['bulk-20000/install'] = hashed(batches(install));

  it('covers the same edits', () => {
    assert.deepEqual(Object.keys(now), Object.keys(GOLDEN));
  });
  for (const [name, sent] of Object.entries(GOLDEN))
    it(name, () => {
      assert.deepEqual(JSON.parse(JSON.stringify(now[name])), sent);
    });
});
