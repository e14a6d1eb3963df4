import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../src/errors.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import { loadLab } from '../../src/lab/load.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { referenceLab } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const REFERENCE_YAML = `# The reference experiment, written by hand.
name: default
engine: ${REFERENCE_LAB.engine}
nodes:
  - { name: A, role: client }
  - { name: B, role: translator }
  - { name: C, role: server }
  - { name: D, role: server }
links:
  - node: A
    address: fc00::1/64
    translatorAddress: fc00::2/64
  - node: C
    address: fc01::1/64
    translatorAddress: fc01::2/64
  - node: D
    address: fc02::2/64
    translatorAddress: fc02::1/64
flows:
  - address: fe00::1
    initiator: A
    responder: C
`;

/** Ten independent mistakes: two of shape (role, tcp), eight only a look across fields finds. */
const TEN_MISTAKES_YAML = `name: my lab
nodes:
  - { name: A, role: client }
  - { name: B, role: translator }
  - { name: C, role: server }
  - { name: D, role: router }
links:
  - { node: A, address: fc00::1/64, translatorAddress: fc00::2/64 }
  - { node: C, address: fc01::1/64, translatorAddress: fc09::2/64 }
  - { node: D, address: fc02::zz/64, translatorAddress: fc02::1/64 }
routes:
  - { node: A, to: default, via: fc01::2 }
flows:
  - { address: fe00::1, initiator: A, responder: C, tcp: keep }
  - { address: ff02::1, initiator: A, responder: C }
  - { address: fe00::3, initiator: A, responder: E }
  - { address: fe00::4, initiator: C, responder: D }
  - { name: web, address: fe00::5, initiator: A, responder: C }
  - { name: web, address: fe00::6, initiator: A, responder: C }
