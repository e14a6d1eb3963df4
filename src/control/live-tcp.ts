// Moves a flow's TCP connections with the flow (policy `migrate`): hold → checkpoint → switch →
// restore → release → resume, each step timestamped, rolled back to the old server if the restore
// fails. The ports are interfaces (server runtimes, the translator), so the order and the rollback
// are tested with fakes; live-move.ts plugs in the real ones (flowmig serve, the hold table).
import { nowMs } from '../exec/execute.js';
import type { MigratingConnection } from '../serve/protocol.js';

export interface ConnectionFailure {
  readonly id: string;
  readonly reason: string;
}

/** A checkpointed connection on its way: its socket and its application's state. */
export type MovingConnection = MigratingConnection;

/** A server runtime (flowmig serve) as the orchestration uses it. */
export interface ServerRuntime {
  /** Quiesces the connections whose peer is `peerAddress` (see serve/runtime.ts). */
  prepare(
    peerAddress: string,
    timeoutMs: number,
  ): Promise<{ ready: readonly string[]; failed: readonly ConnectionFailure[] }>;
  /** Quiesces exactly these connections again (a retry). */
  prepareIds(
    ids: readonly string[],
    timeoutMs: number,
  ): Promise<{ ready: readonly string[]; failed: readonly ConnectionFailure[] }>;
  checkpoint(
    ids: readonly string[],
  ): Promise<{ connections: readonly MovingConnection[]; failed: readonly ConnectionFailure[] }>;
  restore(
    connections: readonly MovingConnection[],
    localAddress: string,
  ): Promise<{ restored: readonly string[]; failed: readonly ConnectionFailure[] }>;
  /** Lets restored (or taken back) connections speak; resolves with those that could not. */
  resume(ids: readonly string[]): Promise<readonly ConnectionFailure[]>;
  abort(ids: readonly string[]): Promise<void>;
}

/** The translator's part: hold and release the flow's TCP packets, switch the mapping. */
export interface TranslatorPort {
  hold(): Promise<void>;
  /** The flow's ordinary migration: rule change, conntrack delete, late-table release. */
  switchOver(): Promise<void>;
  /** Back to the old responder (rollback). */
  switchBack(): Promise<void>;
  /** Resolves with how many held packets went on (undefined: not known, e.g. dropped). */
  release(): Promise<number | undefined>;
}

export interface LiveStep {
  readonly name:
    | 'prepare'
    | 'hold'
    | 'checkpoint'
    | 'switch'
    | 'restore'
    | 'release'
    | 'resume'
    | 'rollback';
  /** Epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly detail?: string;
}

export interface LiveTcpResult {
  /** Connections now served by the new responder. */
  readonly moved: number;
  /** Connections that could not be moved, and why (they were reset by the migration). */
  readonly failed: readonly ConnectionFailure[];
  /** Set when the restore failed and everything went back to the old responder. */
  readonly rolledBack: string | undefined;
  /** Packets held during the move and then let go (undefined when not counted). */
  readonly heldPackets: number | undefined;
  /** hold → resume, ms (0 when nothing was held). */
  readonly totalMs: number;
  /**
   * Bytes the moved sockets carried in their kernel queues: sent but not yet acknowledged, never
   * sent, and received but not yet read by the application.
   */
  readonly queued: { readonly unacked: number; readonly unsent: number; readonly unread: number };
  readonly steps: readonly LiveStep[];
}

export interface MoveOptions {
  readonly peerAddress: string;
  /** The new responder's concrete address: restored sockets bind it. */
  readonly newAddress: string;
  /** How long one prepare waits for an application's queued writes to reach the kernel. */
  readonly prepareTimeoutMs?: number;
  /** Further prepares of the connections that were not ready (a slow reader). */
  readonly retries?: number;
}

class Steps {
  readonly list: LiveStep[] = [];
  async run<T>(name: LiveStep['name'], f: () => Promise<T>, detail?: (r: T) => string): Promise<T> {
    const startedAt = nowMs();
    const r = await f();
    const d = detail?.(r);
    this.list.push({
      name,
      startedAt,
      durationMs: nowMs() - startedAt,
      ...(d ? { detail: d } : {}),
    });
    return r;
  }
}

/**
 * Moves the connections whose peer is the flow's abstract address from `from` to `to` while the
 * translator switches the flow. With nothing to move, only the switch runs. The switch happens in
 * every case but one: a failed restore, after which the flow goes back and its connections are
 * restored where they were (the caller then reports the migration as failed).
 */
