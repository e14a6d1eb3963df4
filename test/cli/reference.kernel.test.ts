// The reference notes' commands, verbatim, against the default lab built by `flowmig up --detach`.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { Background, sleep } from '../../src/experiment/process.js';
import { cli, namespacesWith, runner, tempStateDir } from '../kernel-support/lab.js';

const NAMES = ['A', 'B', 'C', 'D'];

/** Starts a command exactly as a person would type it in another terminal. */
function typed(line: string, stdin = false): Background {
  return Background.start(line.split(' '), { stdin });
}

for (const engine of ['nftables', 'iptables']) {
  describe(`the reference notes, verbatim, against the default lab (engine ${engine})`, () => {
    let stateDir = '';
    const started: Background[] = [];
    const swap = async () => {
      const r = await cli(['swap'], { stateDir });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };

    before(async () => {
      const taken = (await runner.run(['ip', 'netns', 'list'])).stdout
        .split('\n')
        .map((l) => l.split(' ')[0])
        .filter((n) => n !== undefined && NAMES.includes(n));
      assert.deepEqual(
        taken,
        [],
        `namespaces ${taken.join(',')} exist on this machine: this test needs A-D free`,
      );
      stateDir = await tempStateDir();
      const up = await cli(['up', '--detach', '--engine', engine], { stateDir });
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /lab default is up/);
    });

    after(async () => {
      await Promise.all(started.map((b) => b.stop('SIGKILL')));
      const down = await cli(['down'], { stateDir });
      await rm(stateDir, { recursive: true, force: true });
      assert.equal(down.code, 0, down.stderr);
      const left = (await namespacesWith('')).filter((n) => NAMES.includes(n));
      assert.deepEqual(left, [], 'down removed A-D');
    });

    it('ip netns exec A ping fe00::1 is answered', async () => {
      const ping = typed('ip netns exec A ping fe00::1');
      started.push(ping);
      assert.ok(
        await ping.waitFor(/bytes from fe00::1: icmp_seq=2/, 5_000),
        ping.stdout + ping.stderr,
      );
      await ping.stop('SIGINT');
      assert.match(ping.stdout, /0% packet loss/);
    });

    it('tcpdump in C sees the echo requests, and in D after a swap', async () => {
      const watch = async (node: string) => {
        const dump = typed(`ip netns exec ${node} tcpdump`);
        started.push(dump);
        await sleep(1_000); // tcpdump needs a moment to attach
        const ping = Background.start(['ping', '-c', '5', '-i', '0.05', 'fe00::1'], { netns: 'A' });
        await ping.exited;
        // libpcap hands packets over in blocks, at the latest after its 1 s buffer timeout.
        await sleep(1_500);
        await dump.stop('SIGINT');
        return dump.stdout;
      };
      const inC = await watch('C');
      assert.match(inC, /IP6 fe00::1 > fc01::1: ICMP6, echo request/);
      assert.match(await swap(), /fe00::1: C → D/);
      const inD = await watch('D');
      assert.match(inD, /IP6 fe00::1 > fc02::2: ICMP6, echo request/);
      assert.match(await swap(), /fe00::1: D → C/);
    });

    it('ncat UDP: what A sends to fe00::1 reaches C, then D after a swap, then C again', async () => {
      const c = typed('ip netns exec C ncat -u -l fc01::1 5555', true);
      const d = typed('ip netns exec D ncat -u -l fc02::2 5555', true);
      started.push(c, d);
      await sleep(300);
      const a = typed('ip netns exec A ncat -u fe00::1 5555', true);
      started.push(a);
      a.write('first to C\n');
      assert.ok(await c.waitFor('first to C', 3_000), 'C received the first datagram');
      await swap();
      a.write('second to D\n');
      assert.ok(await d.waitFor('second to D', 3_000), 'D received after the swap');
      await swap();
      a.write('third to C\n');
      assert.ok(await c.waitFor('third to C', 3_000), 'C received after swapping back');
      assert.ok(!c.stdout.includes('second to D') && !d.stdout.includes('first to C'));
      await Promise.all([a, c, d].map((b) => b.stop()));
    });

    it('ncat TCP: the client in A is terminated by a swap (the reference observation)', async () => {
      const c = typed('ip netns exec C ncat -l fc01::1 5556', true);
      const d = typed('ip netns exec D ncat -l fc02::2 5556', true);
      started.push(c, d);
      await sleep(300);
      const a = typed('ip netns exec A ncat fe00::1 5556', true);
      started.push(a);
      a.write('hello C\n');
      assert.ok(await c.waitFor('hello C', 3_000), 'the connection works before the swap');
      await swap();
      a.write('are you there\n');
      const ended = await Promise.race([a.exited.then(() => true), sleep(5_000).then(() => false)]);
      assert.ok(ended, 'the TCP client ended after the swap');
      const exit = await a.exited;
      assert.notEqual(exit.code, 0, 'ncat exits with an error');
      assert.match(a.stderr, /reset/i);
      assert.ok(!d.stdout.includes('are you there'), 'D has no socket for the old connection');
      await swap(); // back to C for the next test
      await Promise.all([c, d].map((b) => b.stop()));
    });

    it('flowmig status --json, migrate and flows act on the lab from another process', async () => {
      const toC = await cli(['migrate', 'fe00::1', 'C'], { stateDir });
      assert.equal(toC.code, 0, toC.stderr);
      const s = await cli(['status', '--json'], { stateDir });
      assert.equal(s.code, 0, s.stderr);
      const status = JSON.parse(s.stdout) as {
        flows: { address: string; responder: string; inSync: boolean }[];
      };
      assert.deepEqual(
        status.flows.map((f) => [f.address, f.responder, f.inSync]),
        [['fe00::1', 'C', true]],
      );
      const m = await cli(['migrate', 'fe00::1', 'D', '--json'], { stateDir });
      assert.equal(m.code, 0, m.stderr);
      assert.equal((JSON.parse(m.stdout) as { to: string }).to, 'D');
      const f = await cli(['flows'], { stateDir });
      assert.match(f.stdout, /fe00::1\s+-\s+A\s+D\s+ok \(fc02::2\)/);
      const back = await cli(['migrate', 'fe00::1', 'C'], { stateDir });
      assert.equal(back.code, 0, back.stderr);
    });
  });
}
