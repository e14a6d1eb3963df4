// SPEC invariant 7, statically: programs are started only by the runner modules, never via a shell.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Repository root: this file runs as dist/test/invariants/no-shell.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name)) : [join(dir, e.name)])),
  );
  return nested.flat().filter((f) => f.endsWith('.ts'));
}

const SPAWNERS = new Set(['src/exec/runner.ts', 'src/procs/spawn.ts', 'src/experiment/process.ts']);

describe('invariant 7: no shell strings', () => {
  it('only the runner modules import child_process, and none uses a shell', async () => {
    const files = await sources(join(ROOT, 'src'));
    assert.ok(files.length > 10);
    for (const file of files) {
      const name = relative(ROOT, file);
      const text = await readFile(file, 'utf8');
      if (!SPAWNERS.has(name)) {
        assert.doesNotMatch(text, /child_process/, `${name} must run programs through a Runner`);
      }
      assert.doesNotMatch(text, /\bshell\s*:/, `${name} must not ask for a shell`);
      assert.doesNotMatch(
        text,
        /import\s*\{[^}]*\bexec(Sync)?\b[^}]*\}\s*from\s*'node:child_process'/,
        `${name} must not use child_process.exec (a shell)`,
      );
      assert.doesNotMatch(
        text,
        /['"](?:\/bin\/)?(?:ba)?sh['"]\s*,\s*\[?\s*['"]-c['"]/,
        `${name}: sh -c`,
      );
    }
  });
});
