// SPEC invariants 1, 2, 3 and 8 against real namespaces: order, isolation, atomicity, containment.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConntrackList } from '../../src/engines/conntrack.js';
import { Background, sleep } from '../../src/experiment/process.js';
import { delta, NetnsCounters, type Snmp6 } from '../../src/experiment/snmp6.js';
import { ENGINE_VARIANTS, FIXTURES, runner, TWO_FLOW_LAB, withLab } from '../kernel-support/lab.js';

/**
 * UDP accounting from counters read in B, C and D before and after a burst: datagrams that reached
 * each server (delivered or refused for lack of a socket), and datagrams B could not route (an
 * untranslated datagram to fe00::1 has no route in B, which answers "no route" itself).
 */
function tally(before: readonly Snmp6[], after: readonly Snmp6[]) {
  const [b0 = {}, c0 = {}, d0 = {}] = before;
  const [b1 = {}, c1 = {}, d1 = {}] = after;
  const udp = (x0: Snmp6, x1: Snmp6) =>
    delta(x0, x1, 'Udp6InDatagrams') + delta(x0, x1, 'Udp6NoPorts');
  return {
    reached: { C: udp(c0, c1), D: udp(d0, d1) },
    unrouted: delta(b0, b1, 'Icmp6OutDestUnreachs'),
  };
}

