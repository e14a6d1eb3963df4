// Which etcd members a call may go to (src/etcd/health.ts), against fake pool hosts whose channels
// report a gRPC connectivity state, on a clock the test moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GRPC_READY,
  isSilence,
  MemberHealth,
  MemberSkipped,
  type PoolHost,
  SUSPECT_MS,
} from '../../src/etcd/health.js';

const IDLE = 0;
const CONNECTING = 1;

/** A pool host whose one cached channel is in `state`; records asks to connect. */
function member(host: string, state: number | undefined) {
  const asked: boolean[] = [];
  const channel = {
    getConnectivityState(tryToConnect: boolean) {
      asked.push(tryToConnect);
      return f.state ?? IDLE;
    },
  };
  const service = { getChannel: () => channel };
  const f = {
    host,
    closed: false,
    state,
    asked,
    get cachedServices() {
      return f.state === undefined ? {} : { KV: service };
    },
    getServiceClient: () => service,
  };
  return f;
}

function setup(states: (number | undefined)[]) {
  let now = 1_000;
  const hosts = states.map((s, i) => member(`[fd00:fab::${i + 1}]:2379`, s));
  const health = new MemberHealth(
    () => hosts as unknown as PoolHost[],
    () => now,
  );
  return {
    hosts,
    health,
    name: (i: number) => hosts[i]?.host ?? '',
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const deadline = new Error(
  '4 DEADLINE_EXCEEDED: Deadline exceeded after 0.599s,Waiting for LB pick',
);

describe('MemberHealth', () => {
  it('skips a member whose channel is not ready while another is ready', () => {
    const { health, name } = setup([GRPC_READY, CONNECTING, GRPC_READY]);
    assert.equal(health.skip(name(0)), false);
    assert.equal(health.skip(name(1)), true);
    assert.equal(health.skip(name(2)), false);
  });

  it('skips no member when none is ready (one must be tried), and asks each to connect', () => {
    const { health, hosts, name } = setup([CONNECTING, IDLE, undefined]);
    for (let i = 0; i < 3; i++) assert.equal(health.skip(name(i)), false);
    for (const h of hosts) assert.ok(h.asked.includes(true), `${h.host} asked to connect`);
  });

  it('a member that went silent is skipped for SUSPECT_MS unless it answers', () => {
    const { health, name, advance } = setup([GRPC_READY, GRPC_READY, GRPC_READY]);
    health.failed(name(2), deadline);
    assert.equal(health.skip(name(2)), true, 'ready, but its last call went unanswered');
    advance(SUSPECT_MS + 1);
    assert.equal(health.skip(name(2)), false, 'tried again after SUSPECT_MS');
    health.failed(name(2), deadline);
    health.answered(name(2));
    assert.equal(health.skip(name(2)), false, 'an answer clears it');
  });

  it("a call's own failure does not make its member suspect", () => {
    const { health, name } = setup([GRPC_READY, GRPC_READY, GRPC_READY]);
    health.failed(
      name(0),
      new Error('11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted'),
    );
    assert.equal(health.skip(name(0)), false);
  });

  it('when every member is suspect or down, none is skipped', () => {
    const { health, name } = setup([GRPC_READY, CONNECTING, CONNECTING]);
    health.failed(name(0), new Error('14 UNAVAILABLE: etcdserver: no leader'));
    for (let i = 0; i < 3; i++) assert.equal(health.skip(name(i)), false);
  });

  it('a closed member is not usable', () => {
    const { health, hosts, name } = setup([GRPC_READY, GRPC_READY, GRPC_READY]);
    const first = hosts[0];
    assert.ok(first);
    first.closed = true;
    assert.equal(health.skip(name(0)), true);
  });
});

describe('isSilence', () => {
  it('no answer, a dropped or refused connection, no leader: the member could not serve', () => {
    for (const m of [
      '4 DEADLINE_EXCEEDED: Deadline exceeded after 1.195s,LB pick: 0.005s,remote_addr=[fd00:fab::3]:2379',
      '14 UNAVAILABLE: Connection dropped',
      '14 UNAVAILABLE: No connection established. Last error: connect EHOSTUNREACH',
      '14 UNAVAILABLE: etcdserver: no leader',
      '14 UNAVAILABLE: etcdserver: request timed out',
    ])
      assert.equal(isSilence(new Error(m)), true, m);
  });

  it("the request's own failure, and a skip, are not", () => {
    assert.equal(
      isSilence(new Error('3 INVALID_ARGUMENT: etcdserver: too many operations')),
      false,
    );
    assert.equal(isSilence(new MemberSkipped('[fd00:fab::1]:2379')), false);
  });
});
