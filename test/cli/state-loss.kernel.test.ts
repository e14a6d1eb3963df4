// A lab whose state file is damaged or gone is found by its marks (status lists it, down removes
// it); status tells the daemon truly; bad input exits 2 with one line whichever path served it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findAgentsWhere } from '../../src/control/agent-process.js';
import { findDaemonsWhere } from '../../src/control/daemon-process.js';
import type { LabStatus } from '../../src/control/flowmig.js';
import type { LabPresence } from '../../src/control/presence.js';
import { sleep } from '../../src/experiment/process.js';
import { CLI, cli, namespacesWith, oneLine, scratch, TWO_FLOW_LAB } from '../kernel-support/lab.js';

/** Nothing of the lab is left: namespaces, daemons, agents, files in the state directory. */
async function nothingLeft(prefix: string, stateDir: string): Promise<void> {
  assert.deepEqual(await namespacesWith(prefix), []);
  assert.deepEqual(await findDaemonsWhere((id) => id.startsWith(prefix)), []);
  assert.deepEqual(await findAgentsWhere((id) => id.startsWith(prefix)), []);
  assert.deepEqual(
    (await readdir(stateDir)).filter((f) => f.startsWith(prefix)),
    [],
    'no file of the lab in the state directory',
  );
}

describe('a lab whose state file is damaged or lost', () => {
  for (const [kind, damage] of [
    ['truncated', (path: string) => truncate(path, 100)],
    ['garbage', (path: string) => writeFile(path, '\u0000\u0001 not a state {{{\n')],
  ] as const) {
    it(`${kind}: commands say so in one line, status lists it, plain down removes it`, async () => {
      await scratch(async (prefix, stateDir) => {
        const id = `${prefix}default`;
        const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
        assert.equal(up.code, 0, up.stderr);
        await damage(join(stateDir, `${id}.json`));

        const swap = await cli(['swap'], { stateDir });
        assert.equal(swap.code, 1);
        assert.ok(oneLine(swap.stderr), swap.stderr);
        assert.match(swap.stderr, new RegExp(`is damaged; 'flowmig down --lab ${id}'`));

        const status = await cli(['status', '--json'], { stateDir });
        assert.equal(status.code, 0, status.stderr);
        const { labs } = JSON.parse(status.stdout) as { labs: LabPresence[] };
        assert.equal(labs.length, 1);
        assert.equal(labs[0]?.id, id);
        assert.equal(labs[0]?.state, 'damaged');
        assert.equal(labs[0]?.namespaces.length, 4);
        assert.deepEqual(labs[0]?.processes.map((p) => p.kind).sort(), ['agent', 'daemon']);
        const text = await cli(['status', '--lab', id], { stateDir });
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /STATE DAMAGED/);

        const down = await cli(['down'], { stateDir });
        assert.equal(down.code, 0, down.stderr);
        assert.match(down.stdout, new RegExp(`lab ${id} torn down`));
        assert.match(down.stdout, /state file .* was damaged: .* the file removed/);
        await nothingLeft(prefix, stateDir);
      });
    });
  }

  it('gone: status lists it as lost, plain down removes it with its daemon and agent', async () => {
    await scratch(async (prefix, stateDir) => {
      const id = `${prefix}default`;
      const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      await rm(join(stateDir, `${id}.json`));

      const status = await cli(['status'], { stateDir });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`${id}: STATE LOST .*namespaces .*daemon pid \\d+`));
      const json = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as {
        labs: LabPresence[];
      };
      assert.equal(json.labs[0]?.state, 'lost');

      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, new RegExp(`lab ${id} torn down \\(removed`));
      await nothingLeft(prefix, stateDir);
    });
  });
});

describe("another state directory's lab", () => {
  it('plain down leaves it up: seen by its processes as theirs, or by its marks only', async () => {
    await scratch(async (prefix, stateDir) => {
      const id = `${prefix}default`;
      const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const other = `${stateDir}-other`;
      try {
        // Its daemon and agent name their state directory: the lab is that directory's.
        const down = await cli(['down', '--json'], { stateDir: other });
        assert.equal(down.code, 0, down.stderr);
        const seen = JSON.parse(down.stdout) as { removed: string[]; others?: string[] };
        assert.deepEqual(seen.removed, []);
        assert.ok(!seen.others?.includes(id), down.stdout);
        assert.equal((await namespacesWith(prefix)).length, 4, 'the lab is still up');
        // Its processes and state gone, only its marks are left: named, not taken down.
        for (const pid of [
          ...(await findDaemonsWhere((x) => x === id)),
          ...(await findAgentsWhere((x) => x === id)),
        ])
          process.kill(pid, 'SIGKILL');
        await rm(join(stateDir, `${id}.json`));
        const orphan = await cli(['down', '--json'], { stateDir: other });
        assert.equal(orphan.code, 0, orphan.stderr);
        const r = JSON.parse(orphan.stdout) as { removed: string[]; others?: string[] };
        assert.deepEqual(r.removed, []);
        assert.ok(r.others?.includes(id), orphan.stdout);
        assert.equal((await namespacesWith(prefix)).length, 4, 'the lab is still up');
      } finally {
        await rm(other, { recursive: true, force: true });
      }
      const named = await cli(['down', '--lab', id], { stateDir });
      assert.equal(named.code, 0, named.stderr);
      await nothingLeft(prefix, stateDir);
    });
  });
});

