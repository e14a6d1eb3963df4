// Classifying failed etcd calls, on the error shapes etcd3 1.1.2 produced against etcd 3.4.23
// (captured from real calls: a refused port, a cluster with 2 of 3 members SIGKILLed, ...).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { castGrpcError } from 'etcd3';
import { FlowmigError } from '../../src/errors.js';
import {
  classifyFailure,
  EtcdCallError,
  isAvailabilityFailure,
  quorumOf,
} from '../../src/etcd/errors.js';

/** A gRPC error as grpc-js rejects with it, cast by etcd3 the way its connection pool does. */
const grpc = (code: number, message: string) =>
  castGrpcError(Object.assign(new Error(message), { code }));

const captured = {
  refused: grpc(
    14,
    '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ',
  ),
  deadline: grpc(
    4,
    '4 DEADLINE_EXCEEDED: Deadline exceeded after 1.197s,remote_addr=127.0.0.1:41919',
  ),
  memberDeadline: grpc(2, '2 UNKNOWN: context deadline exceeded'),
  noLeader: grpc(14, '14 UNAVAILABLE: etcdserver: no leader'),
  timedOut: grpc(14, '14 UNAVAILABLE: etcdserver: request timed out'),
  compacted: grpc(11, '11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted'),
  tooMany: grpc(3, '3 INVALID_ARGUMENT: etcdserver: too many operations in txn request'),
};
const three = ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'];

describe('isAvailabilityFailure', () => {
  it('counts members after a deadline, a refused connection, no leader, a timed-out request', () => {
    const shapes = [
      captured.refused,
      captured.deadline,
      captured.memberDeadline,
      captured.noLeader,
      captured.timedOut,
    ];
    for (const e of shapes) {
      assert.equal(isAvailabilityFailure(e), true, e.message);
    }
  });

  it('reports the call’s own failures as they are', () => {
    for (const e of [captured.compacted, captured.tooMany, new Error('bug')]) {
      assert.equal(isAvailabilityFailure(e), false, e.message);
    }
  });
});

describe('classifyFailure', () => {
  it('says "no quorum" with the count when fewer than a quorum answer', () => {
    const e = classifyFailure('put', captured.deadline, three, 1);
    assert.ok(e instanceof FlowmigError && e instanceof EtcdCallError);
    assert.equal(e.message, 'etcd has no quorum: 1 of 3 members answer');
    assert.equal(e.kind, 'no-quorum');
    assert.equal(e.cause, captured.deadline);
    assert.equal(
      classifyFailure('put', captured.noLeader, [...three, 'x', 'y'], 2).message,
      'etcd has no quorum: 2 of 5 members answer',
    );
  });

  it('says "cannot reach" with the endpoints when none answers', () => {
    const e = classifyFailure('put', captured.refused, ['http://127.0.0.1:1'], 0);
    assert.equal(e.kind, 'unreachable');
    assert.match(
      e.message,
      /^cannot reach etcd at http:\/\/127\.0\.0\.1:1: 14 UNAVAILABLE: .*ECONNREFUSED 127\.0\.0\.1:1/,
    );
    assert.equal(
      classifyFailure('put', captured.deadline, three, 0).message.split(':')[0],
      'cannot reach etcd at http',
    );
  });

  it('blames the call when a quorum answers, and says so', () => {
    const e = classifyFailure('migrate', captured.deadline, three, 2);
    assert.equal(e.kind, 'failed');
    assert.match(
      e.message,
      /^etcd migrate failed: 4 DEADLINE_EXCEEDED: .* \(2 of 3 members answer\)$/,
    );
  });

  it('passes the call’s own failure through on one line when nothing was probed', () => {
    const e = classifyFailure('txn', captured.tooMany, three, undefined);
    assert.equal(e.kind, 'failed');
    assert.equal(
      e.message,
      'etcd txn failed: 3 INVALID_ARGUMENT: etcdserver: too many operations in txn request',
    );
    assert.equal(
      classifyFailure('x', new Error('a\n  b'), three, undefined).message,
      'etcd x failed: a b',
    );
  });

  it('takes more than half as a quorum', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(quorumOf), [1, 2, 2, 3, 3]);
  });
});
