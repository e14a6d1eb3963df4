// The order of a live TCP move and its rollback, with fake server runtimes and a fake translator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConnectionFailure,
  type MovingConnection,
  moveConnections,
  type ServerRuntime,
  type TranslatorPort,
} from '../../src/control/live-tcp.js';
import type { TcpSocketState } from '../../src/tcp-repair/types.js';

const socket = (port: number, address = 'fc01::1'): TcpSocketState => ({
  version: 1,
  local: { address, port: 5555 },
  peer: { address: 'fe00::1', port },
  sendSeq: 1000,
  recvSeq: 2000,
  sendQueue: '',
  unsent: 0,
  recvQueue: '',
  mss: 1440,
  timestamp: 1,
  window: { sndWl1: 0, sndWnd: 0, maxWindow: 0, rcvWnd: 0, rcvWup: 0 },
  options: 7,
  sndWscale: 7,
  rcvWscale: 7,
});

interface FakeOptions {
  readonly ids?: readonly string[];
  /** Ids that never get ready (a slow reader). */
  readonly slow?: readonly string[];
  /** Ids whose restore fails here. */
  readonly restoreFails?: readonly string[];
  readonly restoreThrows?: string;
  readonly checkpointThrows?: string;
}

function fakeRuntime(name: string, log: string[], o: FakeOptions = {}): ServerRuntime {
  const conn = (id: string): MovingConnection => ({
    id,
    socket: socket(40_000 + id.length),
    app: { id },
    pendingInput: '',
  });
  const split = (ids: readonly string[]) => ({
    ready: ids.filter((id) => !o.slow?.includes(id)),
    failed: ids
      .filter((id) => o.slow?.includes(id))
      .map((id): ConnectionFailure => ({ id, reason: '64 KiB still queued (slow reader)' })),
  });
  return {
    prepare: async (peer) => {
      log.push(`${name}.prepare ${peer}`);
      return split(o.ids ?? []);
    },
    prepareIds: async (ids) => {
      log.push(`${name}.prepareIds ${ids.join(',')}`);
      return split(ids);
    },
    checkpoint: async (ids) => {
      log.push(`${name}.checkpoint ${ids.join(',')}`);
      if (o.checkpointThrows) throw new Error(o.checkpointThrows);
      return { connections: ids.map(conn), failed: [] };
    },
    restore: async (connections, address) => {
      log.push(`${name}.restore ${connections.map((c) => c.id).join(',')} at ${address}`);
      if (o.restoreThrows) throw new Error(o.restoreThrows);
      const ids = connections.map((c) => c.id);
      return {
        restored: ids.filter((id) => !o.restoreFails?.includes(id)),
        failed: ids
          .filter((id) => o.restoreFails?.includes(id))
          .map((id) => ({ id, reason: 'bind: Cannot assign requested address' })),
      };
    },
    resume: async (ids) => {
      log.push(`${name}.resume ${ids.join(',')}`);
      return [];
    },
    abort: async (ids) => {
      log.push(`${name}.abort ${ids.join(',')}`);
    },
  };
}

function fakeTranslator(log: string[], switchThrows?: string): TranslatorPort {
  return {
    hold: async () => {
      log.push('hold');
    },
    switchOver: async () => {
      log.push('switch');
      // Fails after the restore started (they run at once).
      await new Promise((r) => setImmediate(r));
      if (switchThrows) throw new Error(switchThrows);
    },
    switchBack: async () => {
      log.push('switch back');
    },
    release: async () => {
      log.push('release');
      return 3;
    },
  };
}

const options = { peerAddress: 'fe00::1', newAddress: 'fc02::2', prepareTimeoutMs: 1 };

