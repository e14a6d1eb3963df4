// The shape of src/, checked: no import cycle between its directories (each is a layer), nothing
// under src/ imports bench/ or test/, and no source file is longer than the agreed size.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Repository root: this file runs as dist/test/invariants/layering.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = join(ROOT, 'src');
/** The longest a file under src/ may be, in lines. */
export const MAX_LINES = 450;

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat().filter((f) => f.endsWith('.ts'));
}

/** Relative module specifiers a file imports: static, type-only, re-exports and dynamic. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"]*?\bfrom\s*['"](\.[^'"]+)['"]/g,
    /\bimport\s*['"](\.[^'"]+)['"]/g,
    /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  ];
  for (const p of patterns) for (const m of text.matchAll(p)) if (m[1]) found.push(m[1]);
  return found;
}

/** The layer of a path under src/: its first directory, or the file itself at the top. */
export function layerOf(pathUnderSrc: string): string {
  const [first, ...rest] = pathUnderSrc.split('/');
  return rest.length === 0 ? (first ?? '').replace(/\.ts$/, '') : `${first}/`;
}

/** Strongly connected groups of more than one layer (Tarjan), each sorted, as cycles. */
export function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      for (;;) {
        const w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        group.push(w);
        if (w === v) break;
      }
      if (group.length > 1) groups.push(group.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return groups;
}

interface Graph {
  readonly edges: Map<string, Set<string>>;
  /** For each layer pair, one file import that makes it (to name in a failure). */
  readonly witness: Map<string, string>;
  readonly outside: string[];
}

async function graph(): Promise<Graph> {
  const edges = new Map<string, Set<string>>();
  const witness = new Map<string, string>();
  const outside: string[] = [];
  for (const file of await sources(SRC)) {
    const from = relative(SRC, file);
    const layer = layerOf(from);
    if (!edges.has(layer)) edges.set(layer, new Set());
    for (const spec of importsOf(await readFile(file, 'utf8'))) {
      const target = normalize(join(dirname(file), spec));
      const rel = relative(SRC, target);
      if (rel.startsWith('..')) {
        outside.push(`${from} imports ${relative(ROOT, target)}`);
        continue;
      }
      const to = layerOf(rel.replace(/\.js$/, '.ts'));
      if (to === layer) continue;
      edges.get(layer)?.add(to);
      if (!witness.has(`${layer} ${to}`)) witness.set(`${layer} ${to}`, `${from} → ${rel}`);
    }
  }
  return { edges, witness, outside };
}

describe('the shape of src/', () => {
  it('has no import cycle between its directories', async () => {
    const { edges, witness } = await graph();
    const cycles = cyclesOf(edges);
    const described = cycles.map((group) => {
      const inside = new Set(group);
      const arrows = group.flatMap((a) =>
        [...(edges.get(a) ?? [])]
          .filter((b) => inside.has(b))
          .map((b) => `    ${a} → ${b} (${witness.get(`${a} ${b}`)})`),
      );
      return `  ${group.join(' ↔ ')}\n${arrows.join('\n')}`;
    });
    assert.deepEqual(described, [], `import cycles between directories:\n${described.join('\n')}`);
  });

  it('imports nothing outside src/ (no bench/, no test/)', async () => {
    const { outside } = await graph();
    assert.deepEqual(outside, []);
  });

  it(`has no file over ${MAX_LINES} lines`, async () => {
    const over: string[] = [];
    for (const file of await sources(SRC)) {
      const lines = (await readFile(file, 'utf8')).split('\n').length - 1;
      if (lines > MAX_LINES) over.push(`${relative(ROOT, file)}: ${lines} lines`);
    }
    assert.deepEqual(over, [], `files over ${MAX_LINES} lines:\n${over.join('\n')}`);
  });
});

describe('the layering check itself', () => {
  it('reads static, type-only, re-export, side-effect and dynamic imports', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export { c } from './c.js';",
      "export * from '../d/index.js';",
      "import './e.js';",
      "const f = await import('../f/f.js');",
      "import { g } from 'node:fs';",
    ].join('\n');
    assert.deepEqual(importsOf(text).sort(), [
      '../b/b.js',
      '../d/index.js',
      '../f/f.js',
      './a.js',
      './c.js',
      './e.js',
    ]);
  });

  it('finds a cycle of two and of three layers, and none in a chain', () => {
    const g = (pairs: [string, string][]) => {
      const m = new Map<string, Set<string>>();
      for (const [a, b] of pairs) {
        if (!m.has(a)) m.set(a, new Set());
        if (!m.has(b)) m.set(b, new Set());
        m.get(a)?.add(b);
      }
      return m;
    };
    assert.deepEqual(
      cyclesOf(
        g([
          ['a/', 'b/'],
          ['b/', 'a/'],
          ['c/', 'd/'],
          ['d/', 'e/'],
          ['e/', 'c/'],
        ]),
      ),
      [
        ['a/', 'b/'],
        ['c/', 'd/', 'e/'],
      ],
    );
    assert.deepEqual(
      cyclesOf(
        g([
          ['cli/', 'control/'],
          ['control/', 'engines/'],
        ]),
      ),
      [],
    );
  });

  it('names a top-level file as its own layer', () => {
    assert.equal(layerOf('errors.ts'), 'errors');
    assert.equal(layerOf('control/flowmig.ts'), 'control/');
  });
});