export async function moveConnections(
  from: ServerRuntime,
  to: ServerRuntime,
  translator: TranslatorPort,
  options: MoveOptions,
): Promise<LiveTcpResult> {
  const steps = new Steps();
  // The kernel wakes a blocked writer only once half its send buffer is free: with a full buffer
  // and a reader at a few MB/s that takes a few hundred ms. The stream keeps flowing meanwhile
  // (only the application waits), so a long prepare costs no stall.
  const timeoutMs = options.prepareTimeoutMs ?? 250;
  // 1. Quiesce: every byte the application wrote reaches the kernel; a slow reader is retried.
  let prepared = await steps.run(
    'prepare',
    () => from.prepare(options.peerAddress, timeoutMs),
    (r) => `${r.ready.length} ready, ${r.failed.length} not`,
  );
  const ready = [...prepared.ready];
  for (let i = 0; i < (options.retries ?? 2) && prepared.failed.length > 0; i++) {
    const ids = prepared.failed.map((f) => f.id);
    prepared = await steps.run(
      'prepare',
      () => from.prepareIds(ids, timeoutMs),
      (r) => `retry: ${r.ready.length} ready, ${r.failed.length} not`,
    );
    ready.push(...prepared.ready);
  }
  const failed: ConnectionFailure[] = [...prepared.failed];
  if (ready.length === 0) {
    await steps.run('switch', () => translator.switchOver());
    return result(queuedIn([]), 0, failed, undefined, undefined, steps.list);
  }
  // 2. Hold the flow's TCP packets, so no segment reaches a server without the socket.
  try {
    await steps.run('hold', () => translator.hold());
  } catch (error) {
    await from.abort(ready);
    throw error;
  }
  let moving: readonly MovingConnection[] = [];
  let heldPackets: number | undefined;
  try {
    // 3. Checkpoint: the old sockets leave silently (closed in repair mode).
    const cp = await steps.run(
      'checkpoint',
      () => from.checkpoint(ready),
      (r) => `${r.connections.length} checkpointed`,
    );
    moving = cp.connections;
    failed.push(...cp.failed);
  } catch (error) {
    await undo(error);
  }
  // 4. Switch (the rule first, then the flow's conntrack entries) and 5. restore on the new
  // server, at once: the restored sockets stay silent and the packets held until both are done.
  const [switchError, restoring] = await Promise.all([
    steps
      .run('switch', () => translator.switchOver())
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
    steps
      .run(
        'restore',
        () => to.restore(moving, options.newAddress),
        (x) => `${x.restored.length} restored`,
      )
      .then(
        (r) => ({ r, error: undefined }),
        (e: unknown) => ({ r: undefined, error: e }),
      ),
  ]);
  if (switchError !== undefined) {
    // The flow was not switched: the copies on the new server go, the connections go home.
    const there = restoring.r?.restored ?? [];
    if (there.length > 0) await to.abort(there);
    await undo(switchError);
  }
  const restored: readonly string[] = restoring.r?.restored ?? [];
  let restoreError: string | undefined;
  if (restoring.error !== undefined) restoreError = (restoring.error as Error).message;
  else if (restoring.r?.failed.length)
    restoreError = restoring.r.failed.map((f) => `${f.id}: ${f.reason}`).join('; ');

  /** Before the switch (or when it failed): the checkpointed connections go back, then throw. */
  async function undo(error: unknown): Promise<never> {
    if (moving.length > 0) {
      const back = await from.restore(moving, moving[0]?.socket.local.address ?? '');
      if (back.restored.length > 0) await from.resume(back.restored);
    }
    const untouched = ready.filter((id) => !moving.some((c) => c.id === id));
    if (untouched.length > 0) await from.abort(untouched);
    await translator.release();
    throw error;
  }
  if (restoreError !== undefined) {
    // 5b. Rollback: take back what was restored, switch back, restore all on the old server.
    const back = await steps.run('rollback', async () => {
      const again =
        restored.length > 0 ? (await to.checkpoint(restored)).connections : ([] as const);
      const home = [...moving.filter((c) => !restored.includes(c.id)), ...again];
      await translator.switchBack();
      const r = await from.restore(home, home[0]?.socket.local.address ?? '');
      return r;
    });
    heldPackets = await steps.run('release', () => translator.release());
    failed.push(...(await steps.run('resume', () => from.resume(back.restored))));
    const lost = moving.length - back.restored.length;
    const why = `restore on the new server failed (${restoreError}); rolled back to the old one${lost > 0 ? ` (${lost} connection(s) lost)` : ''}`;
    return result(queuedIn([]), 0, failed, why, heldPackets, steps.list);
  }
  // 6. Release the held packets (they meet the new mapping), 7. let the new sockets speak.
  heldPackets = await steps.run(
    'release',
    () => translator.release(),
    (n) => (n === undefined ? 'held packets were dropped' : `${n} packet(s)`),
  );
  const unresumed = await steps.run('resume', () => to.resume(restored));
  failed.push(...unresumed);
  return result(
    queuedIn(moving.filter((c) => restored.includes(c.id))),
    restored.length - unresumed.length,
    failed,
    undefined,
    heldPackets,
    steps.list,
  );
}

function result(
  queued: LiveTcpResult['queued'],
  moved: number,
  failed: readonly ConnectionFailure[],
  rolledBack: string | undefined,
  heldPackets: number | undefined,
  steps: readonly LiveStep[],
): LiveTcpResult {
  const hold = steps.find((s) => s.name === 'hold');
  const end = Math.max(...steps.map((s) => s.startedAt + s.durationMs));
  const totalMs = hold ? end - hold.startedAt : 0;
  // In the order they started (switch and restore run at once, and may end the other way).
  const ordered = [...steps].sort((a, b) => a.startedAt - b.startedAt);
  return { moved, failed, rolledBack, heldPackets, totalMs, queued, steps: ordered };
}

const b64Bytes = (b64: string) => Buffer.byteLength(b64, 'base64');

/** The kernel queue bytes of the connections that moved (see LiveTcpResult.queued). */
function queuedIn(connections: readonly MovingConnection[]): LiveTcpResult['queued'] {
  let unacked = 0;
  let unsent = 0;
  let unread = 0;
  for (const c of connections) {
    const send = b64Bytes(c.socket.sendQueue);
    unsent += c.socket.unsent;
    unacked += send - c.socket.unsent;
    unread += b64Bytes(c.socket.recvQueue);
  }
  return { unacked, unsent, unread };
}
