// Invariants 4-6 and bad input through the CLI: refusal, SIGKILL then down, rollback, clear errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findAgents } from '../../src/control/agent-process.js';
import { sleep } from '../../src/experiment/process.js';
import { CLI, cli, namespacesWith, oneLine, runner, scratch } from '../kernel-support/lab.js';

async function stateFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json'));
}

describe('lab lifecycle through the CLI', () => {
  it('4. refuses when a namespace name is taken, and touches nothing', async () => {
    await scratch(async (prefix, stateDir) => {
      const taken = `${prefix}C`;
      await runner.run(['ip', 'netns', 'add', taken]);
      await runner.run(
        ['ip', 'link', 'add', 'keepme0', 'type', 'veth', 'peer', 'name', 'keepme1'],
        {
          netns: taken,
        },
      );
      for (const command of [
        ['up', '--detach'],
        ['demo', '--swaps', '2', '--out', join(stateDir, 'out')],
      ]) {
        const r = await cli([...command, '--prefix', prefix], { stateDir });
        assert.notEqual(r.code, 0);
        assert.ok(oneLine(r.stderr), r.stderr);
        assert.match(r.stderr, new RegExp(`${taken} already exists.*--prefix`));
        assert.deepEqual(await namespacesWith(prefix), [taken], 'nothing else was created');
        const links = (await runner.run(['ip', '-o', 'link', 'show'], { netns: taken })).stdout;
        assert.match(links, /keepme0/, 'the existing namespace is untouched');
        assert.doesNotMatch(links, /alias flowmig/, 'and not marked');
        assert.deepEqual(await stateFiles(stateDir), []);
        assert.equal(existsSync(join(stateDir, 'out')), false, 'no results directory either');
      }
    });
  });

  it('5. down is complete and idempotent after `up` was killed with SIGKILL', async () => {
    await scratch(async (prefix, stateDir) => {
      const up = spawn(process.execPath, [CLI, 'up', '--prefix', prefix], {
        env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      up.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      try {
        const deadline = Date.now() + 20_000;
        while (!out.includes('is up') && Date.now() < deadline) await sleep(20);
        assert.match(out, /is up/);
      } finally {
        up.kill('SIGKILL');
      }
      await new Promise((r) => up.once('close', r));
      assert.equal((await namespacesWith(prefix)).length, 4, 'the killed process left the lab up');
      const status = await cli(['status', '--json'], { stateDir });
      assert.equal(status.code, 0, status.stderr);
      assert.equal((JSON.parse(status.stdout) as { pidAlive: boolean }).pidAlive, false);
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await namespacesWith(prefix), []);
      assert.deepEqual(await stateFiles(stateDir), []);
      const again = await cli(['down', '--lab', `${prefix}default`], { stateDir });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /nothing to remove/);
    });
  });

  it('5. down cleans up after `up` was killed at any point of the build', async () => {
    // Up to ~1.3 s: the last points fall while the agent starts (after the links are up).
    for (const killAfterMs of [0, 150, 1300]) {
      await scratch(async (prefix, stateDir) => {
        const up = spawn(process.execPath, [CLI, 'up', '--detach', '--prefix', prefix], {
          env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
          stdio: 'ignore',
        });
        const closed = new Promise((r) => up.once('close', r));
        // Kill once the state file exists (the build has begun), plus the extra delay.
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          if ((await stateFiles(stateDir).catch(() => [])).length > 0) break;
          await sleep(2);
        }
        await sleep(killAfterMs);
        up.kill('SIGKILL'); // a no-op if up already finished: down must clean up either way
        await closed;
        const down = await cli(['down', '--lab', `${prefix}default`], { stateDir });
        assert.equal(down.code, 0, `kill after ${killAfterMs} ms: ${down.stderr}`);
        assert.deepEqual(await namespacesWith(prefix), [], `kill after ${killAfterMs} ms`);
        assert.deepEqual(await findAgents(`${prefix}default`), [], 'no agent left running');
        assert.deepEqual(await stateFiles(stateDir), []);
        assert.equal(existsSync(join(stateDir, 'out')), false, 'no results directory either');
      });
    }
  });

  for (const [engine, program, what] of [
    ['nftables', 'nft', /up failed at .*nft: table.*injected.*rolled back \(removed /],
    ['iptables', 'ip6tables-restore', /up failed at .*ip6tables.*injected.*rolled back \(removed /],
  ] as const) {
    it(`6. a failed up rolls back and prints one clear line (failing ${program})`, async () => {
      await scratch(async (prefix, stateDir) => {
        const bin = await mkdtemp(join(tmpdir(), 'flowmig-fakebin-'));
        try {
          const fake = join(bin, program);
          await writeFile(
            fake,
            `#!/bin/sh\necho "${program}: line 3 failed (injected)" >&2\nexit 1\n`,
          );
          await chmod(fake, 0o755);
          const r = await cli(['up', '--detach', '--engine', engine, '--prefix', prefix], {
            stateDir,
            env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
          });
          assert.notEqual(r.code, 0);
          assert.ok(oneLine(r.stderr), r.stderr);
          assert.match(r.stderr, what);
          assert.deepEqual(await namespacesWith(prefix), []);
          assert.deepEqual(await stateFiles(stateDir), []);
        } finally {
          await rm(bin, { recursive: true, force: true });
        }
      });
    });
  }

  it('6. a missing tool is reported before anything is created', async () => {
    await scratch(async (prefix, stateDir) => {
      // A PATH with every program flowmig needs except conntrack.
      const bin = await mkdtemp(join(tmpdir(), 'flowmig-bin-'));
      try {
        for (const p of ['ip', 'sysctl', 'ip6tables-restore', 'ip6tables-save', 'sleep', 'sh']) {
          for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
            const target = join(dir, p);
            if (
              await access(target).then(
                () => true,
                () => false,
              )
            ) {
              await symlink(target, join(bin, p));
              break;
            }
          }
        }
        const r = await cli(['up', '--detach', '--prefix', prefix], {
          stateDir,
          env: { PATH: bin },
        });
        assert.notEqual(r.code, 0);
        assert.ok(oneLine(r.stderr), r.stderr);
        assert.match(r.stderr, /missing program\(s\): conntrack \(Debian package conntrack\)/);
        assert.deepEqual(await namespacesWith(prefix), []);
      } finally {
        await rm(bin, { recursive: true, force: true });
      }
    });
  });

  it('bad input: one clear line, a non-zero exit, nothing created', async () => {
    await scratch(async (prefix, stateDir) => {
      const dir = await mkdtemp(join(tmpdir(), 'flowmig-labs-'));
      try {
        const file = (name: string, text: string) => {
          const p = join(dir, name);
          return writeFile(p, text).then(() => p);
        };
        const cases: [string[], RegExp][] = [
          [['up', '--config', await file('broken.yaml', 'nodes: [unclosed\n')], /not valid YAML/],
          [['up', '--config', await file('shape.yaml', 'nodes: 3\n')], /nodes/],
          [
            [
              'up',
              '--config',
              await file(
                'addr.json',
                JSON.stringify({
                  nodes: [
                    { name: 'A', role: 'client' },
                    { name: 'B', role: 'translator' },
                    { name: 'C', role: 'server' },
                  ],
                  links: [
                    { node: 'A', address: 'fc00::zz/64', translatorAddress: 'fc00::2/64' },
                    { node: 'C', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
                  ],
                  flows: [{ address: 'fe00::1', initiator: 'A', responder: 'E' }],
                }),
              ),
            ],
            /fc00::zz\/64' is not an IPv6.*unknown node 'E'/,
          ],
          [['up', '--config', join(dir, 'missing.yaml')], /cannot read it \(ENOENT\)/],
          [['up', '--prefix', 'a;rm -rf'], /prefix 'a;rm -rf' must be/],
          [['up', '--prefix', 'averyveryverylongprefix-'], /prefix .* must be 1-16/],
          [['up', '--engine', 'pf'], /Allowed choices are nftables, iptables/],
          [['migrate', 'fe00::1'], /missing required argument 'node'/],
          [['swap'], /no lab is up/],
        ];
        for (const [args, pattern] of cases) {
          // `up` cases get this test's prefix, so that if one wrongly succeeded it is found.
          const withPrefix = args[0] === 'up' && !args.includes('--prefix');
          const r = await cli(withPrefix ? [...args, '--prefix', prefix] : args, { stateDir });
          assert.notEqual(r.code, 0, `${args.join(' ')} must fail`);
          assert.match(r.stderr, pattern, `${args.join(' ')}: ${r.stderr}`);
          assert.ok(
            oneLine(r.stderr.replace(/\(run with --help for usage\)\n?/, '')),
            `${args.join(' ')}: ${r.stderr}`,
          );
          assert.deepEqual(await namespacesWith(prefix), [], `${args.join(' ')} created nothing`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('bad input on a running lab: unknown flow or node changes nothing', async () => {
    await scratch(async (prefix, stateDir) => {
      const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      for (const [args, pattern] of [
        [['migrate', 'fe00::9', 'D'], /unknown flow 'fe00::9'/],
        [['migrate', 'fe00::1', 'Z'], /unknown node 'Z'/],
        [['migrate', 'fe00::1', 'B'], /'B' is the translator/],
        [['swap', '--flow', 'not-an-address'], /unknown flow 'not-an-address'/],
        [['status', '--lab', 'nosuchlab'], /no lab 'nosuchlab' is up/],
      ] as [string[], RegExp][]) {
        const r = await cli(args, { stateDir });
        assert.notEqual(r.code, 0, args.join(' '));
        assert.ok(oneLine(r.stderr), r.stderr);
        assert.match(r.stderr, pattern);
      }
      const s = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as {
        migrations: number;
        flows: { responder: string; inSync: boolean }[];
      };
      assert.equal(s.migrations, 0);
      assert.deepEqual(
        s.flows.map((f) => [f.responder, f.inSync]),
        [['C', true]],
      );
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
    });
  });

  it('refuses to run without root, creating nothing', async () => {
    await scratch(async (prefix, stateDir) => {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            process.execPath,
            CLI,
            'up',
            '--detach',
            '--prefix',
            prefix,
          ],
          {
            env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.notEqual(r.code, 0);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(r.stderr, /must run as root/);
      assert.deepEqual(await namespacesWith(prefix), []);
    });
  });
});
