// The native netlink addon against the kernel, in a namespace this test owns: synchronous
// answers, dumps, timeouts, event draining and watching, and sockets made in another namespace.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { netnsPath } from '../../src/control/in-process.js';
import { messages, NETLINK_NETFILTER, NLMSG_DONE } from '../../src/netlink/codec.js';
import { dumpRequest, NFNLGRP_CONNTRACK_NEW } from '../../src/netlink/conntrack.js';
import { type NetlinkAddon, netlinkAddon } from '../../src/netlink/native.js';
import {
  conntrackLinesTo,
  removeNamespacesWith,
  runner,
  uniquePrefix,
} from '../kernel-support/lab.js';

const prefix = uniquePrefix();
const ns = `${prefix}nl`;

function addon(): NetlinkAddon {
  const loaded = netlinkAddon();
  if (!loaded.ok)
    assert.fail(`the netlink addon must be built (npm run build:native): ${loaded.reason}`);
  return loaded.addon;
}

/** A 20-byte nfnetlink batch begin or end message (no acknowledgement asked). */
function batchMark(type: number, seq: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(1, 6); // NLM_F_REQUEST
  b.writeUInt32LE(seq, 8);
  b.writeUInt16BE(10, 18); // res_id NFNL_SUBSYS_NFTABLES
  return b;
}

/** A map to edit, and a rule that turns connection tracking on in the namespace. */
const TABLE = `table ip6 fmtnl {
  map m { type ipv6_addr : ipv6_addr; elements = { fe00::1 : fc01::1 } }
  chain out { type filter hook output priority 0; ct state new counter; }
}
`;

