// Reads the captured tool outputs in test/fixtures/captures (see its README for how each was made).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SwapMark } from '../../src/metrics/swaps.js';

/** Tests run from dist/test/metrics; the fixtures stay in the source tree. */
export const CAPTURES = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'test',
  'fixtures',
  'captures',
);

export function capture(name: string): string {
  return readFileSync(join(CAPTURES, name), 'utf8');
}

interface SwapOutput {
  readonly from: string;
  readonly to: string;
  readonly steps: readonly { readonly startedAt: number }[];
}

/**
 * The swaps of a `flowmig swap --json` output file (pretty-printed objects one after another); a
 * swap was issued when its first step (the rule change) started.
 */
export function captureSwaps(name: string): SwapMark[] {
  return capture(name)
    .split(/^\}\n?/m)
    .filter((chunk) => chunk.trim() !== '')
    .map((chunk) => JSON.parse(`${chunk}}`) as SwapOutput)
    .map((o) => ({ issuedMs: o.steps[0]?.startedAt ?? Number.NaN, from: o.from, to: o.to }));
}

/** Counts of each value. */
export function tally<T>(items: Iterable<T>): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