describe('status tells which daemon serves the lab', () => {
  it('up --detach: the daemon it printed, running', async () => {
    await scratch(async (prefix, stateDir) => {
      const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const pid = Number(/daemon pid (\d+)/.exec(up.stdout)?.[1]);
      const s = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as LabStatus;
      assert.deepEqual({ pid: s.daemon?.pid, running: s.daemon?.running }, { pid, running: true });
      const direct = JSON.parse(
        (await cli(['--direct', 'status', '--json'], { stateDir })).stdout,
      ) as LabStatus;
      assert.equal(direct.daemon?.running, true, 'also when read without the daemon');
      assert.equal((await cli(['down'], { stateDir })).code, 0);
    });
  });

  it('the prompt of flowmig up: running, also after a swap from another terminal', async () => {
    await scratch(async (prefix, stateDir) => {
      const prompt = spawn(process.execPath, [CLI, 'up', '--prefix', prefix], {
        env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      prompt.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      const closed = new Promise<number | null>((r) => prompt.once('close', (code) => r(code)));
      try {
        const deadline = Date.now() + 30_000;
        while (!/is up/.test(out) && Date.now() < deadline) await sleep(20);
        assert.match(out, /is up/);
        for (const step of ['before', 'after']) {
          const s = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as LabStatus;
          assert.equal(s.daemon?.pid, prompt.pid, step);
          assert.equal(s.daemon?.running, true, `${step} a swap: the prompt serves the lab`);
          const d = JSON.parse(
            (await cli(['--direct', 'status', '--json'], { stateDir })).stdout,
          ) as LabStatus;
          assert.equal(d.daemon?.running, true, `${step}, read without the daemon`);
          if (step === 'before') {
            const swap = await cli(['swap'], { stateDir });
            assert.equal(swap.code, 0, swap.stderr);
          }
        }
        prompt.stdin.end('quit\n');
        assert.equal(await closed, 0);
      } finally {
        prompt.kill('SIGKILL');
      }
    });
  });
});

describe('bad input: exit 2 and one line, through the daemon or --direct', () => {
  it('unknown node, a lab with two flows, several labs, an unknown option', async () => {
    await scratch(async (prefix, stateDir) => {
      const labFile = join(`${stateDir}-two.json`);
      await writeFile(labFile, JSON.stringify(TWO_FLOW_LAB));
      const up = await cli(['up', '--detach', '--prefix', prefix, '-c', labFile], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      for (const path of [[], ['--direct']]) {
        const bad = await cli([...path, 'migrate', 'fe00::1', 'Z'], { stateDir });
        assert.deepEqual([bad.code, oneLine(bad.stderr)], [2, true], `${path} ${bad.stderr}`);
        assert.match(bad.stderr, /unknown node 'Z'/);
        const swap = await cli([...path, 'swap'], { stateDir });
        assert.deepEqual([swap.code, oneLine(swap.stderr)], [2, true], `${path} ${swap.stderr}`);
        assert.match(swap.stderr, /2 flows .*--flow/);
      }
      const option = await cli(['swap', '--bogus'], { stateDir });
      assert.deepEqual([option.code, oneLine(option.stderr)], [2, true], option.stderr);
      assert.match(option.stderr, /^flowmig: unknown option '--bogus'/);

      const second = await cli(['up', '--detach', '--prefix', `${prefix}x`], { stateDir });
      assert.equal(second.code, 0, second.stderr);
      for (const verb of [['swap'], ['down'], ['migrate', 'fe00::1', 'D']]) {
        const r = await cli(verb, { stateDir });
        assert.deepEqual([r.code, oneLine(r.stderr)], [2, true], `${verb}: ${r.stderr}`);
        assert.match(r.stderr, /several labs are up .*--lab/);
      }
      const listed = await cli(['status'], { stateDir });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^2 labs/);
      for (const id of [`${prefix}twoflows`, `${prefix}xdefault`])
        assert.equal((await cli(['down', '--lab', id], { stateDir })).code, 0);
      assert.deepEqual(await readdir(stateDir), []);
      await rm(labFile);
    });
  });
});
