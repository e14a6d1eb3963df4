// One configuration module: no file under src/ but src/config.ts reads a FLOWMIG_* variable.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Repository root: this file runs as dist/test/invariants/env-reads.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat().filter((f) => f.endsWith('.ts'));
}

/** `process.env.FLOWMIG_X` and `process.env['FLOWMIG_X']`. */
const READ = /process\.env(?:\.|\[\s*['"`])FLOWMIG_\w*/g;

describe('environment variables are read in src/config.ts only', () => {
  it('no other file under src/ reads process.env.FLOWMIG_*', async () => {
    const files = await sources(join(ROOT, 'src'));
    assert.ok(files.length > 10);
    const offenders: string[] = [];
    for (const file of files) {
      const name = relative(ROOT, file);
      if (name === join('src', 'config.ts')) continue;
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(READ)) offenders.push(`${name}:${i + 1}: ${m[0]}`);
      });
    }
    assert.deepEqual(offenders, [], `read these through environment() in src/config.ts instead`);
  });
});
