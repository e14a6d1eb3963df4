// Direct acknowledgements between host daemons: the message's strict check (what a peer may say,
// and from where), the merge of peers' and etcd's applied revisions a change waits on, and the
// listener over real sockets on ::1 (bad lines dropped and logged, the connection served on).
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { LagError } from '../../src/cluster/errors.js';
import { AppliedRevisions } from '../../src/hostd/applied.js';
import {
  checkPeerMessage,
  encodePeerMessage,
  type PeerExpect,
} from '../../src/hostd/peer-message.js';
import { PeerAcks, peerExpect } from '../../src/hostd/peers.js';
import { type HostView, hostView } from '../../src/hostd/view.js';
import { loadCluster } from '../../src/lab/cluster-load.js';
import { ROOT } from '../kernel-support/lab.js';

const until = async (what: string, ok: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('checkPeerMessage', () => {
  let h1: HostView;
  let expect: PeerExpect;
  before(async () => {
    const cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), {
      prefix: 't1-',
    });
    h1 = hostView(cluster, 'h1');
    expect = peerExpect(h1);
  });

  it('knows every other host of the lab by its fabric address', () => {
    assert.equal(expect.self, 'h1');
    assert.deepEqual(
      [...expect.peers],
      [
        ['h2', 'fd00:fab::2'],
        ['h3', 'fd00:fab::3'],
      ],
    );
  });

  it('takes a peer speaking for itself from its fabric address (any spelling of it)', () => {
    const line = encodePeerMessage({ lab: h1.lab, host: 'h2', applied: 42 });
    assert.ok(line.endsWith('\n'));
    const value = JSON.parse(line);
    assert.deepEqual(checkPeerMessage(value, 'fd00:fab::2', expect), {
      message: { lab: h1.lab, host: 'h2', applied: 42 },
    });
    assert.ok('message' in checkPeerMessage(value, 'FD00:FAB:0:0::2', expect));
    const want = JSON.parse(encodePeerMessage({ lab: h1.lab, host: 'h3', want: 10_000 }));
    assert.deepEqual(checkPeerMessage(want, 'fd00:fab::3', expect), {
      message: { lab: h1.lab, host: 'h3', want: 10_000 },
    });
  });

  it('drops what a host may not say or a peer may not be', () => {
    const ok = { lab: h1.lab, host: 'h2', applied: 42 };
    const from = 'fd00:fab::2';
    const cases: [unknown, string | undefined, RegExp][] = [
      [{ ...ok, lab: 'other' }, from, /lab other, not /],
      [{ ...ok, host: 'h1' }, 'fd00:fab::1', /host h1 is this host/],
      [{ ...ok, host: 'h9' }, from, /host h9 is not a host of/],
      [ok, 'fd00:fab::3', /host h2 spoken for from fd00:fab::3, not fd00:fab::2/],
      [ok, '127.0.0.1', /spoken for from 127\.0\.0\.1/],
      [ok, undefined, /spoken for from nowhere/],
      [{ ...ok, applied: -1 }, from, /malformed: applied:/],
      [{ ...ok, applied: 1.5 }, from, /malformed: applied:/],
      [{ ...ok, applied: '42' }, from, /malformed: applied:/],
      [{ ...ok, extra: 1 }, from, /malformed: /],
      [{ lab: h1.lab, host: 'h2' }, from, /malformed: applied:/],
      [[ok], from, /malformed: message:/],
      [null, from, /malformed: /],
      [{ ...ok, host: 'x'.repeat(64) }, from, /malformed: host:/],
      [{ lab: h1.lab, host: 'h2', want: 0 }, from, /malformed: want:/],
      [{ lab: h1.lab, host: 'h2', want: 3_600_000 }, from, /malformed: want:/],
      [{ ...ok, want: 1_000 }, from, /malformed: /],
      [{ lab: h1.lab, host: 'h3', want: 1_000 }, from, /host h3 spoken for from fd00:fab::2/],
    ];
    for (const [value, source, why] of cases) {
      const r = checkPeerMessage(value, source, expect);
      assert.ok('error' in r, `${JSON.stringify(value)} from ${source} was taken`);
      assert.match(r.error, why);
    }
  });
});

describe('AppliedRevisions', () => {
  it('keeps the highest revision per host, whichever source said it', () => {
    const a = new AppliedRevisions();
    a.heard('h2', 10, 'etcd');
    a.heard('h2', 12, 'peer');
    a.heard('h2', 11, 'etcd'); // a late, coalesced key write: behind what the peer said
    assert.equal(a.of('h2'), 12);
    a.heard('h2', 15, 'etcd'); // a peer whose channel is down: etcd still moves it on
    assert.equal(a.of('h2'), 15);
    assert.equal(a.of('h3'), undefined);
  });

  it('a wait resolves once every host reached the revision, each with when and how it was learned', async () => {
    const a = new AppliedRevisions();
    a.heard('h1', 20, 'self');
    const waiting = a.wait(20, ['h1', 'h2', 'h3', 'h2'], 2_000);
    a.heard('h2', 19, 'peer'); // not there yet
    a.heard('h2', 20, 'peer');
    a.heard('h3', 25, 'etcd');
    a.heard('h3', 26, 'peer'); // already reached: its first word counts
    const acks = await waiting;
    assert.deepEqual(
      acks.map((x) => [x.host, x.via]),
      [
        ['h1', 'before'],
        ['h2', 'peer'],
        ['h3', 'etcd'],
      ],
    );
    const at = acks.map((x) => x.at);
    assert.ok(
      at.every((t, i) => i === 0 || t >= (at[i - 1] ?? 0)),
      `in order: ${at}`,
    );
  });

  it('a wait already met resolves at once; one for nobody too', async () => {
    const a = new AppliedRevisions();
    a.heard('h1', 5, 'self');
    assert.deepEqual(
      (await a.wait(4, ['h1'], 10)).map((x) => x.via),
      ['before'],
    );
    assert.deepEqual(await a.wait(4, [], 10), []);
  });

  it('a wait not met in time is a LagError naming those behind and where each stands', async () => {
    const a = new AppliedRevisions();
    a.heard('h1', 30, 'self');
    a.heard('h2', 28, 'peer');
    const error = await a.wait(30, ['h1', 'h2', 'h3'], 30).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof LagError);
    assert.deepEqual(error.lagging, [
      { host: 'h2', applied: 28 },
      { host: 'h3', applied: undefined },
    ]);
    assert.match(
      error.message,
      /revision 30 not applied within 30 ms by h2 \(at 28\), h3 \(applied none\)/,
    );
    // The waiter is gone: a later acknowledgement finds nothing to resolve and throws nothing.
    a.heard('h3', 30, 'peer');
  });
});

