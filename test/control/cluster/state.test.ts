// The cluster state file (schema, 0600, write by rename, damage), and the lab listings that must
// not take it for a single-host lab.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isClusterLab } from '../../../src/control/cluster/down.js';
import {
  clusterStatePath,
  readClusterState,
  removeClusterState,
  StateWriter,
  writeClusterState,
} from '../../../src/control/cluster/state.js';
import { labsPresent } from '../../../src/control/presence.js';
import type { Runner } from '../../../src/exec/runner.js';
import { clusterLabIds, labIds, pickLab } from '../../../src/state/lab-ids.js';
import { DamagedStateError, StateStore } from '../../../src/state/store.js';
import { removeDir, tempDir } from '../../support/tmp.js';
import { sampleState } from './sample.js';

/** A runner that sees no namespace (presence reads `ip netns list` first). */
const noNamespaces: Runner = { run: async () => ({ stdout: '', stderr: '' }) } as unknown as Runner;

describe('the cluster state file', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('cluster-state');
  });
  afterEach(async () => removeDir(dir));

  it('is <id>.cluster.json, 0600, and reads back what was written', async () => {
    const state = await sampleState();
    await writeClusterState(dir, state);
    assert.equal(clusterStatePath(dir, state.id), join(dir, 'fmu-three.cluster.json'));
    assert.equal((await stat(clusterStatePath(dir, state.id))).mode & 0o777, 0o600);
    assert.deepEqual(await readClusterState(dir, state.id), state);
    // Written through a temporary file renamed over it: nothing else is left.
    assert.deepEqual(await readdir(dir), ['fmu-three.cluster.json']);
    await removeClusterState(dir, state.id);
    assert.equal(await readClusterState(dir, state.id), undefined);
  });

  it('is damaged when it is not JSON, fails the schema, or names another lab', async () => {
    const path = clusterStatePath(dir, 'fmu-three');
    const good = await sampleState();
    for (const text of [
      '{"kind":"cluster", "id": ',
      JSON.stringify({ ...good, kind: 'lab' }),
      JSON.stringify({ ...good, members: [{ name: 'etcd1', pid: -1 }] }),
      JSON.stringify({ ...good, id: 'fmu-other' }),
    ]) {
      await writeFile(path, text);
      await assert.rejects(readClusterState(dir, 'fmu-three'), DamagedStateError);
    }
  });

  it('keeps the last of several writes made side by side (StateWriter)', async () => {
    const state = await sampleState();
    const writer = new StateWriter(dir, state);
    const writes: Promise<void>[] = [];
    for (let pid = 100; pid < 110; pid++) {
      state.members.push({ name: `m${pid}`, pid });
      writes.push(writer.save());
    }
    await Promise.all(writes);
    assert.equal((await readClusterState(dir, state.id))?.members.length, 11);
  });
});

describe('lab listings beside a cluster lab', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('cluster-list');
  });
  afterEach(async () => removeDir(dir));

  it('labIds skips <id>.cluster.json; clusterLabIds lists it', async () => {
    await writeClusterState(dir, await sampleState());
    await writeFile(join(dir, 'fmu-default.json'), '{}');
    assert.deepEqual(await labIds(dir), ['fmu-default']);
    assert.deepEqual(await clusterLabIds(dir), ['fmu-three']);
    assert.deepEqual(await new StateStore(dir).list(), ['fmu-default']);
  });

  it('pickLab takes the only lab of either kind, and asks for --lab with two', async () => {
    await writeClusterState(dir, await sampleState());
    assert.equal(await pickLab(dir, undefined), 'fmu-three');
    await writeFile(join(dir, 'fmu-default.json'), '{}');
    await assert.rejects(pickLab(dir, undefined), /several labs are up \(fmu-default, fmu-three\)/);
    assert.equal(await pickLab(dir, 'fmu-three'), 'fmu-three');
  });

  it('presence lists a cluster lab as such, with its own state file', async () => {
    await writeClusterState(dir, await sampleState());
    const labs = await labsPresent(new StateStore(dir), noNamespaces);
    assert.deepEqual(labs, [
      {
        id: 'fmu-three',
        state: 'ok',
        stateFile: join(dir, 'fmu-three.cluster.json'),
        namespaces: [],
        processes: [],
        here: true,
        kind: 'cluster',
      },
    ]);
  });

  it('presence says a damaged cluster state file is damaged', async () => {
    await writeFile(clusterStatePath(dir, 'fmu-three'), 'not json');
    const [lab] = await labsPresent(new StateStore(dir), noNamespaces);
    assert.equal(lab?.kind, 'cluster');
    assert.equal(lab?.state, 'damaged');
  });
});

describe('isClusterLab', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await tempDir('cluster-is');
  });
  afterEach(async () => removeDir(dir));

  it('sees a cluster lab by its state file, one being written, its lock or its etcd dir', async () => {
    assert.equal(await isClusterLab(dir, 'fmu-three'), false);
    for (const name of [
      'fmu-three.cluster.json',
      'fmu-three.cluster.json.tmp',
      'fmu-three.cluster.json.lock',
      'fmu-three.etcd',
    ]) {
      await mkdir(join(dir, name));
      assert.equal(await isClusterLab(dir, 'fmu-three'), true, name);
      await rm(join(dir, name), { recursive: true });
    }
    // A single-host lab's files are not a cluster lab's.
    await writeFile(join(dir, 'fmu-three.json'), '{}');
    await mkdir(join(dir, 'fmu-three.json.lock'));
    assert.equal(await isClusterLab(dir, 'fmu-three'), false);
  });
});
