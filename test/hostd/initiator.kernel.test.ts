// A flow's initiator moved to a client on another host: its NAT moves to that host's translator,
// the other translators route its abstract address there, and the new client reaches the flow's
// responder (on a third host, then on the old ingress host) while the old client's translator
// no longer translates it; moved back, the first client reaches it again.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HostdChange, HostdStatus } from '../../src/hostd-api/protocol.js';
import { ROOT, runner } from '../kernel-support/lab.js';
import { withCluster } from './cluster.js';

/** The three-host example with a second client, B, on host 2, and the flow served by S3. */
async function twoClientLab(dir: string): Promise<string> {
  let text = await readFile(join(ROOT, 'examples', 'three-hosts.yaml'), 'utf8');
  const edits: [string, string][] = [
    [
      '      - { name: T2, role: translator }',
      '      - { name: B, role: client }\n      - { name: T2, role: translator }',
    ],
    [
      '      - { node: S2, address: fc02::1/64, translatorAddress: fc02::ff/64 }',
      '      - { node: B, address: fc12::1/64, translatorAddress: fc12::ff/64 }\n      - { node: S2, address: fc02::1/64, translatorAddress: fc02::ff/64 }',
    ],
    [
      '{ address: fe00::1, initiator: A, responder: S1 }',
      '{ address: fe00::1, initiator: A, responder: S3 }',
    ],
  ];
  for (const [from, to] of edits) {
    assert.ok(text.includes(from), from);
    text = text.replace(from, to);
  }
  const file = join(dir, 'two-clients.yaml');
  await writeFile(file, text);
  return file;
}

/** 20 pings from `netns` to the flow: how many were answered. */
async function answered(netns: string): Promise<number> {
  const r = await runner.run(['ping', '-n', '-c', '20', '-i', '0.01', '-W', '1', 'fe00::1'], {
    netns,
    okExitCodes: [0, 1],
  });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? -1);
}

describe('a flow whose initiator moves to another host', () => {
  it('its NAT moves with it: the new client reaches the responder, the old one no longer; and back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowmig-initiator-'));
    try {
      await withCluster(await twoClientLab(dir), async ({ cluster, ask, caughtUp }) => {
        const ns = (name: string) => cluster.nodes.find((n) => n.name === name)?.netns ?? '';
        for (const h of ['h1', 'h2', 'h3']) await caughtUp(h);
        const ingress = async () =>
          Object.fromEntries(
            await Promise.all(
              ['h1', 'h2', 'h3'].map(async (h) => [
                h,
                (await ask<HostdStatus>(h, { verb: 'status' })).ingress,
              ]),
            ),
          );
        assert.equal(await answered(ns('A')), 20, 'A reaches S3 through T1');

        const toB = await ask<HostdChange>('h3', { verb: 'migrate', flow: 'fe00::1', node: 'B' });
        assert.equal(toB.changed, true);
        assert.deepEqual(toB.moves, [{ flow: 'fe00::1', from: 'A', to: 'B' }]);
        assert.deepEqual(toB.appliedBy, ['h1', 'h2', 'h3']);
        assert.deepEqual(await ingress(), { h1: 0, h2: 1, h3: 0 });
        assert.equal(await answered(ns('B')), 20, 'B reaches S3 through T2');
        assert.equal(await answered(ns('A')), 0, 'T1 no longer translates the flow for A');

        // A responder on the old ingress host: its answers are routed to T2 now.
        const toS1 = await ask<HostdChange>('h1', { verb: 'migrate', flow: 'fe00::1', node: 'S1' });
        assert.deepEqual(toS1.moves, [{ flow: 'fe00::1', from: 'S3', to: 'S1' }]);
        assert.equal(await answered(ns('B')), 20, 'B reaches S1 on host 1');

        const back = await ask<HostdChange>('h2', { verb: 'migrate', flow: 'fe00::1', node: 'A' });
        assert.deepEqual(back.moves, [{ flow: 'fe00::1', from: 'B', to: 'A' }]);
        assert.deepEqual(await ingress(), { h1: 1, h2: 0, h3: 0 });
        assert.equal(await answered(ns('A')), 20, 'A reaches S1 again');
        const again = await ask<HostdChange>('h1', { verb: 'migrate', flow: 'fe00::1', node: 'A' });
        assert.equal(again.changed, false, 'A is the initiator already');
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
