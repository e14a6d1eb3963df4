// `flowmig daemon --stop` and `--restart` on a real lab: HTTP switched on for a lab that has a
// daemon, the daemon stopped with the lab left up, restarted in the background and in the
// foreground; nothing is left behind once the lab is down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, readdir, readFile, rm, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { daemonPaths } from '../../src/control/daemon-process.js';
import type { LabStatus } from '../../src/control/flowmig.js';
import type { DaemonReply, HelloReply } from '../../src/daemon-api/protocol.js';
import { isRunning } from '../../src/procs/find.js';
import {
  CLI,
  cli,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** POSTs `body` to the daemon's HTTP API with the token from its token file. */
async function post(http: { url: string; tokenFile: string }, body: unknown) {
  const token = (await readFile(http.tokenFile, 'utf8')).trim();
  const res = await fetch(http.url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, reply: (await res.json()) as DaemonReply };
}

async function statusOf(stateDir: string): Promise<LabStatus> {
  const r = await cli(['status', '--json'], { stateDir });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LabStatus;
}

describe('flowmig daemon --stop and --restart', () => {
  it('switch HTTP on for a running lab, stop the daemon leaving the lab up, start it again', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    const foreground: { kill(): void }[] = [];
    try {
      const up = await cli(['up', '--detach', '--prefix', prefix, '--json'], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const first = (JSON.parse(up.stdout) as LabStatus).daemon?.pid ?? assert.fail('no daemon');
      const id = `${prefix}default`;
      const files = daemonPaths(stateDir, id);

      // A second daemon is refused, with the way to replace the first.
      const again = await cli(['daemon', '--http', '0', '--detach'], { stateDir });
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /already has a daemon \(pid \d+\); 'flowmig daemon --restart/);
      assert.equal(await isRunning(first), true);

      // Restarted with HTTP: a new daemon, the old one gone, the lab as it was.
      const restart = await cli(['daemon', '--restart', '--http', '0', '--detach', '--json'], {
        stateDir,
      });
      assert.equal(restart.code, 0, restart.stderr);
      const hello = JSON.parse(restart.stdout) as HelloReply;
      assert.notEqual(hello.pid, first);
      assert.equal(await isRunning(first), false, 'the first daemon was stopped');
      const http = hello.http ?? assert.fail('no http in hello');
      assert.match(http.url, /^http:\/\/127\.0\.0\.1:\d+\/api$/);
      assert.equal(http.tokenFile, files.token);
      assert.equal((await stat(files.token)).mode & 0o777, 0o600);
      const text = await cli(['daemon', '--restart', '--http', '0', '--detach'], { stateDir });
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /replacing pid \d+/);
      assert.match(text.stdout, new RegExp(`bearer token in ${files.token}`));
      const served = await post(
        { url: /HTTP API on (\S+),/.exec(text.stdout)?.[1] ?? '', tokenFile: files.token },
        { verb: 'swap' },
      );
      assert.deepEqual([served.status, served.reply.id, served.reply.ok], [200, null, true]);

      // Stopped: the lab stays up, its daemon and its files are gone, changes are refused.
      const stop = await cli(['daemon', '--stop', '--json'], { stateDir });
      assert.equal(stop.code, 0, stop.stderr);
      const stopped = JSON.parse(stop.stdout) as { lab: string; stopped: number[] };
      assert.equal(stopped.lab, id);
      assert.equal(stopped.stopped.length, 1);
      assert.equal(await isRunning(stopped.stopped[0] ?? 0), false);
      assert.equal(await exists(files.token), false, 'token file removed');
      assert.equal(await exists(files.socket), false, 'socket removed');
      const after = await statusOf(stateDir);
      assert.equal(after.phase, 'up');
      assert.equal(after.daemon?.running ?? false, false);
      assert.deepEqual(after.drift, []);
      assert.equal(after.flows[0]?.responder, 'D', 'the swap through HTTP holds');
      assert.equal((await namespacesWith(prefix)).length, 4);
      const refused = await cli(['swap'], { stateDir });
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /flowmig daemon --lab/);
      const none = await cli(['daemon', '--stop'], { stateDir });
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /no daemon serves lab .*; nothing to stop/);
      const conflict = await cli(['daemon', '--stop', '--http', '0'], { stateDir });
      assert.notEqual(conflict.code, 0);
      assert.match(conflict.stderr, /'--stop' cannot be used with option '--http/);

      // Restarted with no daemon running: simply started, without HTTP this time.
      const plain = await cli(['daemon', '--restart', '--detach', '--json'], { stateDir });
      assert.equal(plain.code, 0, plain.stderr);
      const third = JSON.parse(plain.stdout) as HelloReply;
      assert.equal(third.http, undefined);
      assert.equal(await exists(files.token), false);

      // In the foreground: restarted with HTTP, then stopped from another command; it exits 0.
      const fg = spawn(process.execPath, [CLI, 'daemon', '--restart', '--http', '0'], {
        env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      foreground.push({ kill: () => fg.kill('SIGKILL') });
      let out = '';
      fg.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      fg.stderr.on('data', (b: Buffer) => {
        out += b.toString();
      });
      const exited = once(fg, 'exit');
      // Bounded only so that a hang fails the test instead of stalling the run.
      for (let t = Date.now(); !/http API on/.test(out) && fg.exitCode === null; ) {
        if (Date.now() - t > 60_000) assert.fail(`the foreground daemon did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(out, new RegExp(`daemon of lab ${id} stopped \\(pid ${third.pid}\\)`));
      assert.match(out, /http API on http:\/\/127\.0\.0\.1:\d+\/api \(POST; .*\.token>"\)/);
      assert.doesNotMatch(out, /[0-9a-f]{32}/, 'no token on the terminal either');
      const fgStop = await cli(['daemon', '--stop'], { stateDir });
      assert.equal(fgStop.code, 0, fgStop.stderr);
      assert.match(fgStop.stdout, /stopped \(pid \d+\); the lab stays up/);
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, out);
      assert.equal(await exists(files.token), false);

      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await namespacesWith(prefix), []);
      assert.deepEqual(await readdir(stateDir), []);
    } finally {
      for (const f of foreground) f.kill();
      await cli(['down'], { stateDir }).catch(() => undefined);
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
