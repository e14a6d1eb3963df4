// The daemon on real namespaces: `up --detach` starts it, CLI commands go through it, it serialises
// 1,000 concurrent migrations, refuses non-root users and bad messages, and after being killed a
// restarted daemon reconciles the translator with the desired flow table.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { LabStatus, MigrationResult } from '../../src/control/flowmig.js';
import { DaemonClient } from '../../src/daemon-api/client.js';
import type { HelloReply } from '../../src/daemon-api/protocol.js';
import { isRunning } from '../../src/procs/find.js';
import {
  cli,
  namespacesWith,
  ROOT,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

const exec = promisify(execFile);

/** A lab up through the CLI (so with its daemon), torn down and checked afterwards. */
async function withDaemonLab(
  args: readonly string[],
  fn: (t: { prefix: string; stateDir: string; status: LabStatus }) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  try {
    const up = await cli(['up', '--detach', '--prefix', prefix, '--json', ...args], { stateDir });
    assert.equal(up.code, 0, up.stderr);
    const status = JSON.parse(up.stdout) as LabStatus;
    assert.ok(status.daemon?.running, 'up --detach started the daemon');
    await fn({ prefix, stateDir, status });
  } finally {
    await cli(['down'], { stateDir }).catch(() => undefined);
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

const socketOf = (s: LabStatus) => s.daemon?.socket ?? assert.fail('no daemon socket');

describe('the daemon', () => {
  it('serialises 1,000 concurrent migrations from 20 clients: all answered, kernel = desired', async () => {
    await withDaemonLab(
      ['--config', join(ROOT, 'examples', 'two-flows.yaml')],
      async ({ prefix, status }) => {
        const clients = await Promise.all(
          Array.from({ length: 20 }, () => DaemonClient.connect(socketOf(status))),
        );
        try {
          const flows = ['fe00::1', 'fe00::2'];
          const nodes = ['C', 'D'];
          const answers = await Promise.all(
            clients.flatMap((c, k) =>
              Array.from({ length: 50 }, (_, i) =>
                c.request<MigrationResult>(
                  {
                    verb: 'migrate',
                    flow: flows[(k + i) % 2] ?? '',
                    node: nodes[(k * 7 + i) % 2] ?? '',
                  },
                  120_000,
                ),
              ),
            ),
          );
          assert.equal(answers.length, 1000);
          assert.ok(answers.every((a) => a.flow === 'fe00::1' || a.flow === 'fe00::2'));
          const hello = await clients[0]?.request<HelloReply>({ verb: 'hello' });
          assert.equal(hello?.queued, 0);
          const s = await clients[0]?.request<LabStatus>({ verb: 'status' });
          assert.deepEqual(s?.drift, [], 'the kernel holds the last applied desired state');
          assert.ok(s?.flows.every((f) => f.inSync));
          // Exactly one mapping each way per flow, nothing else in flowmig's maps.
          const nft = JSON.parse(
            (
              await runner.run(['nft', '-j', 'list', 'table', 'ip6', 'flowmig'], {
                netns: `${prefix}B`,
              })
            ).stdout,
          ) as { nftables: { map?: { name: string; elem?: unknown[] } }[] };
          const count = (name: string) =>
            nft.nftables.find((x) => x.map?.name === name)?.map?.elem?.length ?? 0;
          assert.equal(count('dnat_to'), 2);
          assert.equal(count('dnat_back'), 2);
        } finally {
          for (const c of clients) c.close();
        }
      },
    );
  });

  it('CLI commands go through it; bad messages get an error reply and it keeps serving', async () => {
    await withDaemonLab([], async ({ stateDir, status }) => {
      const swap = await cli(['swap', '--json'], { stateDir });
      assert.equal(swap.code, 0, swap.stderr);
      const c = await DaemonClient.connect(socketOf(status));
      try {
        const hello = await c.request<HelloReply>({ verb: 'hello' });
        assert.equal(hello.changes, 1, 'the CLI swap was applied by the daemon');
        for (const bad of [
          'not json\n',
          '{"id":1,"verb":"explode"}\n',
          `{"id":2,"verb":"migrate"}\n`,
        ]) {
          const raw = await rawExchange(socketOf(status), bad);
          assert.match(raw, /"ok":false/, bad);
        }
        const huge = await rawExchange(socketOf(status), `${'x'.repeat(100_000)}\n`);
        assert.match(huge, /too large/);
        assert.equal((await c.request<HelloReply>({ verb: 'hello' })).lab, hello.lab);
      } finally {
        c.close();
      }
    });
  });

  it('its socket refuses a user who is not root', async () => {
    await withDaemonLab([], async ({ status }) => {
      const probe = `require('node:net').connect(${JSON.stringify(socketOf(status))})
        .on('connect', () => { console.log('connected'); process.exit(0); })
        .on('error', (e) => { console.log(e.code); process.exit(0); });`;
      const { stdout } = await exec('runuser', [
        '-u',
        'nobody',
        '--',
        process.execPath,
        '-e',
        probe,
      ]);
      assert.equal(stdout.trim(), 'EACCES');
    });
  });

  it('killed: changes say so; restarted, it reconciles a foreign change made meanwhile', async () => {
    await withDaemonLab([], async ({ prefix, stateDir, status }) => {
      const pid = status.daemon?.pid ?? assert.fail('no daemon pid');
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      const refused = await cli(['swap'], { stateDir });
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /daemon of lab .* is not running; restart it with 'flowmig daemon/,
      );
      // Someone removes a flowmig element and adds a rule to flowmig's chain while no daemon runs.
      await runner.run(
        ['nft', 'delete', 'element', 'ip6', 'flowmig', 'dnat_to', '{ fc00::1 . fe00::1 }'],
        { netns: `${prefix}B` },
      );
      await runner.run(['nft', 'add', 'rule', 'ip6', 'flowmig', 'prerouting', 'counter'], {
        netns: `${prefix}B`,
      });
      const drifted = JSON.parse(
        (await cli(['status', '--json'], { stateDir })).stdout,
      ) as LabStatus;
      assert.equal(drifted.daemon?.running, false);
      assert.equal(drifted.drift.length, 2, drifted.drift.join('; '));
      const restarted = await cli(['daemon', '--detach'], { stateDir });
      assert.equal(restarted.code, 0, restarted.stderr);
      const fixed = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as LabStatus;
      assert.deepEqual(fixed.drift, []);
      assert.ok(fixed.daemon?.running);
      assert.ok(fixed.flows.every((f) => f.inSync));
      const ping = await runner.run(['ping', '-c', '2', '-i', '0.2', '-w', '5', 'fe00::1'], {
        netns: `${prefix}A`,
      });
      assert.match(ping.stdout, /2 received/);
      // The ping's conntrack entry is counted for its flow.
      const after = JSON.parse((await cli(['status', '--json'], { stateDir })).stdout) as LabStatus;
      assert.equal(after.flows[0]?.conntrackEntries, 1);
    });
  });

  it('reconcile and down leave foreign objects with flowmig-like names alone', async () => {
    await withDaemonLab(['--engine', 'iptables'], async ({ prefix, stateDir }) => {
      const B = `${prefix}B`;
      const E = `${prefix}E`; // a namespace with the lab's prefix that the lab did not create
      await runner.run(['ip', 'netns', 'add', E]);
      try {
        // Foreign objects beside flowmig's own, in the translator: a table and a chain whose
        // names look like flowmig's, each with a rule.
        await runner.run(['nft', '-f', '-'], {
          netns: B,
          stdin:
            'table ip6 flowmig_foreign { chain c { type filter hook input priority 0; counter; }; }\n',
        });
        await runner.run(['ip6tables', '-w', '-t', 'nat', '-N', 'FLOWMIG-DNAT-X'], { netns: B });
        await runner.run(['ip6tables', '-w', '-t', 'nat', '-A', 'FLOWMIG-DNAT-X', '-j', 'RETURN'], {
          netns: B,
        });
        // And drift in flowmig's own chain, so reconcile has work to do.
        await runner.run(['ip6tables', '-w', '-t', 'nat', '-F', 'FLOWMIG-DNAT'], { netns: B });
        const r = await cli(['reconcile', '--json'], { stateDir });
        assert.equal(r.code, 0, r.stderr);
        assert.equal((JSON.parse(r.stdout) as { repaired: boolean }).repaired, true);
        const save = (await runner.run(['ip6tables-save', '-t', 'nat'], { netns: B })).stdout;
        assert.match(save, /^-A FLOWMIG-DNAT-X -j RETURN$/m, 'the foreign chain kept its rule');
        assert.match(save, /^-A FLOWMIG-DNAT -s fc00::1\/128 -d fe00::1\/128 /m, 'ours is back');
        const tables = (await runner.run(['nft', 'list', 'tables'], { netns: B })).stdout;
        assert.match(tables, /table ip6 flowmig_foreign/);
        const down = await cli(['down'], { stateDir });
        assert.equal(down.code, 0, down.stderr);
        assert.deepEqual(await namespacesWith(prefix), [E], 'only the foreign namespace is left');
      } finally {
        await runner.run(['ip', 'netns', 'delete', E]).catch(() => undefined);
      }
    });
  });

  it('down through the daemon removes the lab, the daemon, its socket and its files', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    try {
      const up = await cli(['up', '--detach', '--prefix', prefix, '--json'], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const pid = (JSON.parse(up.stdout) as LabStatus).daemon?.pid ?? assert.fail('no daemon');
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await isRunning(pid), false, 'the daemon exited');
      assert.deepEqual(await namespacesWith(prefix), []);
      assert.deepEqual(await readdir(stateDir), []);
    } finally {
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

/** Sends raw bytes on a fresh connection and returns the first reply line (or '' if closed). */
function rawExchange(path: string, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(data));
    let got = '';
    s.on('data', (b: Buffer) => {
      got += b.toString();
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.split('\n')[0] ?? '');
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
}
