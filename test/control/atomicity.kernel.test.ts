// Atomicity under load: thousands of swaps while new connections hammer the flow; no packet may
// pass the translator untranslated. Also: the agent dies or hangs, and commands notice and say so.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Background, sleep } from '../../src/experiment/process.js';
import { ENGINE_VARIANTS, FIXTURES, pathOf, runner, withLab } from '../kernel-support/lab.js';

/** A test-owned table in the translator that counts packets still addressed to fe00::1 after NAT. */
const PROBE = `table ip6 fmprobe {
  chain pre { type filter hook prerouting priority 0; policy accept; ip6 daddr fe00::1 counter; }
  chain post { type filter hook postrouting priority 300; policy accept; ip6 daddr fe00::1 counter; }
}
`;

async function probeCounts(netns: string): Promise<number> {
  const out = (await runner.run(['nft', '-j', 'list', 'table', 'ip6', 'fmprobe'], { netns }))
    .stdout;
  const doc = JSON.parse(out) as {
    nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
  };
  let n = 0;
  for (const item of doc.nftables)
    for (const e of item.rule?.expr ?? []) n += e.counter?.packets ?? 0;
  return n;
}

const SWAPS: Record<string, number> = {
  'nftables (in-process)': 10_000,
  'nftables (agent)': 1_000,
  // The programs take ~40 ms per swap: fewer swaps keep the suite short.
  'nftables (programs)': 60,
  iptables: 60,
};

for (const variant of ENGINE_VARIANTS) {
  const swaps = SWAPS[variant.name] ?? 300;
  describe(`atomicity under load: ${variant.name}`, () => {
    it(`${swaps} swaps while a sender opens new connections: nothing leaves NAT untranslated`, async () => {
      await withLab(
        undefined,
        async ({ fm, lab, ns }) => {
          await runner.run(['nft', '-f', '-'], { netns: ns('B'), stdin: PROBE });
          const burst = Background.start(
            // A new connection every ~0.3 ms: many land inside every swap's commit.
            [
              process.execPath,
              join(FIXTURES, 'udp-burst.mjs'),
              'fe00::1',
              '5555',
              '600000',
              '3000',
            ],
            { netns: ns('A') },
          );
          try {
            await sleep(300);
            const paths = new Set<string>();
            const notes = new Set<string>();
            for (let i = 0; i < swaps; i++) {
              const r = await fm.swap(lab.id);
              paths.add(r.path);
              if (r.note) notes.add(r.note);
            }
            await burst.stop('SIGTERM');
            const sent = Number(burst.stdout.trim());
            assert.ok(sent > 1000, `the sender sent (${sent})`);
            assert.deepEqual([...paths], [pathOf(variant)], [...notes].join('; '));
            assert.equal(
              await probeCounts(ns('B')),
              0,
              'packets to fe00::1 passed NAT untranslated',
            );
            const status = await fm.status(lab.id);
            assert.equal(status.migrations, swaps);
            assert.ok(status.flows.every((f) => f.inSync));
          } finally {
            await burst.stop('SIGKILL');
          }
        },
        { engine: variant.engine, agent: variant.agent, inProcess: variant.inProcess },
      );
    });
  });
}

describe('the agent dies or hangs', () => {
  /** These test the agent path itself: the in-process path (tried first by default) is off. */
  const AGENT_PATH = { inProcess: false };

  it('a killed agent is noticed, restarted, and the command says so', async () => {
    await withLab(
      undefined,
      async ({ fm, lab }) => {
        const s = await fm.status(lab.id);
        if (s.controlPath.kind !== 'agent')
          assert.fail(`no agent: ${JSON.stringify(s.controlPath)}`);
        process.kill(s.controlPath.pid, 'SIGKILL');
        await sleep(100);
        const dead = await fm.status(lab.id);
        assert.equal(dead.controlPath.kind, 'programs');
        assert.match(JSON.stringify(dead.controlPath), /not running/);
        const r = await fm.swap(lab.id);
        assert.equal(r.path, 'agent', r.note);
        assert.match(r.note ?? '', /not running; restarted it \(pid \d+\)/);
        const again = await fm.status(lab.id);
        assert.equal(again.controlPath.kind, 'agent');
        assert.ok(again.flows.every((f) => f.inSync));
      },
      AGENT_PATH,
    );
  });

  it('a hung agent makes the command fall back within seconds, and the next one restarts it', async () => {
    await withLab(
      undefined,
      async ({ fm, lab }) => {
        const s = await fm.status(lab.id);
        if (s.controlPath.kind !== 'agent')
          assert.fail(`no agent: ${JSON.stringify(s.controlPath)}`);
        const pid = s.controlPath.pid;
        process.kill(pid, 'SIGSTOP');
        try {
          const t0 = Date.now();
          const r = await fm.swap(lab.id);
          assert.ok(Date.now() - t0 < 6_000, 'the command did not hang');
          assert.equal(r.path, 'programs');
          assert.match(r.note ?? '', /agent failed .*used the programs instead/);
          const next = await fm.swap(lab.id);
          assert.equal(next.path, 'agent');
          assert.match(next.note ?? '', /restarted it/);
          const st = await fm.status(lab.id);
          assert.deepEqual(
            st.flows.map((f) => [f.responder, f.inSync]),
            [['C', true]],
          );
        } finally {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already stopped by the fallback
          }
        }
      },
      AGENT_PATH,
    );
  });
});
