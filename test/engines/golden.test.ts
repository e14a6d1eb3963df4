// Golden text: the commands every engine operation runs (nft scripts, ip6tables-restore input),
// for a set of labs and changes, are byte for byte the ones kept in golden/ops.json (made before
// the operations were typed; the kernel tests run these very scripts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type GoldenOp, goldenScenarios } from './golden-scenarios.js';

/** Repository root: this file runs as dist/test/engines/golden.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const GOLDEN = JSON.parse(
  readFileSync(join(ROOT, 'test', 'engines', 'golden', 'ops.json'), 'utf8'),
) as Record<string, GoldenOp[]>;

describe('golden text of the engines’ operations', () => {
  const now = goldenScenarios();

  it('covers the same scenarios', () => {
    assert.deepEqual(Object.keys(now), Object.keys(GOLDEN));
  });

  for (const [name, ops] of Object.entries(GOLDEN)) {
    it(name, () => {
      // JSON round trip: the same shape as the stored one (no undefined fields).
      assert.deepEqual(JSON.parse(JSON.stringify(now[name])), ops);
    });
  }
});
