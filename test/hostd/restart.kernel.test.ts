// A host daemon SIGKILLed and started again: the traffic it translates keeps its last mapping
// meanwhile, and the restarted daemon catches up without flushing conntrack — a UDP flow and a
// TCP connection through it go on, the same connections (their entries kept), and migrations work
// again once it is back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Background } from '../../src/experiment/process.js';
import type { HostdChange } from '../../src/hostd-api/protocol.js';
import { conntrackLinesTo, FIXTURES, ROOT } from '../kernel-support/lab.js';
import { hostByName, withCluster } from './cluster.js';

const THREE = join(ROOT, 'examples', 'three-hosts.yaml');
const UDP_ECHO = join(ROOT, 'dist', 'src', 'traffic', 'udp-echo.js');
const UDP_LINES = join(FIXTURES, 'udp-lines.mjs');
const TCP_ECHO = join(FIXTURES, 'tcp-echo.mjs');

describe('a host daemon killed and restarted', () => {
  it('keeps a UDP flow and a TCP connection through its translator, and catches up', async (t) => {
    await withCluster(THREE, async ({ cluster, ask, pidOf, startHost, caughtUp }) => {
      const h1 = hostByName(cluster, 'h1');
      const netnsOf = (node: string) => cluster.nodes.find((n) => n.name === node)?.netns ?? '';
      // The flow on S2 (another host than the client's): both servers answer UDP and TCP.
      await ask<HostdChange>('h2', { verb: 'migrate', flow: 'fe00::1', node: 'S2' });
      const programs: Background[] = [];
      const start = (argv: string[], netns: string, stdin = false) => {
        const b = Background.start(argv, { netns, stdin });
        programs.push(b);
        return b;
      };
      try {
        for (const s of ['S1', 'S2', 'S3']) {
          const echo = start([process.execPath, UDP_ECHO, '--port', '5555'], netnsOf(s));
          assert.ok(await echo.waitFor('listening', 5_000), echo.stderr);
          const tcpEcho = start([process.execPath, TCP_ECHO, '5556'], netnsOf(s));
          assert.ok(await tcpEcho.waitFor('listening', 5_000), tcpEcho.stderr);
        }
        const udp = start([process.execPath, UDP_LINES, 'fe00::1', '5555'], netnsOf('A'), true);
        assert.ok(await udp.waitFor('ready', 5_000), udp.stderr);
        const tcp = start(['ncat', 'fe00::1', '5556'], netnsOf('A'), true);
        assert.equal(await udp.request('u1'), 'u1');
        assert.equal(await tcp.request('t1'), 't1');
        const before = await conntrackLinesTo(h1.translator.netns, 'fe00::1');
        assert.ok(
          before.some((l) => l.includes('tcp')),
          before.join('\n'),
        );

        const pid = pidOf('h1');
        assert.ok(pid);
        const killed = performance.now();
        process.kill(pid, 'SIGKILL');
        // Meanwhile the translator keeps its last mapping.
        assert.equal(await udp.request('u2'), 'u2');
        assert.equal(await tcp.request('t2'), 't2');
        const spawned = performance.now();
        await startHost('h1');
        const s = await caughtUp('h1');
        const inSync = performance.now() - spawned;
        assert.equal(s.leaseAlive, true);
        assert.deepEqual(s.byResponder, { S2: 1 }, JSON.stringify(s));
        // The same connections, not new ones: their entries are still there, and they go on.
        const after = await conntrackLinesTo(h1.translator.netns, 'fe00::1');
        const tuple = (l: string) =>
          l.replace(/\s+\d+\s+(?=[A-Z_]+|src=)/, ' ').replace(/\b\d+ \w+ \d+ /, '');
        const tcpBefore = before.find((l) => l.includes('tcp'));
        assert.ok(
          tcpBefore && after.some((l) => l.includes(/sport=(\d+)/.exec(tcpBefore)?.[0] ?? '?')),
          `the TCP connection's entry was kept:\n${after.map(tuple).join('\n')}`,
        );
        assert.equal(await udp.request('u3'), 'u3');
        assert.equal(await tcp.request('t3'), 't3');
        // Migrations work again through the restarted host: UDP moves along, TCP is reset.
        const m = await ask<HostdChange>('h1', { verb: 'migrate', flow: 'fe00::1', node: 'S3' });
        assert.deepEqual(m.appliedBy, ['h1', 'h2', 'h3']);
        assert.equal(await udp.request('u4'), 'u4');
        t.diagnostic(
          `h1's daemon gone ${(spawned - killed).toFixed(0)} ms; restarted h1 in sync ${inSync.toFixed(0)} ms after its spawn; entries to fe00::1 before ${before.length}, after ${after.length}`,
        );
      } finally {
        for (const p of programs.reverse()) await p.stop('SIGTERM', 1_000);
      }
    });
  });
});
