import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildProgram, main, VERSION } from '../../src/cli/main.js';
import { removeDir, tempDir } from '../support/tmp.js';

/** Repository root: this file runs as dist/test/cli/main.test.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Runs main() with stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

describe('the program', () => {
  it('has one command per verb, in the order --help lists them', () => {
    assert.deepEqual(
      buildProgram().commands.map((c) => c.name()),
      [
        'up',
        'down',
        'swap',
        'migrate',
        'serve',
        'evacuate',
        'status',
        'flows',
        'reconcile',
        'daemon',
        'dashboard',
        'demo',
        'experiment',
        'report',
        'bench',
      ],
    );
    const bench = buildProgram().commands.find((c) => c.name() === 'bench');
    assert.deepEqual(
      bench?.commands.map((c) => c.name()),
      ['swap', 'datapath', 'cli', 'api', 'cluster'],
    );
  });

  it("--version prints the package's version, exit code 0", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
    const r = await run(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${VERSION}\n`);
  });

  it('a usage error is one line on stderr and exit code 2', async () => {
    for (const argv of [
      ['swap', '--bogus'],
      ['nosuch'],
      ['up', '--engine', 'pf'],
      ['demo', '-n', '0'],
    ]) {
      const r = await run(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^flowmig: .*\(see --help\)\n$/);
    }
  });
});

describe('failures become one line and an exit code', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('main');
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it('no lab up: exit code 1 with how to start one', async () => {
    const r = await run(['--state-dir', dir, 'swap']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "flowmig: no lab is up (start one with 'flowmig up')\n");
  });

  it('several labs and none named: bad input, exit code 2', async () => {
    await writeFile(join(dir, 'a.json'), '{}');
    await writeFile(join(dir, 'b.json'), '{}');
    const r = await run(['--state-dir', dir, 'reconcile']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'flowmig: several labs are up (a, b); name one with --lab ID\n');
  });

  it('a change with no daemon: refused, exit code 1, nothing printed on stdout', async () => {
    await writeFile(join(dir, 'a.json'), '{}');
    const r = await run(['--state-dir', dir, 'migrate', 'fe00::1', 'D', '--lab', 'a']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  });
});

/** The modules a child process loads (file URLs under the repository) while running argv. */
function modulesLoaded(argv: string[]): string[] {
  // Module hooks run in their own thread: they write each URL loaded to stderr.
  const hooks = `export async function load(url, context, next) {
    if (url.startsWith('file:')) (await import('node:fs')).writeSync(2, 'loaded ' + url + '\\n');
    return next(url, context);
  }`;
  const register = `import { register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}));`;
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, ...argv],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('loaded '))
    .map((l) => l.slice('loaded '.length));
}

describe('fast start', () => {
  // What takes longer to load than Node takes to start: none of it before a command's action.
  const HEAVY =
    /\/node_modules\/(zod|yaml|vega|vega-lite|proper-lockfile|netlink)\/|\/dist\/src\/(control\/flowmig|lab\/schema|state\/store|experiment|report|bench)\b/;

  it('flowmig --version loads nothing of the program, and prints what the program would', () => {
    const loaded = modulesLoaded([join(ROOT, 'bin', 'flowmig.js'), '--version']);
    assert.deepEqual(
      loaded.filter((u) => u.includes('/dist/')),
      [],
    );
    for (const flag of ['--version', '-V']) {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'flowmig.js'), flag], {
        encoding: 'utf8',
      });
      assert.deepEqual([r.status, r.stdout], [0, `${VERSION}\n`]);
    }
  });

  for (const argv of [['--help'], ['swap', '--help'], ['experiment', '--help']]) {
    it(`flowmig ${argv.join(' ')} loads no schema, controller, experiment, report or benchmark`, () => {
      const loaded = modulesLoaded([join(ROOT, 'bin', 'flowmig.js'), ...argv]);
      assert.ok(
        loaded.some((u) => u.includes('/dist/src/cli/')),
        loaded.join('\n'),
      );
      assert.deepEqual(
        loaded.filter((u) => HEAVY.test(u)),
        [],
      );
    });
  }
});
