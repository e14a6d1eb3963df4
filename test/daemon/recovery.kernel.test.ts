// Crash recovery: SIGKILL at 15 random points during `up`, migrations through the daemon, and
// `down`. Afterwards a restarted daemon reconciles to a correct lab, or `flowmig down` removes
// everything: no namespace, agent, daemon, socket or state file is left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { findAgentsWhere } from '../../src/control/agent-process.js';
import { findDaemonsWhere } from '../../src/control/daemon-process.js';
import { Flowmig, type LabStatus } from '../../src/control/flowmig.js';
import { DaemonClient } from '../../src/daemon-api/client.js';
import { sleep } from '../../src/experiment/process.js';
import {
  CLI,
  cli,
  namespacesWith,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

const random = (maxMs: number) => Math.random() * maxMs;

/** Everything of the lab is gone: namespaces, processes, files in the state dir. */
async function assertNothingLeft(prefix: string, stateDir: string, when: string): Promise<void> {
  assert.deepEqual(await namespacesWith(prefix), [], `${when}: namespaces left`);
  assert.deepEqual(await findDaemonsWhere((id) => id.startsWith(prefix)), [], `${when}: daemon`);
  assert.deepEqual(await findAgentsWhere((id) => id.startsWith(prefix)), [], `${when}: agent`);
  assert.deepEqual(await readdir(stateDir), [], `${when}: files left in the state dir`);
}

async function killDaemonsOf(prefix: string): Promise<void> {
  for (const pid of await findDaemonsWhere((id) => id.startsWith(prefix))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The lab's status, read by the library (as `flowmig status` does, without starting node). */
async function status(stateDir: string): Promise<LabStatus> {
  const fm = new Flowmig({ stateDir });
  return fm.status(await fm.pick(undefined));
}

describe('SIGKILL at 15 random points', () => {
  it('8 migrations through the daemon killed mid-way: a restarted daemon reconciles', async (t) => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    try {
      const up = await cli(['up', '--detach', '--prefix', prefix, '--json'], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      let socket = (JSON.parse(up.stdout) as LabStatus).daemon?.socket ?? assert.fail('no daemon');
      let repaired = 0;
      for (let i = 0; i < 8; i++) {
        const c = await DaemonClient.connect(socket);
        const pending = c.request({ verb: 'swap' }).catch(() => undefined);
        await sleep(random(4));
        await killDaemonsOf(prefix);
        await pending;
        c.close();
        const restart = await cli(['daemon', '--detach', '--json'], { stateDir });
        assert.equal(restart.code, 0, `restart ${i}: ${restart.stderr}`);
        socket = (JSON.parse(restart.stdout) as { socket: string }).socket;
        const s = await status(stateDir);
        assert.deepEqual(s.drift, [], `after kill ${i}`);
        assert.ok(
          s.flows.every((f) => f.inSync),
          `after kill ${i}`,
        );
        if (s.daemon?.running !== true) assert.fail(`daemon not running after restart ${i}`);
        repaired += s.migrations;
      }
      t.diagnostic(`8 kills mid-migration, ${repaired} migrations recorded across the checks`);
      const ping = await runner.run(['ping', '-c', '2', '-i', '0.2', '-w', '5', 'fe00::1'], {
        netns: `${prefix}A`,
      });
      assert.match(ping.stdout, /2 received/);
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      await assertNothingLeft(prefix, stateDir, 'after down');
    } finally {
      await killDaemonsOf(prefix);
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('4 `up --detach` runs killed at a random point: `down` removes everything', async () => {
    for (let i = 0; i < 4; i++) {
      const prefix = uniquePrefix();
      const stateDir = await tempStateDir();
      try {
        const child = spawn(process.execPath, [CLI, 'up', '--detach', '--prefix', prefix], {
          env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
          stdio: 'ignore',
        });
        const exited = new Promise((r) => child.once('exit', r));
        await sleep(random(2_500));
        child.kill('SIGKILL');
        await exited;
        await killDaemonsOf(prefix); // the daemon, if up got that far
        const down = await cli(['down', '--prefix', prefix], { stateDir });
        assert.equal(down.code, 0, `run ${i}: ${down.stderr}`);
        await assertNothingLeft(prefix, stateDir, `up killed, run ${i}`);
      } finally {
        await killDaemonsOf(prefix);
        await removeNamespacesWith(prefix);
        await rm(stateDir, { recursive: true, force: true });
      }
    }
  });

  it('3 `down` runs through the daemon killed at a random point: `down` again finishes', async () => {
    for (let i = 0; i < 3; i++) {
      const prefix = uniquePrefix();
      const stateDir = await tempStateDir();
      try {
        const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
        assert.equal(up.code, 0, up.stderr);
        const child = spawn(process.execPath, [CLI, 'down'], {
          env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
          stdio: 'ignore',
        });
        const exited = new Promise((r) => child.once('exit', r));
        await sleep(random(400));
        await killDaemonsOf(prefix);
        await exited;
        const down = await cli(['down', '--prefix', prefix], { stateDir });
        assert.equal(down.code, 0, `run ${i}: ${down.stderr}`);
        await assertNothingLeft(prefix, stateDir, `down killed, run ${i}`);
      } finally {
        await killDaemonsOf(prefix);
        await removeNamespacesWith(prefix);
        await rm(stateDir, { recursive: true, force: true });
      }
    }
  });
});
