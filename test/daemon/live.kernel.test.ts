// The daemon's live side on a real lab, without a browser: `flowmig dashboard` starts the daemon
// with HTTP and prints the page's address with the token; the event stream starts with the lab's
// snapshot; a ping load started over the API reaches the flow's server; a swap from the CLI and
// one from the library in another process both show as migrations with the flows; a load from a
// server is refused; stopping the load ends its ping; /metrics counts what happened; nothing is
// left behind when the lab goes down.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { daemonPaths } from '../../src/control/daemon-process.js';
import type { LoadInfo } from '../../src/daemon-api/live.js';
import { apiClient, firstSnapshot, subscribe, until } from '../kernel-support/events.js';
import {
  cli,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

describe('the dashboard daemon on a real lab', () => {
  it('streams the lab, its migrations from the CLI and the library, rates and loads', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    const id = `${prefix}default`;
    let feed: ReturnType<typeof subscribe> | undefined;
    let pingPid: number | undefined;
    try {
      const up = await cli(['up', '--detach', '--prefix', prefix], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      const dash = await cli(['dashboard', '--lab', id], { stateDir });
      assert.equal(dash.code, 0, dash.stderr);
      const url = /(http:\/\/127\.0\.0\.1:\d+\/)#token=([0-9a-f]{32})/.exec(dash.stdout);
      assert.ok(url, dash.stdout);
      const [, base = '', token = ''] = url;
      assert.equal((await readFile(daemonPaths(stateDir, id).token, 'utf8')).trim(), token);
      // Asked again, the same daemon and address.
      const again = await cli(['dashboard', '--lab', id], { stateDir });
      assert.match(again.stdout, new RegExp(`${base}#token=${token}`));
      assert.doesNotMatch(again.stdout, /started|restarted/);

      const api = apiClient(base, token);
      feed = subscribe(base, token);
      const f = feed;
      const snap = await firstSnapshot(f, 5_000);
      assert.deepEqual(
        snap.nodes.map((n) => `${n.name}:${n.role}`),
        ['A:client', 'B:translator', 'C:server', 'D:server'],
      );
      assert.deepEqual(
        snap.flows.map((x) => `${x.address}→${x.responder}`),
        ['fe00::1→C'],
      );

      // A ping load from A: C receives it.
      const load = await api({ verb: 'load', kind: 'ping' });
      assert.equal(load.status, 200, JSON.stringify(load.reply));
      const info = (load.reply as { result: LoadInfo }).result;
      assert.deepEqual(
        [info.kind, info.from, info.flow, info.running],
        ['ping', 'A', 'fe00::1', true],
      );
      const rising = (node: string) =>
        until(
          `${node}'s rate to rise`,
          10_000,
          () =>
            f.events.some((e) => e.type === 'rates' && (e.sample.pps[node] ?? 0) > 50) || undefined,
        );
      await rising('C');

      // A swap from the CLI (through the daemon): a migration row and the flows, then D's rate.
      const swap = await cli(['swap', '--lab', id], { stateDir });
      assert.equal(swap.code, 0, swap.stderr);
      const first = await until('the first migration', 5_000, () =>
        f.events.find((e) => e.type === 'migration'),
      );
      assert.ok(first.type === 'migration');
      assert.deepEqual(
        [
          first.row.flow,
          first.row.from,
          first.row.to,
          first.row.source,
          first.row.path !== undefined,
        ],
        ['fe00::1', 'C', 'D', 'daemon', true],
      );
      const mark = f.events.length;
      await until(
        'D receiving',
        10_000,
        () =>
          f.events
            .slice(mark)
            .some(
              (e) => e.type === 'rates' && (e.sample.pps.D ?? 0) > 50 && (e.sample.pps.C ?? 0) < 20,
            ) || undefined,
      );

      // A swap from the library in another process (direct: it borrows the daemon's lock).
      const direct = await cli(['swap', '--lab', id, '--direct'], { stateDir });
      assert.equal(direct.code, 0, direct.stderr);
      const outside = await until('the outside migration', 5_000, () =>
        f.events.find((e) => e.type === 'migration' && e.row.source === 'outside'),
      );
      assert.ok(outside.type === 'migration');
      assert.deepEqual([outside.row.from, outside.row.to], ['D', 'C']);
      const flows = f.events.filter((e) => e.type === 'flows');
      const last = flows[flows.length - 1];
      assert.ok(last?.type === 'flows');
      assert.equal(last.flows[0]?.responder, 'C');

      // Refused: a load from a server, a migration to a client. Nothing changed.
      const bad = await api({ verb: 'load', kind: 'udp', from: 'C' });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.reply), /C is a server: a load starts from a client/);
      const toClient = await api({ verb: 'migrate', flow: 'fe00::1', node: 'A', end: 'responder' });
      assert.equal(toClient.status, 400);
      assert.match(
        JSON.stringify(toClient.reply),
        /A is a client: a flow's responder moves to a server/,
      );
      const now = await api({ verb: 'flows' });
      assert.match(JSON.stringify(now.reply), /"responder":"C"/);

      // /metrics: both migrations and the refused one, the node counters, the build.
      const metrics = await (await fetch(`${base}metrics`)).text();
      assert.match(
        metrics,
        /flowmig_migrations_total\{result="ok",path="[a-z-]+",tcp_policy="reset"\} 2/,
      );
      assert.match(
        metrics,
        /flowmig_migrations_total\{result="invalid",path="none",tcp_policy="reset"\} 1/,
      );
      assert.match(metrics, /flowmig_node_packets_total\{node="C"\} [1-9]/);
      assert.match(metrics, /flowmig_flows 1/);
      assert.match(metrics, /flowmig_drift 0/);

      // Stopping the load ends its ping.
      const pings = await findPing(prefix);
      pingPid = pings[0];
      assert.equal(pings.length, 1);
      const stopped = await api({ verb: 'unload', load: info.id });
      assert.equal(stopped.status, 200);
      assert.equal((stopped.reply as { result: LoadInfo }).result.running, false);
      await until('ping to end', 5_000, () => !existsSync(`/proc/${pingPid}`) || undefined);
      const loads = f.events.filter((e) => e.type === 'loads');
      assert.ok(loads.length >= 2);
    } finally {
      feed?.close();
      // The daemon stops its loads by itself; this only guards a failed test.
      if (pingPid !== undefined && existsSync(`/proc/${pingPid}`)) process.kill(pingPid, 'SIGKILL');
      await cli(['down', '--lab', id], { stateDir }).catch(() => undefined);
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
    assert.deepEqual(await namespacesWith(prefix), []);
  });
});

/** PIDs of ping processes in this test's client namespace (found by their network namespace). */
async function findPing(prefix: string): Promise<number[]> {
  const target = (await stat(`/run/netns/${prefix}A`)).ino;
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== 'ping') continue;
      if ((await readlink(`/proc/${pid}/ns/net`)) === `net:[${target}]`) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
