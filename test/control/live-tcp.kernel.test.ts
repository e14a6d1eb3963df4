// Live TCP migration on real namespaces (policy `migrate`): flowmig's server runtime in C and D
// hands the flow's connections over at every swap while the translator holds their packets.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MigrationResult } from '../../src/control/flowmig.js';
import { findServersWhere } from '../../src/control/serve-process.js';
import { Background, sleep } from '../../src/experiment/process.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { summarize } from '../../src/metrics/distribution.js';
import {
  cli,
  namespacesWith,
  ROOT,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
  withLab,
} from '../kernel-support/lab.js';

const LIVE: LabDescriptionInput = {
  ...REFERENCE_LAB,
  name: 'live',
  flows: [{ address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'migrate' }],
};

const DUPLEX = join(ROOT, 'dist', 'src', 'traffic', 'tcp-duplex.js');

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function summary(moves: readonly NonNullable<MigrationResult['tcp']>[]): string {
  const d = summarize(moves.map((m) => m.totalMs));
  return `move hold→resume p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(2)} ms; held packets ${moves.reduce((n, m) => n + (m.heldPackets ?? 0), 0)}`;
}

describe('tcp: migrate — live TCP migration (nftables, agent)', () => {
  it('an unmodified ncat client survives 100 swaps: it never exits, every line comes back byte-exact', async (t) => {
    await withLab(LIVE, async ({ fm, lab, ns }) => {
      await fm.serve(lab.id, { port: 5555, mode: 'echo' });
      const client = Background.start(['ncat', 'fe00::1', '5555'], {
        netns: ns('A'),
        stdin: true,
      });
      try {
        client.write('hello\n');
        assert.ok(await client.waitFor('hello\n', 5_000), 'the echo server answers');
        let sent = 'hello\n';
        let writing = true;
        const writer = (async () => {
          for (let i = 0; writing; i++) {
            const line = `line ${i} ${'x'.repeat(i % 300)}\n`;
            client.write(line);
            sent += line;
            await sleep(2);
          }
        })();
        const moves: NonNullable<MigrationResult['tcp']>[] = [];
        for (let i = 0; i < 100; i++) {
          const r = await fm.swap(lab.id, 'fe00::1');
          assert.ok(r.tcp, 'the swap moved TCP');
          assert.equal(r.tcp.rolledBack, undefined);
          assert.deepEqual(r.tcp.failed, [], `swap ${i + 1}: nothing failed`);
          assert.equal(r.tcp.moved, 1, `swap ${i + 1} moved the connection`);
          moves.push(r.tcp);
          await sleep(15);
        }
        writing = false;
        await writer;
        assert.ok(
          await until(() => client.stdout.length >= sent.length, 10_000),
          `all ${sent.length} bytes came back (got ${client.stdout.length})`,
        );
        assert.equal(client.stdout, sent, 'byte-exact');
        assert.ok(client.running, 'ncat never exited');
        t.diagnostic(`ncat: ${sent.length} bytes echoed across 100 swaps; ${summary(moves)}`);
      } finally {
        await client.stop('SIGKILL');
      }
    });
  });

  it('streams 50 MB both ways across 60 migrations: checksums equal, no reset, no error', async (t) => {
    await withLab(LIVE, async ({ fm, lab, ns }) => {
      await fm.serve(lab.id, { port: 5555, mode: 'stream' });
      const bytes = 50 * 1024 * 1024;
      const client = Background.start(
        [
          process.execPath,
          DUPLEX,
          '--to',
          'fe00::1',
          '--port',
          '5555',
          '--bytes',
          String(bytes),
          '--rate',
          String(6 * 1024 * 1024),
        ],
        { netns: ns('A') },
      );
      try {
        await sleep(300);
        const moves: NonNullable<MigrationResult['tcp']>[] = [];
        for (let i = 0; i < 60 && client.running; i++) {
          const r = await fm.swap(lab.id, 'fe00::1');
          assert.ok(r.tcp);
          assert.equal(r.tcp.rolledBack, undefined);
          assert.deepEqual(r.tcp.failed, [], `swap ${i + 1}: nothing failed`);
          moves.push(r.tcp);
          await sleep(10);
        }
        const exit = await Promise.race([client.exited, sleep(60_000).then(() => undefined)]);
        assert.ok(exit, 'the stream finished within a minute');
        const result = JSON.parse(client.stdout.trim().split('\n').pop() ?? '{}') as {
          complete: boolean;
          intact: boolean;
          ended: unknown;
          bytesSent: number;
          bytesReceived: number;
          mismatches: number;
          crcSent: number;
          server: { crc: number; received: number } | null;
          longestStall: { ms: number };
        };
        assert.equal(moves.length, 60, 'all 60 migrations happened while the stream ran');
        assert.ok(
          moves.every((m) => m.moved === 1),
          'every migration moved the connection',
        );
        assert.equal(result.bytesSent, bytes);
        assert.equal(result.bytesReceived, bytes);
        assert.equal(result.mismatches, 0);
        assert.equal(result.server?.received, bytes);
        assert.equal(result.server?.crc, result.crcSent, 'the server received what was sent');
        assert.ok(result.complete && result.intact, `intact: ${JSON.stringify(result.ended)}`);
        const q = moves.map((m) => m.queued);
        t.diagnostic(
          `stream: ${bytes} bytes each way across ${moves.length} migrations; longest stall ${result.longestStall.ms.toFixed(1)} ms; ${summary(moves)}; migrations with unacked data ${q.filter((x) => x.unacked > 0).length}, unsent ${q.filter((x) => x.unsent > 0).length}, unread ${q.filter((x) => x.unread > 0).length}`,
        );
        // The queues a migration can meet were all met, and each arrived byte-exact (above).
        assert.ok(
          q.some((x) => x.unacked > 0),
          'some migration moved unacknowledged data',
        );
        assert.ok(
          q.some((x) => x.unread > 0),
          "some migration moved data the server hadn't read",
        );
      } finally {
        await client.stop('SIGKILL');
      }
    });
  });

  it('the new server lacks the address: rolled back, the connection carries on on the old server', async () => {
    await withLab(LIVE, async ({ fm, lab, ns }) => {
      await fm.serve(lab.id, { port: 5555, mode: 'echo' });
      const client = Background.start(['ncat', 'fe00::1', '5555'], {
        netns: ns('A'),
        stdin: true,
      });
      try {
        client.write('before\n');
        assert.ok(await client.waitFor('before\n', 5_000));
        const dev = lab.links.find((l) => l.node === 'D')?.nodeIf ?? '';
        await runner.run(['ip', 'addr', 'del', 'fc02::2/64', 'dev', dev], { netns: ns('D') });
        await assert.rejects(fm.swap(lab.id, 'fe00::1'), /stays on C.*rolled back/);
        client.write('after the failed swap\n');
        assert.ok(await client.waitFor('after the failed swap\n', 5_000), 'still echoed');
        assert.ok(client.running);
        const s = await fm.status(lab.id);
        assert.equal(s.flows[0]?.responder, 'C');
        assert.ok(s.flows[0]?.inSync, 'the translator maps the flow to C again');
        assert.deepEqual(s.drift, []);
        // With the address back, the connection moves.
        await runner.run(['ip', 'addr', 'add', 'fc02::2/64', 'dev', dev, 'nodad'], {
          netns: ns('D'),
        });
        const r = await fm.swap(lab.id, 'fe00::1');
        assert.equal(r.tcp?.moved, 1);
        client.write('on D\n');
        assert.ok(await client.waitFor('on D\n', 5_000));
        assert.equal(client.stdout, 'before\nafter the failed swap\non D\n');
      } finally {
        await client.stop('SIGKILL');
      }
    });
  });

  it('without the TCP repair addon: one clear line and nothing changes; drain and reset flows still migrate', async () => {
    const lab3: LabDescriptionInput = {
      ...REFERENCE_LAB,
      name: 'noaddon',
      flows: [
        { address: 'fe00::1', initiator: 'A', responder: 'C', tcp: 'migrate' },
        { address: 'fe00::2', initiator: 'A', responder: 'C', tcp: 'drain' },
        { address: 'fe00::3', initiator: 'A', responder: 'C' },
      ],
    };
    await withLab(lab3, async ({ fm, lab, ns }) => {
      const saved = process.env.FLOWMIG_TCP_REPAIR_ADDON;
      process.env.FLOWMIG_TCP_REPAIR_ADDON = '/nonexistent/flowmig_tcp_repair.node';
      try {
        await fm.serve(lab.id, { port: 5555, mode: 'echo' });
      } finally {
        if (saved === undefined) delete process.env.FLOWMIG_TCP_REPAIR_ADDON;
        else process.env.FLOWMIG_TCP_REPAIR_ADDON = saved;
      }
      const client = Background.start(['ncat', 'fe00::1', '5555'], {
        netns: ns('A'),
        stdin: true,
      });
      try {
        client.write('one\n');
        assert.ok(await client.waitFor('one\n', 5_000));
        const err = await fm.swap(lab.id, 'fe00::1').then(
          () => undefined,
          (e: Error) => e,
        );
        assert.ok(err, 'the swap was refused');
        assert.match(
          err.message,
          /cannot use TCP repair \(.*flowmig_tcp_repair\.node.*npm run build:native/,
        );
        assert.doesNotMatch(err.message, /\n/, 'one line');
        const s = await fm.status(lab.id);
        assert.equal(s.flows.find((f) => f.address === 'fe00::1')?.responder, 'C');
        client.write('two\n');
        assert.ok(await client.waitFor('two\n', 5_000), 'the connection is untouched');
        assert.equal((await fm.swap(lab.id, 'fe00::2')).to, 'D', 'a drain flow migrates');
        assert.equal((await fm.swap(lab.id, 'fe00::3')).to, 'D', 'a reset flow migrates');
      } finally {
        await client.stop('SIGKILL');
      }
    });
  });
});

describe('flowmig serve (CLI, through the daemon)', () => {
  it('serve, status, swap with the moved connection, serve --stop, down', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    const config = join(ROOT, 'examples', 'live-tcp.yaml');
    let client: Background | undefined;
    try {
      const up = await cli(['up', '--detach', '--prefix', prefix, '--config', config], {
        stateDir,
      });
      assert.equal(up.code, 0, up.stderr);
      const serve = await cli(['serve', '--port', '5555'], { stateDir });
      assert.equal(serve.code, 0, serve.stderr);
      assert.match(serve.stdout, /^C: flowmig serve \(echo\) on \[fc01::1\]:5555, pid \d+/m);
      assert.match(serve.stdout, /^D: flowmig serve \(echo\) on \[fc02::2\]:5555/m);
      client = Background.start(['ncat', 'fe00::1', '5555'], {
        netns: `${prefix}A`,
        stdin: true,
      });
      client.write('hi\n');
      assert.ok(await client.waitFor('hi\n', 5_000));
      const status = await cli(['status'], { stateDir });
      assert.match(
        status.stdout,
        /flowmig serve on C: echo on \[fc01::1\]:5555, pid \d+, 1 connection/,
      );
      const swap = await cli(['swap'], { stateDir });
      assert.equal(swap.code, 0, swap.stderr);
      assert.match(swap.stdout, /flow fe00::1: C → D/);
      assert.match(swap.stdout, /^tcp: 1 connection\(s\) moved in [\d.]+ ms/m);
      assert.match(
        swap.stdout,
        /steps: prepare .* hold .* checkpoint .* switch .* restore .* release .* resume/,
      );
      const json = JSON.parse((await cli(['swap', '--json'], { stateDir })).stdout) as {
        tcp?: { moved: number; steps: { name: string }[] };
      };
      assert.equal(json.tcp?.moved, 1);
      client.write('still here\n');
      assert.ok(await client.waitFor('still here\n', 5_000));
      assert.ok(client.running);
      const stop = await cli(['serve', '--stop'], { stateDir });
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /2 server runtime\(s\) stopped/);
      assert.deepEqual(await findServersWhere((id) => id.startsWith(prefix)), []);
      const down = await cli(['down'], { stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await namespacesWith(prefix), []);
    } finally {
      await client?.stop('SIGKILL');
      await cli(['down'], { stateDir }).catch(() => {});
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
