#!/usr/bin/env node
// Runs the compiled test suite with Node's test runner, one file at a time (tests that build
// namespaces measure timing and traffic; running them side by side on 2 cores would skew them).
// `--unit` runs only the tests that need no root (files without `.kernel.` in their name).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const unitOnly = process.argv.includes('--unit');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : e.name.endsWith('.test.js')
        ? [join(dir, e.name)]
        : [],
  );
}

let files = walk(join(root, 'dist', 'test')).sort();
if (unitOnly) files = files.filter((f) => !f.includes('.kernel.'));
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  process.stderr.write('test: no test files found (did the build run?)\n');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=600000',
    ...files.map((f) => relative(root, f)),
  ],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