describe('PeerAcks over sockets', () => {
  it('an address it cannot listen on is logged and tried again, never thrown', async () => {
    const cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), {
      prefix: 't1-',
    });
    // fd00:fab::1 is on no interface here (the lab is not built): listening and dialing fail.
    const logs: string[] = [];
    const peers = PeerAcks.start({
      view: hostView(cluster, 'h1'),
      port: 1,
      log: (l) => logs.push(l),
      heard: () => assert.fail('nothing to hear'),
    });
    try {
      const cannot = () => logs.filter((l) => l.startsWith('acknowledgements: cannot listen on'));
      await until('two tries', () => cannot().length >= 2);
      assert.match(cannot()[0] ?? '', /\[fd00:fab::1\]:1 \(.*EADDRNOTAVAIL/);
      await until('a peer down', () => logs.some((l) => /^peer h2: acknowledgements down/.test(l)));
      peers.send(3);
      peers.want();
    } finally {
      await peers.close();
    }
    const n = logs.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(logs.length, n, `nothing tried after close: ${logs.slice(n).join('; ')}`);
  });

  it('hears a peer, drops and logs bad lines and what a host may not say, serves on; sends only when asked', async () => {
    const cluster = await loadCluster(join(ROOT, 'examples', 'three-hosts.yaml'), {
      prefix: 't1-',
    });
    // Every host at ::1: no namespace needed. h1 dials its peers at [::1]:port, which is its own
    // listener: what it sends itself must be dropped ("this host").
    const local = {
      ...cluster,
      hosts: cluster.hosts.map((h) => ({ ...h, fabricAddress: '::1' })),
    };
    const view = hostView(local, 'h1');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen({ host: '::1', port: 0 }, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const logs: string[] = [];
    const heard: [string, number][] = [];
    const peers = PeerAcks.start({
      view,
      port,
      log: (l) => logs.push(l),
      heard: (h, r) => heard.push([h, r]),
    });
    let client: Socket | undefined;
    try {
      await until('listening', () => logs.some((l) => l.includes('listening on [::1]')));
      client = connect({ host: '::1', port });
      await new Promise<void>((r, reject) => {
        client?.once('connect', () => r());
        client?.once('error', reject);
      });
      const got: unknown[] = [];
      let rest = '';
      client.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) got.push(JSON.parse(l));
      });
      const own = () => logs.filter((l) => /from \[::1\]: host h1 is this host/.test(l)).length;
      // Each link starts with its newest revision (0), which names the host: h1 to itself.
      await until('its own hellos dropped', () => own() === 2);
      peers.send(7); // nobody asked for it: sent to no one
      peers.want(); // asks h2 and h3, i.e. itself, on both links: each ask dropped
      await until('its own asks dropped', () => own() === 4);
      client.write('not json\n');
      client.write(`${'x'.repeat(600)}\n`);
      client.write(`${JSON.stringify({ lab: view.lab, host: 'h2', applied: '9' })}\n`);
      client.write(encodePeerMessage({ lab: view.lab, host: 'h2', applied: 9 }));
      client.write(encodePeerMessage({ lab: view.lab, host: 'h3', applied: 4 }).slice(0, 10));
      client.write(encodePeerMessage({ lab: view.lab, host: 'h3', applied: 4 }).slice(10));
      await until('both heard', () => heard.length === 2);
      // The client's connection is now known as h2's (then h3's): h1's ask goes on it too.
      await until('asked on the peer’s connection', () => got.length >= 1);
      assert.deepEqual(got[0], { lab: view.lab, host: 'h1', want: 10_000 });
      // h2 asks on that connection: h1's newest revision comes back on it at once, and the next.
      client.write(encodePeerMessage({ lab: view.lab, host: 'h2', want: 1_000 }));
      const acks = () => got.filter((m) => (m as { applied?: number }).applied !== undefined);
      await until('its newest sent to the asking peer', () => acks().length === 1);
      peers.send(8);
      await until('and the next', () => acks().length === 2);
      assert.deepEqual(acks(), [
        { lab: view.lab, host: 'h1', applied: 7 },
        { lab: view.lab, host: 'h1', applied: 8 },
      ]);
      assert.equal(own(), 4, 'nothing more went to the links');
      assert.deepEqual(heard, [
        ['h2', 9],
        ['h3', 4],
      ]);
      const dropped = logs.filter((l) => l.includes('dropped a message'));
      assert.ok(
        dropped.some((l) => l.endsWith(': not JSON')),
        dropped.join('\n'),
      );
      assert.ok(
        dropped.some((l) => l.endsWith(': line over 512 bytes')),
        dropped.join('\n'),
      );
      assert.ok(
        dropped.some((l) => /malformed: applied:/.test(l)),
        dropped.join('\n'),
      );
    } finally {
      client?.destroy();
      await peers.close();
    }
  });
});
