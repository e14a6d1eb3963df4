// A lab file with 3 clients, 5 servers and 20 flows: every flow is reachable from its client, each
// migrates on its own, and migrating one never disturbs another (ping on all 20 while they move).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { parsePingSummary } from '../../src/experiment/ping.js';
import { Background, sleep } from '../../src/experiment/process.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { ROOT, withLab } from '../kernel-support/lab.js';

const FILE = join(ROOT, 'examples', 'twenty-flows.yaml');

for (const engine of ['nftables', 'iptables'] as const) {
  describe(`20 flows, 3 clients, 5 servers (${engine})`, () => {
    it('ping on all 20 flows while each migrates in turn: no error, no loss, all in sync', async (t) => {
      const description = parse(await readFile(FILE, 'utf8')) as LabDescriptionInput;
      await withLab(
        description,
        async ({ fm, lab, ns }) => {
          assert.equal(lab.flows.length, 20);
          const pings = lab.flows.map((f) =>
            Background.start(['ping', '-q', '-i', '0.01', f.address], { netns: ns(f.initiator) }),
          );
          try {
            await sleep(500);
            const servers = lab.nodes.filter((n) => n.role === 'server').map((n) => n.name);
            // Each flow moves to the next server, one after the other, twice round.
            for (let round = 0; round < 2; round++) {
              for (const f of (await fm.flows(lab.id)).slice()) {
                const next = servers[(servers.indexOf(f.responder) + 1) % servers.length] ?? '';
                const r = await fm.migrate(lab.id, f.address, next);
                assert.equal(r.to, next);
                await sleep(20);
              }
            }
            await sleep(500);
            const summaries = await Promise.all(
              pings.map(async (p) => {
                await p.stop('SIGINT');
                return parsePingSummary(p.stdout);
              }),
            );
            const sent = summaries.reduce((n, s) => n + (s?.transmitted ?? 0), 0);
            const lost = summaries.reduce(
              (n, s) => n + ((s?.transmitted ?? 0) - (s?.received ?? 0)),
              0,
            );
            t.diagnostic(
              `${engine}: 40 migrations, ${sent} echo requests on 20 flows, ${lost} lost`,
            );
            summaries.forEach((s, i) => {
              const f = lab.flows[i]?.address;
              assert.ok(s, `ping on ${f} printed statistics`);
              assert.equal(s.errors, 0, `errors on ${f}`);
              assert.ok(s.transmitted > 50, `ping on ${f} ran (${s.transmitted})`);
              assert.equal(s.transmitted - s.received, 0, `lost on ${f}`);
            });
            const status = await fm.status(lab.id);
            assert.deepEqual(status.drift, []);
            assert.ok(status.flows.every((f) => f.inSync));
            // Two rounds over 5 servers: each flow is two servers on from where it started.
            for (const f of status.flows) {
              const start = lab.flows.find((x) => x.address === f.address)?.responder ?? '';
              assert.equal(f.responder, servers[(servers.indexOf(start) + 2) % servers.length]);
            }
          } finally {
            for (const p of pings) await p.stop('SIGKILL');
          }
        },
        { engine },
      );
    });
  });
}