`;
const TEN_MISTAKES = [
  /^nodes\.3\.role: Invalid option/,
  /^flows\.0\.tcp: Invalid option/,
  /^name: 'my lab' must be 1-32 characters/,
  /^links\.1: fc01::1\/64 and fc09::2\/64 must be in the same prefix$/,
  /^links\.2\.address: 'fc02::zz\/64' is not an IPv6 address\/prefix$/,
  /^routes\.0\.via: fc01::2 is not on A's link \(fc00::1\/64\)$/,
  /^flows\.1\.address: ff02::1 is a multicast address/,
  /^flows\.2\.responder: unknown node 'E'$/,
  /^flows\.3\.initiator: 'C' is a server, not a client$/,
  /^flows\.5\.name: 'web' is used twice$/,
];

/** Every pattern names exactly one problem, and there is no other problem. */
function assertExactly(problems: readonly string[], patterns: readonly RegExp[]): void {
  const all = JSON.stringify(problems);
  for (const p of patterns) {
    assert.equal(problems.filter((x) => p.test(x)).length, 1, `${p} once in ${all}`);
  }
  assert.equal(problems.length, patterns.length, all);
}

describe('loadLab', () => {
  let dir = '';
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  before(async () => {
    dir = await tempDir('load');
  });
  after(async () => {
    await removeDir(dir);
  });

  it('without a path loads the reference lab', async () => {
    assert.deepEqual(await loadLab(undefined), referenceLab());
  });

  it('without a path applies the options', async () => {
    const lab = await loadLab(undefined, { prefix: 't1-' });
    assert.equal(lab.id, 't1-default');
    assert.equal(lab.translator.netns, 't1-B');
  });

  it('reads a YAML file', async () => {
    const lab = await loadLab(await file('lab.yaml', REFERENCE_YAML));
    assert.deepEqual(lab, referenceLab());
  });

  it('reads a JSON file, with options', async () => {
    const path = await file('lab.json', JSON.stringify(REFERENCE_LAB, null, 2));
    const lab = await loadLab(path, { prefix: 't1-', name: 'json' });
    assert.deepEqual(lab, resolveLab(REFERENCE_LAB, { prefix: 't1-', name: 'json' }));
    assert.deepEqual(
      lab.nodes.map((n) => n.netns),
      ['t1-A', 't1-B', 't1-C', 't1-D'],
    );
  });

  it('a missing file is an InputError naming the path', async () => {
    const path = join(dir, 'nope.yaml');
    await assert.rejects(loadLab(path), (error: Error) => {
      assert.equal(error.name, 'InputError');
      assert.equal(error.message, `lab file ${path}: cannot read it (ENOENT)`);
      return true;
    });
  });

  it('a directory is an InputError naming the path', async () => {
    const path = join(dir, 'adir');
    await mkdir(path);
    await assert.rejects(loadLab(path), {
      name: 'InputError',
      message: `lab file ${path}: cannot read it (EISDIR)`,
    });
  });

  for (const [what, text] of [
    ['unbalanced brackets', 'nodes: [A, B\nlinks: ]\n'],
    ['a duplicate key', 'name: a\nname: b\nnodes: []\nlinks: []\nflows: []\n'],
    ['bad indentation', 'nodes:\n  - name: A\n   role: client\n'],
  ] as const) {
    it(`invalid YAML (${what}) is an InputError naming the path`, async () => {
      const path = await file(`bad-${what.replaceAll(' ', '-')}.yaml`, text);
      await assert.rejects(loadLab(path), (error: Error) => {
        assert.equal(error.name, 'InputError');
        assert.ok(
          error.message.startsWith(`lab file ${path}: not valid YAML/JSON: `),
          error.message,
        );
        assert.ok(!error.message.includes('\n'), 'one line');
        return true;
      });
    });
  }

  it('invalid JSON is an InputError naming the path', async () => {
    const path = await file('bad.json', '{"nodes": [}');
    await assert.rejects(loadLab(path), (error: Error) => {
      assert.equal(error.name, 'InputError');
      assert.match(
        error.message,
        new RegExp(`^lab file ${escapeRegExp(path)}: not valid YAML/JSON`),
      );
      return true;
    });
  });

  it('a file with an invalid address: InputError naming the file and the address', async () => {
    const path = await file('addr.yaml', REFERENCE_YAML.replace('fc01::1/64', 'fc01::zz/64'));
    await assert.rejects(loadLab(path), (error: Error & { problems?: readonly string[] }) => {
      assert.equal(error.name, 'InputError');
      assert.equal(
        error.message,
        `lab file ${path}: links.1.address: 'fc01::zz/64' is not an IPv6 address/prefix`,
      );
      assert.deepEqual(error.problems, [
        "links.1.address: 'fc01::zz/64' is not an IPv6 address/prefix",
      ]);
      return true;
    });
  });

  it('a file with ten independent mistakes: one InputError naming all ten', async () => {
    const path = await file('ten.yaml', TEN_MISTAKES_YAML);
    await assert.rejects(loadLab(path), (error: unknown) => {
      assert.ok(error instanceof InputError, String(error));
      assertExactly(error.problems, TEN_MISTAKES);
      assert.equal(error.message, `lab file ${path}: ${error.problems.join('; ')}`);
      return true;
    });
  });

  it('the CLI prints the ten on one line and exits 2, having built nothing', async () => {
    const path = await file('ten-cli.yaml', TEN_MISTAKES_YAML);
    const cli = join(
      dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      '..',
      'bin',
      'flowmig.js',
    );
    const r = spawnSync(process.execPath, [cli, 'up', '--dry-run', '-c', path], {
      encoding: 'utf8',
      env: { ...process.env, FLOWMIG_STATE_DIR: dir },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    const line = lines[0] ?? '';
    const prefix = `flowmig: lab file ${path}: `;
    assert.ok(line.startsWith(prefix), r.stderr);
    assertExactly(line.slice(prefix.length).split('; '), TEN_MISTAKES);
  });

  it('an empty file is an InputError naming the file', async () => {
    const path = await file('empty.yaml', '');
    await assert.rejects(loadLab(path), (error: Error) => {
      assert.equal(error.name, 'InputError');
      assert.match(error.message, new RegExp(`^lab file ${escapeRegExp(path)}: \\(top\\): `));
      return true;
    });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
