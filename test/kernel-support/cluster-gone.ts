// After a cluster lab went down: nothing of it is left — no namespace of its prefix, no host
// daemon, no etcd member, no file of it in the state directory.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { findMembers } from '../../src/etcd/member-process.js';
import { HOSTD_MARKER } from '../../src/hostd-api/protocol.js';
import { findByMarker } from '../../src/procs/find.js';
import { namespacesWith } from './lab.js';

export async function assertClusterGone(prefix: string, lab: string, stateDir: string) {
  assert.deepEqual(await namespacesWith(prefix), [], 'no namespace of the lab');
  assert.deepEqual(await findByMarker(HOSTD_MARKER, (x) => x === lab), [], 'no host daemon');
  assert.deepEqual(await findMembers(lab), [], 'no etcd member');
  const left = (await readdir(stateDir)).filter((f) => f.startsWith(lab));
  assert.deepEqual(left, [], 'no file of the lab in the state directory');
}