for (const variant of ENGINE_VARIANTS) {
  const options = { engine: variant.engine, agent: variant.agent, inProcess: variant.inProcess };
  describe(`SPEC invariants on a real lab: ${variant.name}`, () => {
    it('1. rule first, then conntrack: after a migrate returns, the old responder gets no more requests', async () => {
      await withLab(
        undefined,
        async ({ fm, lab, ns }) => {
          const c = await NetnsCounters.open(ns('C'));
          const d = await NetnsCounters.open(ns('D'));
          const ping = Background.start(['ping', '-q', '-i', '0.00001', 'fe00::1'], {
            netns: ns('A'),
          });
          try {
            await sleep(300);
            for (let i = 0; i < 15; i++) {
              const r = await fm.swap(lab.id);
              const old = r.from === 'C' ? c : d;
              const fresh = r.from === 'C' ? d : c;
              // Requests already in flight when the swap returned arrive within microseconds.
              await sleep(20);
              const oldBefore = await old.read();
              const freshBefore = await fresh.read();
              await sleep(100);
              const oldAfter = await old.read();
              const freshAfter = await fresh.read();
              assert.equal(
                delta(oldBefore, oldAfter, 'Icmp6InEchos'),
                0,
                `swap ${i + 1}: ${r.from} still received requests after the swap to ${r.to}`,
              );
              assert.ok(
                delta(freshBefore, freshAfter, 'Icmp6InEchos') > 100,
                `swap ${i + 1}: ${r.to} receives the flow`,
              );
            }
          } finally {
            await ping.stop('SIGINT');
            await c.close();
            await d.close();
          }
        },
        options,
      );
    });

    it("2. only the migrated flow's conntrack entries are deleted (two flows)", async () => {
      await withLab(
        TWO_FLOW_LAB,
        async ({ fm, lab, ns }) => {
          // Every DESTROY event the translator's conntrack emits while we migrate flow one. Started
          // first: the kernel attaches event delivery to an entry only if a listener exists when the
          // entry is created (nf_conntrack_events=2).
          const events = Background.start(['conntrack', '-E', '-e', 'DESTROY', '-f', 'ipv6'], {
            netns: ns('B'),
          });
          await sleep(300);
          const p1 = Background.start(['ping', '-q', '-i', '0.001', 'fe00::1'], { netns: ns('A') });
          const p2 = Background.start(['ping', '-q', '-i', '0.001', 'fe00::2'], { netns: ns('A') });
          try {
            await sleep(500);
            const before = parseConntrackList(
              (await runner.run(['conntrack', '-L', '-f', 'ipv6'], { netns: ns('B') })).stdout,
            );
            assert.ok(
              before.some((e) => e.origDst === 'fe00::2'),
              'flow two has an entry',
            );
            let deleted = 0;
            for (let i = 0; i < 10; i++) {
              const r = await fm.swap(lab.id, 'one');
              deleted += r.conntrackDeleted;
              await sleep(30);
            }
            await sleep(300);
            await events.stop('SIGINT');
            const destroyed = parseConntrackList(events.stdout);
            assert.ok(deleted >= 10, `each swap deleted flow one's entry (${deleted})`);
            assert.ok(
              destroyed.length >= 10,
              `the event monitor saw the deletions: ${events.stdout}${events.stderr}`,
            );
            assert.deepEqual(
              destroyed.filter((e) => e.origDst !== 'fe00::1'),
              [],
              'no entry of another flow was destroyed',
            );
            const flows = await fm.flows(lab.id);
            assert.equal(
              flows.find((f) => f.address === 'fe00::2')?.responder,
              'D',
              'flow two stays',
            );
          } finally {
            await events.stop('SIGKILL');
            await p1.stop('SIGINT');
            await p2.stop('SIGINT');
          }
        },
        options,
      );
    });

    it('3. a flow is never without a mapping: new connections during 60 swaps are all translated', async () => {
      await withLab(
        undefined,
        async ({ fm, lab, ns }) => {
          const counters = await Promise.all(['B', 'C', 'D'].map((n) => NetnsCounters.open(ns(n))));
          try {
            const before = await Promise.all(counters.map((c) => c.read()));
            // Each datagram comes from a new socket: a new conntrack entry that consults the rules.
            const burst = Background.start(
              [
                process.execPath,
                join(FIXTURES, 'udp-burst.mjs'),
                'fe00::1',
                '5555',
                '30000',
                '5000',
              ],
              { netns: ns('A') },
            );
            // The burst runs until the 60 swaps are done (at most 30 s: slow swaps on a busy
            // machine must not make the test measure fewer).
            // At least 1 s of it: the fast path does 60 swaps in well under that.
            let swaps = 0;
            const started = Date.now();
            while (burst.running && (swaps < 60 || Date.now() - started < 1_000)) {
              await fm.swap(lab.id);
              swaps++;
            }
            await burst.stop('SIGTERM', 5_000);
            const exit = await burst.exited;
            assert.equal(exit.code, 0, burst.stderr);
            await sleep(200);
            const after = await Promise.all(counters.map((c) => c.read()));
            const sent = Number(burst.stdout.trim());
            const { reached, unrouted } = tally(before, after);
            assert.ok(swaps >= 40, `enough swaps happened during the burst (${swaps})`);
            assert.ok(sent > 1000, `the burst sent datagrams (${sent})`);
            assert.equal(unrouted, 0, 'no datagram reached the translator without a mapping');
            assert.equal(reached.C + reached.D, sent, 'every datagram reached C or D');
            assert.ok(reached.C > 0 && reached.D > 0, 'both servers got datagrams');
          } finally {
            await Promise.all(counters.map((c) => c.close()));
          }
        },
        options,
      );
    });

    // Once per engine: the two-step change runs nft or ip6tables itself, whatever the control path.
    if (ENGINE_VARIANTS.find((v) => v.engine === variant.engine) === variant)
      it('3 (control). the reference two-step rule change does leave new connections unmapped', async () => {
        // Shows invariant 3's test can fail: delete the rule, then add the new one, as run.sh did.
        await withLab(
          undefined,
          async ({ ns }) => {
            const counters = await Promise.all(
              ['B', 'C', 'D'].map((n) => NetnsCounters.open(ns(n))),
            );
            try {
              const before = await Promise.all(counters.map((c) => c.read()));
              const burst = Background.start(
                [process.execPath, join(FIXTURES, 'udp-burst.mjs'), 'fe00::1', '5555', '3000'],
                { netns: ns('A') },
              );
              let to = 'fc01::1';
              while (burst.running) {
                const next = to === 'fc01::1' ? 'fc02::2' : 'fc01::1';
                if (variant.engine === 'iptables') {
                  const rule = (t: string) => [
                    '-s',
                    'fc00::1/128',
                    '-d',
                    'fe00::1/128',
                    '-j',
                    'DNAT',
                    '--to-destination',
                    t,
                  ];
                  await runner.run(
                    ['ip6tables', '-w', '-t', 'nat', '-D', 'FLOWMIG-DNAT', ...rule(to)],
                    {
                      netns: ns('B'),
                    },
                  );
                  await runner.run(
                    ['ip6tables', '-w', '-t', 'nat', '-A', 'FLOWMIG-DNAT', ...rule(next)],
                    {
                      netns: ns('B'),
                    },
                  );
                } else {
                  const map = ['ip6', 'flowmig', 'dnat_to'];
                  const key = 'fc00::1 . fe00::1';
                  await runner.run(['nft', 'delete', 'element', ...map, `{ ${key} }`], {
                    netns: ns('B'),
                  });
                  await runner.run(['nft', 'add', 'element', ...map, `{ ${key} : ${next} }`], {
                    netns: ns('B'),
                  });
                }
                to = next;
              }
              await sleep(200);
              const after = await Promise.all(counters.map((c) => c.read()));
              const sent = Number(burst.stdout.trim());
              const { reached, unrouted } = tally(before, after);
              assert.ok(unrouted > 0, 'B reported untranslated datagrams');
              assert.ok(reached.C + reached.D < sent, 'some datagrams reached neither server');
            } finally {
              await Promise.all(counters.map((c) => c.close()));
            }
          },
          options,
        );
      });

    it('8. traffic stays inside the lab: no route out of the translator, no link in the host', async () => {
      const hostLinks = async () =>
        (await runner.run(['ip', '-o', 'link', 'show'])).stdout
          .split('\n')
          .map((l) => l.split(':')[1]?.trim())
          .filter(Boolean)
          .sort();
      const hostBefore = await hostLinks();
      await withLab(
        undefined,
        async ({ ns }) => {
          assert.deepEqual(await hostLinks(), hostBefore, 'up created no interface in the host');
          const routes = (await runner.run(['ip', '-6', 'route', 'show'], { netns: ns('B') }))
            .stdout;
          assert.doesNotMatch(routes, /^default/m, 'the translator has no default route');
          for (const n of ['A', 'C', 'D']) {
            const r = (await runner.run(['ip', '-6', 'route', 'show', 'default'], { netns: ns(n) }))
              .stdout;
            assert.match(
              r,
              new RegExp(`^default via fc0[0-2]::[12] dev ${n}-B`),
              `${n} routes via B`,
            );
          }
        },
        options,
      );
    });
  });
}