describe('native netlink addon', () => {
  before(async () => {
    await runner.run(['ip', 'netns', 'add', ns]);
    await runner.run(['ip', 'link', 'set', 'lo', 'up'], { netns: ns });
    await runner.run(['nft', '-f', '-'], { netns: ns, stdin: TABLE });
  });
  after(async () => {
    await removeNamespacesWith(prefix);
  });

  it('dumps the conntrack table of the namespace the socket was made in', () => {
    const a = addon();
    const fd = a.open(NETLINK_NETFILTER, netnsPath(ns), 1 << 20, 1 << 20, []);
    try {
      const datagrams = a.dump(fd, dumpRequest(7), 7, 2_000);
      const all = datagrams.flatMap((d) => [...messages(d)]);
      assert.ok(
        all.some((m) => m.type === NLMSG_DONE && m.seq === 7),
        'the dump ends with DONE',
      );
    } finally {
      a.close(fd);
    }
  });

  it('answers within the call; an unanswered sequence times out with ETIMEDOUT', () => {
    const a = addon();
    const fd = a.open(NETLINK_NETFILTER, netnsPath(ns), 1 << 20, 1 << 20, []);
    try {
      // A batch with nothing in it asks for no acknowledgement: waiting for seq 2 must time out.
      const empty = Buffer.concat([batchMark(0x10, 1), batchMark(0x11, 2)]);
      const t0 = performance.now();
      assert.throws(
        () => a.transact(fd, empty, Uint32Array.of(2), 100),
        (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT' && /1 of 1 answers/.test(e.message),
      );
      const waited = performance.now() - t0;
      assert.ok(waited >= 90 && waited < 2_000, `waited ${waited} ms`);
    } finally {
      a.close(fd);
    }
  });

  it('bad arguments are TypeErrors; a missing namespace is an ENOENT error and changes nothing', () => {
    const a = addon();
    const own = statSync('/proc/thread-self/ns/net').ino;
    assert.throws(() => a.open(NETLINK_NETFILTER, `/run/netns/${prefix}none`, 0, 0, []), {
      code: 'ENOENT',
    });
    assert.equal(statSync('/proc/thread-self/ns/net').ino, own, 'still in its own namespace');
    assert.throws(() => a.transact(-1 as number, 'x' as unknown as Buffer, new Uint32Array(), 1), {
      name: 'TypeError',
    });
    assert.throws(() => a.transact(0, Buffer.alloc(0), [1] as unknown as Uint32Array, 1), {
      name: 'TypeError',
    });
  });

  it('watch calls back on conntrack events; drain reads what is queued without waiting', async () => {
    const a = addon();
    const fd = a.open(NETLINK_NETFILTER, netnsPath(ns), 1 << 20, 0, [NFNLGRP_CONNTRACK_NEW]);
    let calls = 0;
    const seen: Buffer[] = [];
    const handle = a.watch(fd, () => {
      calls++;
      seen.push(...a.drain(fd).datagrams);
    });
    try {
      assert.deepEqual(a.drain(fd), { datagrams: [], overrun: false });
      // Traffic to the namespace's own loopback makes a conntrack entry there.
      await runner.run(['ping', '-6', '-c', '1', '-W', '1', '::1'], { netns: ns });
      const deadline = Date.now() + 2_000;
      while (seen.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      assert.ok(calls >= 1 && seen.length >= 1, `callbacks ${calls}, datagrams ${seen.length}`);
    } finally {
      a.unwatch(handle);
      a.close(fd);
    }
  });

  it('an Agent made for another namespace edits maps there, not here', async () => {
    const agent = await Agent.start({ netns: netnsPath(ns) });
    try {
      assert.equal(agent.stats.netlink, 'native');
      await agent.edit('fmtnl', [
        { map: 'm', remove: [['fe00::1']], add: [['fe00::1', 'fc02::2']] },
      ]);
      const listed = (await runner.run(['nft', 'list', 'map', 'ip6', 'fmtnl', 'm'], { netns: ns }))
        .stdout;
      assert.match(listed, /fe00::1 : fc02::2/);
      const here = await runner.run(['nft', 'list', 'table', 'ip6', 'fmtnl']).then(
        () => 'present',
        () => 'absent',
      );
      assert.equal(here, 'absent', 'the host namespace has no such table');
    } finally {
      agent.close();
    }
  });

  it('a lazy Agent indexes conntrack from its first migration, follows DESTROY events, and again after standby', async () => {
    const pingLo = () => runner.run(['ping', '-6', '-c', '1', '-W', '1', '::1'], { netns: ns });
    const migrate = () =>
      agent.apply({ table: 'fmtnl', edits: [], conntrack: [{ address: '::1' }] });
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 2_000;
      while (!ok()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const agent = await Agent.start({ netns: netnsPath(ns), lazyIndex: true });
    try {
      assert.equal(agent.stats.indexing, false);
      await pingLo();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(agent.stats.events, 0, 'no event followed before the first migration');
      const first = await migrate();
      assert.equal(first.lookup, 'dump');
      assert.ok(first.deleted >= 1, `deleted ${first.deleted}`);
      assert.deepEqual(await conntrackLinesTo(ns, '::1'), []);
      assert.equal(agent.stats.indexing, true);

      await pingLo();
      const second = await migrate();
      assert.deepEqual([second.lookup, second.deleted], ['index', 1]);

      // An entry deleted by someone else leaves the index through its DESTROY event.
      await pingLo();
      await until('the NEW event', () => agent.index.size === 1);
      await runner.run(['conntrack', '-D', '-f', 'ipv6', '-d', '::1'], { netns: ns });
      await until('the DESTROY event', () => agent.index.size === 0);

      agent.standby();
      assert.deepEqual([agent.stats.indexing, agent.index.size], [false, 0]);
      await pingLo();
      const again = await migrate();
      assert.deepEqual([again.lookup, again.deleted], ['dump', 1]);
      assert.deepEqual(await conntrackLinesTo(ns, '::1'), []);
    } finally {
      agent.close();
    }
  });

  it('an entry re-made with the same tuple after each migration is deleted by each one', async () => {
    // The same UDP source port each time: every entry has the tuple of the one deleted before it
    // (and often its CTA_ID too). An index that handled the old entry's DESTROY event after the
    // new entry's NEW event would forget the new one, and the migration would leave it in place.
    // Sent synchronously, right after a migration: the event loop gets no turn in between, so the
    // deleted entry's DESTROY event and the new entry's NEW event are both queued when it reads.
    const send = () =>
      execFileSync('ip', [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-e',
        "const s = require('dgram').createSocket('udp6'); s.bind(40123, '::1', () => s.send('x', 9, '::1', () => s.close()));",
      ]);
    const agent = await Agent.start({ netns: netnsPath(ns) });
    try {
      const deleted: number[] = [];
      send();
      for (let i = 0; i < 12; i++) {
        await new Promise((r) => setTimeout(r, 20)); // the event loop reads the events meanwhile
        const r = await agent.apply({
          table: 'fmtnl',
          edits: [],
          conntrack: [{ address: '::1' }],
        });
        send();
        deleted.push(r.deleted);
      }
      // ICMPv6 port unreachable answers are RELATED to the UDP entry: one entry per datagram.
      assert.deepEqual(deleted, Array(12).fill(1));
    } finally {
      agent.close();
    }
  });
});
