// An etcd member inside a network namespace of its own (as a lab host runs it): started through
// `ip netns exec`, waited for with etcdctl run in there, found by its token, stopped by PID.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { etcdUrl } from '../../src/etcd/member.js';
import {
  findMembers,
  probeMember,
  startMember,
  stopMember,
  waitHealthy,
} from '../../src/etcd/member-process.js';
import { ProcessRunner } from '../../src/exec/runner.js';
import { freePort } from './etcd-lab.js';

const runner = new ProcessRunner();

describe('a member in a namespace', () => {
  it('starts there, answers etcdctl in there only, and is stopped by PID', async () => {
    const netns = `fmt${randomBytes(3).toString('hex')}-etcd`;
    const token = `${netns}-lab`;
    const dir = await mkdtemp(join(tmpdir(), 'flowmig-etcd-'));
    await runner.run(['ip', 'netns', 'add', netns]);
    try {
      await runner.run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
      // 127.0.0.1 inside the namespace: not reachable from this one, so etcdctl probes in there.
      // The client port is one free here too, so the probe from here finds nothing else on it.
      const client = etcdUrl('127.0.0.1', await freePort());
      const peer = { name: 'e1', peerUrl: etcdUrl('127.0.0.1', 2380) };
      const running = await startMember(
        { ...peer, dir, clientUrls: [client], cluster: [peer], state: 'new', token, netns },
        { runner, timeoutMs: 15_000 },
      );
      try {
        await waitHealthy([client], { runner, netns, timeoutMs: 15_000 });
        assert.deepEqual(
          (await findMembers(token)).map((m) => m.pid),
          [running.pid],
        );
        await assert.rejects(probeMember(client, 'serving', { timeoutMs: 300 }));
      } finally {
        await stopMember(running);
      }
      assert.deepEqual(await findMembers(token), []);
    } finally {
      await runner.run(['ip', 'netns', 'delete', netns]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
