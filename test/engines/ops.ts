// Helpers for the engine and planner tests: an operation's commands as they run, and what a
// fake translator holds after operations, read back the way the engine reads the kernel.
import assert from 'node:assert/strict';
import type { Engine, FlowMapping, NetfilterApplyOp } from '../../src/engines/engine.js';
import { FakeTranslator } from '../../src/engines/fake.js';
import { commandFor } from '../../src/plan/command.js';
import type { Op } from '../../src/plan/ops.js';

/** The op's stdin as it runs (an nftables transaction rendered to nft text). */
export function stdinOf(op: Op | undefined): string {
  assert.ok(op, 'no op');
  return commandFor(op).stdin ?? '';
}

/** The program an op runs. */
export function argvOf(op: Op | undefined): readonly string[] {
  assert.ok(op, 'no op');
  return commandFor(op).argv;
}

/** The op as a program's input (ip6tables-restore), failing when it is an nft transaction. */
export function programOp(
  op: NetfilterApplyOp | undefined,
): Extract<NetfilterApplyOp, { stdin: string }> {
  assert.ok(op && 'stdin' in op, 'not a program op');
  return op;
}

/** What a fake translator answers to an inspection command. */
export function readBack(t: FakeTranslator, argv: readonly string[]): string {
  return t.read(argv) ?? '';
}

/** Applies `ops` in order (an absent op, such as a late-table change that needs none, is skipped). */
export function applyTo(t: FakeTranslator, ...ops: (Op | undefined)[]): FakeTranslator {
  for (const op of ops) if (op) t.apply(op);
  return t;
}

/** A fake translator after `ops`, in order. */
export function translatorAfter(ops: readonly (Op | undefined)[]): FakeTranslator {
  return applyTo(new FakeTranslator(), ...ops);
}

/** An `nft -j` listing without handles, its elements in a fixed order (the kernel hashes them). */
export function withoutHandles(text: string): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === 'handle') continue;
      out[k] =
        k === 'elem' && Array.isArray(x)
          ? x.map(strip).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
          : strip(x);
    }
    return out;
  };
  return strip(JSON.parse(text));
}

/** The engine's mappings after `ops` in a fake translator, read back as the engine reads them. */
export function mappingsAfter(engine: Engine, ops: readonly (Op | undefined)[]): FlowMapping[] {
  const t = translatorAfter(ops);
  return [...engine.parse(readBack(t, engine.inspect('B').argv)).mappings];
}
