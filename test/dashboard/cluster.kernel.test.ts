// The dashboard of a cluster lab (three hosts, etcd, a daemon per host): `flowmig dashboard`
// serves it from its own process; the snapshot has every node with its host and every host with
// its lease held and no lag; a swap from the page's API is logged from its answer, one from the
// CLI when host 1 applied it; a migration of the responder to the client is refused and changes
// nothing; /metrics counts them; Ctrl-C ends the server and removes its token file.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Background } from '../../src/experiment/process.js';
import { apiClient, firstSnapshot, subscribe, until } from '../kernel-support/events.js';
import {
  CLI,
  cli,
  namespacesWith,
  ROOT,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

const THREE_HOSTS = join(ROOT, 'examples', 'three-hosts.yaml');

describe('the dashboard of a cluster lab', () => {
  it('streams its hosts, logs swaps from the page and the CLI, refuses a bad migration', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    const lab = `${prefix}three`;
    let server: Background | undefined;
    let feed: ReturnType<typeof subscribe> | undefined;
    try {
      const up = await cli(['up', '-c', THREE_HOSTS, '--prefix', prefix, '--detach'], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      server = Background.start([
        process.execPath,
        CLI,
        '--state-dir',
        stateDir,
        'dashboard',
        '--lab',
        lab,
      ]);
      const s = server;
      assert.ok(await s.waitFor(/#token=[0-9a-f]{32}/, 20_000), s.stderr || s.stdout);
      const [, base = '', token = ''] =
        /(http:\/\/127\.0\.0\.1:\d+\/)#token=([0-9a-f]{32})/.exec(s.stdout) ?? [];
      const tokenFile = join(stateDir, `${lab}.dashboard.token`);
      assert.ok(existsSync(tokenFile));
      const api = apiClient(base, token);

      feed = subscribe(base, token);
      const f = feed;
      const snap = await firstSnapshot(f, 10_000);
      assert.deepEqual(
        snap.nodes.map((n) => `${n.name}@${n.host}`),
        ['A@h1', 'T1@h1', 'S1@h1', 'T2@h2', 'S2@h2', 'T3@h3', 'S3@h3'],
      );
      assert.deepEqual(
        snap.flows.map((x) => `${x.address}→${x.responder}`),
        ['fe00::1→S1'],
      );
      const status = await until('a status with three hosts in line', 15_000, () => {
        const last = f.events.filter((e) => e.type === 'status').pop();
        return last?.type === 'status' &&
          last.status.hosts.every((h) => h.lease === 'held' && h.lag === 0)
          ? last.status
          : undefined;
      });
      assert.deepEqual(
        status.hosts.map((h) => h.name),
        ['h1', 'h2', 'h3'],
      );
      assert.deepEqual(status.drift, []);

      // A swap from the page's API: logged from its answer, the flows with it.
      const swap = await api({ verb: 'swap' });
      assert.equal(swap.status, 200, JSON.stringify(swap.reply));
      const own = await until('the page swap logged', 5_000, () =>
        f.events.find((e) => e.type === 'migration'),
      );
      assert.ok(own.type === 'migration');
      assert.deepEqual([own.row.from, own.row.to, own.row.source], ['S1', 'S2', 'daemon']);
      assert.ok((own.row.totalMs ?? 0) > 0);

      // A swap from the CLI: seen once host 1 applied it.
      const viaCli = await cli(['swap', '--lab', lab], { stateDir });
      assert.equal(viaCli.code, 0, viaCli.stderr);
      const outside = await until('the CLI swap logged', 5_000, () =>
        f.events.find((e) => e.type === 'migration' && e.row.source === 'outside'),
      );
      assert.ok(outside.type === 'migration');
      assert.deepEqual([outside.row.from, outside.row.to], ['S2', 'S3']);
      const rows = f.events.filter((e) => e.type === 'migration');
      assert.equal(rows.length, 2, 'each swap logged once');

      // The responder to the client: refused, nothing changed.
      const bad = await api({ verb: 'migrate', flow: 'fe00::1', node: 'A', end: 'responder' });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.reply), /A is a client/);
      const flows = await api({ verb: 'flows' });
      assert.match(JSON.stringify(flows.reply), /"responder":"S3"/);

      const metrics = await (await fetch(`${base}metrics`)).text();
      assert.match(
        metrics,
        /flowmig_migrations_total\{result="ok",path="none",tcp_policy="reset"\} 2/,
      );
      assert.match(
        metrics,
        /flowmig_migrations_total\{result="invalid",path="none",tcp_policy="reset"\} 1/,
      );

      feed.close();
      const exit = await s.stop('SIGINT', 5_000);
      assert.equal(exit.code, 0, s.stderr);
      assert.equal(existsSync(tokenFile), false);
    } finally {
      feed?.close();
      await server?.stop('SIGKILL', 1_000);
      await cli(['down', '--lab', lab], { stateDir }).catch(() => undefined);
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
    assert.deepEqual(await namespacesWith(prefix), []);
  });
});
