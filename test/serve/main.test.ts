import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ServeClient } from '../../src/serve/client.js';
import { removeDir, tempDir } from '../support/tmp.js';

const MAIN = fileURLToPath(new URL('../../src/serve/main.js', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('serve main.js', () => {
  it('refuses bad arguments with one line and exit code 2', async () => {
    const good = ['--address', '::1', '--port', '5555', '--mode', 'echo', '--control', '/tmp/x'];
    const cases: [string[], RegExp][] = [
      [good.filter((_, i) => i > 1), /--address ADDRESS is required/],
      [['--address', '10.0.0.1', ...good.slice(2)], /not an IPv6 address/],
      [[...good.slice(0, 2), '--port', '70000', ...good.slice(4)], /bad port '70000'/],
      [[...good.slice(0, 4), '--mode', 'chat', ...good.slice(6)], /unknown mode 'chat'/],
      [good.slice(0, 6), /--control PATH is required/],
      [[...good, '--bogus'], /bogus/],
      [[...good, '--send-buffer', 'lots'], /bad send buffer 'lots'/],
    ];
    for (const [args, why] of cases) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    }
  });

  it('prints `ready <pid>` once it listens, answers hello, and exits cleanly on SIGTERM', async () => {
    const dir = await tempDir('serve-main');
    const control = join(dir, 'c.sock');
    const child = spawn(
      process.execPath,
      [MAIN, '--address', '::1', '--port', '0', '--mode', 'stream', '--control', control],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Port 0 is refused (a server must say where it listens): use a free one instead.
    const exited = new Promise<number | null>((r) => child.on('close', r));
    assert.equal(await exited, 2);

    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const server = spawn(
      process.execPath,
      [MAIN, '--address', '::1', '--port', String(port), '--mode', 'stream', '--control', control],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const closed = new Promise<number | null>((r) => server.on('close', r));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out);
        });
        server.on('close', () => reject(new Error(`exited before ready: ${out}`)));
      });
      assert.equal(line, `ready ${server.pid}\n`);
      const c = await ServeClient.connect(control);
      const hello = await c.hello();
      c.close();
      assert.deepEqual(hello, {
        pid: server.pid,
        address: '::1',
        port,
        mode: 'stream',
        connections: 0,
      });
    } finally {
      server.kill('SIGTERM');
      assert.equal(await closed, 0);
      assert.equal(existsSync(control), false);
      await removeDir(dir);
    }
  });
});
