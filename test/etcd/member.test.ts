// An etcd member as data: its command line, paths and markers, and every problem of a bad one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import {
  dataDirOf,
  ETCD_MARKER,
  type EtcdMember,
  etcdUrl,
  FAST_TIMING,
  logFileOf,
  markersOf,
  memberArgv,
  memberProblems,
} from '../../src/etcd/member.js';

const cluster = [
  { name: 'h1', peerUrl: 'http://[fd00:fab::1]:2380' },
  { name: 'h2', peerUrl: 'http://[fd00:fab::2]:2380' },
  { name: 'h3', peerUrl: 'http://[fd00:fab::3]:2380' },
];
const h2: EtcdMember = {
  name: 'h2',
  dir: '/run/flowmig/lab1/etcd',
  peerUrl: 'http://[fd00:fab::2]:2380',
  clientUrls: ['http://[fd00:fab::2]:2379', 'http://127.0.0.1:2379'],
  cluster,
  state: 'new',
  token: 'lab1',
  netns: 'lab1-h2',
};

/** The value after `flag` in argv. */
const flag = (argv: readonly string[], name: string) => argv[argv.indexOf(name) + 1];

describe('etcdUrl', () => {
  it('brackets IPv6 in canonical form, leaves IPv4 as it is, refuses the rest', () => {
    assert.equal(etcdUrl('FD00:FAB:0::1', 2379), 'http://[fd00:fab::1]:2379');
    assert.equal(etcdUrl('127.0.0.1', 23_791), 'http://127.0.0.1:23791');
    assert.throws(() => etcdUrl('host.example', 2379), InputError);
    assert.throws(() => etcdUrl('127.0.0.1', 0), /port 0 is not 1-65535/);
  });
});

describe('memberArgv', () => {
  it('writes a member of a new cluster with fast elections, its marker and token', () => {
    const argv = memberArgv(h2);
    assert.equal(argv[0], 'etcd');
    assert.equal(flag(argv, '--name'), 'h2');
    assert.equal(flag(argv, ETCD_MARKER), 'lab1');
    assert.equal(flag(argv, '--data-dir'), '/run/flowmig/lab1/etcd/h2.etcd');
    assert.equal(flag(argv, '--listen-peer-urls'), 'http://[fd00:fab::2]:2380');
    assert.equal(flag(argv, '--initial-advertise-peer-urls'), 'http://[fd00:fab::2]:2380');
    assert.equal(
      flag(argv, '--listen-client-urls'),
      'http://[fd00:fab::2]:2379,http://127.0.0.1:2379',
    );
    assert.equal(flag(argv, '--advertise-client-urls'), flag(argv, '--listen-client-urls'));
    assert.equal(
      flag(argv, '--initial-cluster'),
      'h1=http://[fd00:fab::1]:2380,h2=http://[fd00:fab::2]:2380,h3=http://[fd00:fab::3]:2380',
    );
    assert.equal(flag(argv, '--initial-cluster-state'), 'new');
    assert.equal(flag(argv, '--heartbeat-interval'), String(FAST_TIMING.heartbeatMs));
    assert.equal(flag(argv, '--election-timeout'), String(FAST_TIMING.electionMs));
    assert.ok(argv.includes('--pre-vote'));
    // No shell: every value is its own word, none quoted.
    assert.ok(argv.every((a) => !/["' ]/.test(a)));
  });

  it('joins an existing cluster with the timing given', () => {
    const argv = memberArgv({
      ...h2,
      state: 'existing',
      timing: { heartbeatMs: 100, electionMs: 1_000 },
    });
    assert.equal(flag(argv, '--initial-cluster-state'), 'existing');
    assert.equal(flag(argv, '--heartbeat-interval'), '100');
    assert.equal(flag(argv, '--election-timeout'), '1000');
  });

  it('names every problem of a bad description at once', () => {
    const bad: EtcdMember = {
      ...h2,
      name: 'h 2',
      token: 'lab/1',
      peerUrl: 'https://[fd00:fab::2]:2380',
      clientUrls: [],
      cluster: [...cluster, { name: 'h1', peerUrl: 'http://[fd00:fab::9]:2380' }],
      timing: { heartbeatMs: 100, electionMs: 200 },
    };
    const problems = memberProblems(bad);
    assert.deepEqual(problems, [
      'member name "h 2" is not a name',
      'cluster token "lab/1" is not a name',
      'no client URL',
      '"https://[fd00:fab::2]:2380" is not an http://address:port URL',
      'the initial cluster does not name h 2',
      'the initial cluster names h1 twice',
      'election timeout 200 ms must be at least 5 heartbeats (100 ms)',
    ]);
    assert.throws(
      () => memberArgv(bad),
      (e: unknown) => e instanceof InputError && e.problems.length === problems.length,
    );
  });

  it('refuses a member whose peer URL differs from its entry in the initial cluster', () => {
    assert.deepEqual(memberProblems({ ...h2, peerUrl: 'http://[fd00:fab::2]:2390' }), [
      'the initial cluster gives h2 peer URL http://[fd00:fab::2]:2380, not http://[fd00:fab::2]:2390',
    ]);
  });
});

describe('member paths and markers', () => {
  it('keeps data and log inside the given directory, and marks by token and name', () => {
    assert.equal(dataDirOf(h2), '/run/flowmig/lab1/etcd/h2.etcd');
    assert.equal(logFileOf(h2), '/run/flowmig/lab1/etcd/h2.log');
    const argv = memberArgv(h2);
    for (const m of markersOf(h2)) assert.ok(argv.includes(m), m);
    assert.deepEqual(markersOf(h2), [ETCD_MARKER, 'lab1', '--name', 'h2']);
  });
});