describe('moving TCP connections with a flow', () => {
  it('holds, checkpoints, switches, restores, releases, then resumes', async () => {
    const log: string[] = [];
    const r = await moveConnections(
      fakeRuntime('C', log, { ids: ['a', 'b'] }),
      fakeRuntime('D', log),
      fakeTranslator(log),
      options,
    );
    assert.deepEqual(log, [
      'C.prepare fe00::1',
      'hold',
      'C.checkpoint a,b',
      'switch',
      'D.restore a,b at fc02::2',
      'release',
      'D.resume a,b',
    ]);
    assert.equal(r.moved, 2);
    assert.equal(r.heldPackets, 3);
    assert.equal(r.rolledBack, undefined);
    assert.deepEqual(
      r.steps.map((s) => s.name),
      ['prepare', 'hold', 'checkpoint', 'switch', 'restore', 'release', 'resume'],
    );
    for (const s of r.steps) assert.ok(s.durationMs >= 0 && s.startedAt > 0);
    assert.ok(r.totalMs >= 0);
  });

  it('with no connection to move, only switches (nothing is held)', async () => {
    const log: string[] = [];
    const r = await moveConnections(
      fakeRuntime('C', log),
      fakeRuntime('D', log),
      fakeTranslator(log),
      options,
    );
    assert.deepEqual(log, ['C.prepare fe00::1', 'switch']);
    assert.equal(r.moved, 0);
    assert.equal(r.totalMs, 0);
  });

  it('retries a connection that is not ready, then reports it and moves the others', async () => {
    const log: string[] = [];
    const r = await moveConnections(
      fakeRuntime('C', log, { ids: ['a', 'slow'], slow: ['slow'] }),
      fakeRuntime('D', log),
      fakeTranslator(log),
      { ...options, retries: 2 },
    );
    assert.deepEqual(log.slice(0, 4), [
      'C.prepare fe00::1',
      'C.prepareIds slow',
      'C.prepareIds slow',
      'hold',
    ]);
    assert.ok(log.includes('C.checkpoint a'));
    assert.equal(r.moved, 1);
    assert.deepEqual(
      r.failed.map((f) => f.id),
      ['slow'],
    );
    assert.match(r.failed[0]?.reason ?? '', /slow reader/);
  });

  it('a failed restore rolls back: switch back, restore on the old server, release, resume', async () => {
    const log: string[] = [];
    const r = await moveConnections(
      fakeRuntime('C', log, { ids: ['a'] }),
      fakeRuntime('D', log, { restoreThrows: 'bind to fc02::2: Cannot assign requested address' }),
      fakeTranslator(log),
      options,
    );
    assert.deepEqual(log, [
      'C.prepare fe00::1',
      'hold',
      'C.checkpoint a',
      'switch',
      'D.restore a at fc02::2',
      'switch back',
      'C.restore a at fc01::1',
      'release',
      'C.resume a',
    ]);
    assert.equal(r.moved, 0);
    assert.match(r.rolledBack ?? '', /Cannot assign requested address.*rolled back/);
  });

  it('a partly failed restore takes back what was restored before rolling back', async () => {
    const log: string[] = [];
    const r = await moveConnections(
      fakeRuntime('C', log, { ids: ['a', 'b'] }),
      fakeRuntime('D', log, { restoreFails: ['b'] }),
      fakeTranslator(log),
      options,
    );
    const at = log.indexOf('D.restore a,b at fc02::2');
    assert.deepEqual(log.slice(at + 1), [
      'D.checkpoint a',
      'switch back',
      'C.restore b,a at fc01::1',
      'release',
      'C.resume b,a',
    ]);
    assert.ok(r.rolledBack);
  });

  it('a failed checkpoint releases the flow, resumes the connections and switches nothing', async () => {
    const log: string[] = [];
    await assert.rejects(
      moveConnections(
        fakeRuntime('C', log, { ids: ['a'], checkpointThrows: 'TCP_REPAIR: EPERM' }),
        fakeRuntime('D', log),
        fakeTranslator(log),
        options,
      ),
      /EPERM/,
    );
    assert.ok(!log.includes('switch'));
    assert.deepEqual(log.slice(-2), ['C.abort a', 'release']);
  });

  it('a failed switch drops the copies on the new server and brings the connections home', async () => {
    const log: string[] = [];
    await assert.rejects(
      moveConnections(
        fakeRuntime('C', log, { ids: ['a'] }),
        fakeRuntime('D', log),
        fakeTranslator(log, 'nft: transaction failed'),
        options,
      ),
      /transaction failed/,
    );
    assert.deepEqual(log, [
      'C.prepare fe00::1',
      'hold',
      'C.checkpoint a',
      'switch',
      'D.restore a at fc02::2',
      'D.abort a',
      'C.restore a at fc01::1',
      'C.resume a',
      'release',
    ]);
  });
});
