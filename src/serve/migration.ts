// The steps that move connections between two serve runtimes through TCP repair mode, in the order
// a controller drives them: prepare → checkpoint (old server) → restore → resume (new server), or
// abort. Each step reports per connection what it did and what failed, and never loses a byte.
import * as repair from '../tcp-repair/index.js';
import { type App, type ConnectionTable, ManagedConnection, matches } from './connections.js';
import type {
  AbortResult,
  CheckpointResult,
  ConnectionFilter,
  Failure,
  MigratingConnection,
  PrepareResult,
  RestoreResult,
  ResumeResult,
} from './protocol.js';
import { closeSilently, errorText, fitSendBuffer, pendingWrite, stopReading } from './sockets.js';

/** What the steps work on: the server's connections and its settings. */
export interface Host {
  readonly table: ConnectionTable;
  readonly app: App;
  /** The server's own address: where restored connections are bound unless told otherwise. */
  readonly address: string;
  readonly sendBufferBytes: number | undefined;
  readonly log: (message: string) => void;
}

const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;
const ms = (t: number): string => `${t.toFixed(2)} ms`;

/**
 * Step 1: quiesces the matching active connections: no more reading from the kernel, no app
 * writes, then waits until Node has handed every byte the app wrote to the kernel. Those still
 * holding bytes at the timeout (a slow reader) are reported failed and carry on here.
 */
export async function prepare(
  host: Host,
  filter: ConnectionFilter,
  options: { timeoutMs?: number } = {},
): Promise<PrepareResult> {
  const { table } = host;
  const t0 = performance.now();
  const deadline = t0 + (options.timeoutMs ?? 100);
  const failed: Failure[] = [];
  const targets: ManagedConnection[] = [];
  for (const id of filter.ids ?? []) {
    const c = table.get(id);
    if (!c) failed.push({ id, reason: 'no such connection here' });
    else if (c.phase !== 'active') failed.push({ id, reason: `connection is ${c.phase}` });
  }
  for (const c of table.values()) if (c.phase === 'active' && matches(c, filter)) targets.push(c);
  for (const c of targets) table.quiesce(c);

  const ready: string[] = [];
  await Promise.all(
    targets.map(async (c) => {
      const left = await waitFlushed(c, deadline);
      if (c.phase !== 'preparing') {
        failed.push({ id: c.id, reason: c.endReason || 'connection closed while preparing' });
      } else if (left > 0) {
        failed.push({
          id: c.id,
          reason: `${kib(left)} still queued by the application (slow reader)`,
        });
        table.unquiesce(c);
      } else {
        c.phase = 'prepared';
        ready.push(c.id);
      }
    }),
  );
  const prepareMs = performance.now() - t0;
  if (targets.length)
    host.log(`prepare: ${ready.length} ready, ${failed.length} failed, ${ms(prepareMs)}`);
  return { ready, failed, prepareMs };
}

/**
 * Step 2: dumps each prepared connection with TCP repair mode and closes its socket (silently:
 * a socket closed in repair mode sends neither FIN nor RST); the connection is forgotten here.
 */
export function checkpoint(host: Host, ids: readonly string[]): CheckpointResult {
  const { table } = host;
  const t0 = performance.now();
  const connections: MigratingConnection[] = [];
  const failed: Failure[] = [];
  const unavailable = repair.tcpRepairUnavailable();
  for (const id of ids) {
    const c = table.get(id);
    if (!c) {
      failed.push({ id, reason: 'no such connection here' });
      continue;
    }
    if (c.phase !== 'prepared' || !c.socket) {
      failed.push({ id, reason: `connection is ${c.phase}, not prepared` });
      continue;
    }
    if (unavailable) {
      failed.push({ id, reason: unavailable });
      table.unquiesce(c);
      continue;
    }
    const socket = c.socket;
    const left = pendingWrite(socket);
    if (left > 0) {
      failed.push({ id, reason: `${kib(left)} written after prepare` });
      table.unquiesce(c);
      continue;
    }
    let fd = -1;
    try {
      // A plain JSON copy: a snapshot that cannot cross the channel fails here, before the
      // socket is touched, and later changes to the app's objects do not leak into it.
      const app: unknown = JSON.parse(JSON.stringify(c.handler.snapshot() ?? null));
      fd = repair.socketFd(socket);
      const state = repair.checkpoint(fd);
      connections.push({
        id,
        socket: state,
        app,
        pendingInput: Buffer.concat(c.pendingInput).toString('base64'),
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      });
    } catch (e) {
      if (fd >= 0) {
        try {
          repair.cancelCheckpoint(fd);
        } catch {
          // repair mode was never switched on
        }
      }
      failed.push({ id, reason: `checkpoint failed: ${errorText(e)}` });
      table.unquiesce(c);
      continue;
    }
    c.phase = 'migrated';
    table.delete(c);
    socket.destroy(); // closes the fd, still in repair mode: nothing goes on the wire
    table.callApp(c, () => c.handler.onClose?.('migrated'));
  }
  const checkpointMs = performance.now() - t0;
  if (ids.length)
    host.log(`checkpoint: ${connections.length} out, ${failed.length} failed, ${ms(checkpointMs)}`);
  return { connections, failed, checkpointMs };
}

/**
 * Step 3: rebuilds each connection's socket here (bound to its own local address and port:
 * repair mode forces the reuse) and its app from the snapshot. The connection stays silent and
 * quiesced (nothing read, nothing written, the old socket's unsent bytes kept aside) until
 * `resume`.
 */
export function restore(
  host: Host,
  connections: readonly MigratingConnection[],
  options: { localAddress?: string } = {},
): RestoreResult {
  const { table } = host;
  const t0 = performance.now();
  const restored: string[] = [];
  const failed: Failure[] = [];
  const unavailable = repair.tcpRepairUnavailable();
  for (const m of connections) {
    if (table.has(m.id)) {
      failed.push({ id: m.id, reason: 'a connection with this id is here already' });
      continue;
    }
    if (unavailable) {
      failed.push({ id: m.id, reason: unavailable });
      continue;
    }
    const c = new ManagedConnection(
      table,
      m.id,
      m.socket.peer,
      m.socket.local,
      'restored',
      m.bytesIn ?? 0,
      m.bytesOut ?? 0,
    );
    // The app first: if it refuses the snapshot, no socket exists yet and nothing was sent.
    try {
      c.handler = host.app(c, m.app);
    } catch (e) {
      failed.push({ id: m.id, reason: `the app refused the snapshot: ${errorText(e)}` });
      continue;
    }
    let fd = -1;
    try {
      const r = repair.restore(m.socket, {
        localAddress: options.localAddress ?? host.address,
        socketOptions: { noDelay: true },
      });
      fd = r.fd;
      c.unsent = r.unsent;
      const why = fitSendBuffer(
        fd,
        Buffer.byteLength(m.socket.sendQueue, 'base64'),
        host.sendBufferBytes,
      );
      if (why) host.log(`connection ${m.id}: ${why}`);
      const socket = repair.socketFromFd(fd);
      // Wrapping an fd starts reading (Node's `read(0)` in the constructor) on the next turn of
      // the loop; stopping now means nothing was read, so no window update leaves the socket.
      stopReading(socket);
      c.socket = socket;
    } catch (e) {
      if (fd >= 0 && !c.socket) closeSilently(fd);
      failed.push({ id: m.id, reason: `restore failed: ${errorText(e)}` });
      continue;
    }
    c.pendingInput = m.pendingInput === '' ? [] : [Buffer.from(m.pendingInput, 'base64')];
    table.add(c);
    restored.push(c.id);
  }
  const restoreMs = performance.now() - t0;
  if (connections.length)
    host.log(`restore: ${restored.length} in, ${failed.length} failed, ${ms(restoreMs)}`);
  return { restored, failed, restoreMs };
}

/**
 * Step 4: lets restored connections speak: the old socket's unsent bytes first, then the input
 * that was read but not delivered, then reading and app writes.
 */
export function resume(host: Host, ids: readonly string[]): ResumeResult {
  const { table } = host;
  const t0 = performance.now();
  const resumed: string[] = [];
  const failed: Failure[] = [];
  for (const id of ids) {
    const c = table.get(id);
    if (!c) failed.push({ id, reason: 'no such connection here' });
    else if (c.phase !== 'restored')
      failed.push({ id, reason: `connection is ${c.phase}, not restored` });
    else {
      if (c.unsent.length > 0) c.socket?.write(c.unsent);
      c.unsent = Buffer.alloc(0);
      table.unquiesce(c);
      resumed.push(id);
    }
  }
  const resumeMs = performance.now() - t0;
  if (ids.length)
    host.log(`resume: ${resumed.length} resumed, ${failed.length} failed, ${ms(resumeMs)}`);
  return { resumed, failed, resumeMs };
}

/**
 * Step 5, when a migration is called off: prepared connections carry on here; restored ones
 * that were never resumed are dropped silently (back in repair mode, then closed).
 */
export function abort(host: Host, ids: readonly string[]): AbortResult {
  const { table } = host;
  const aborted: string[] = [];
  const failed: Failure[] = [];
  for (const id of ids) {
    const c = table.get(id);
    if (!c) failed.push({ id, reason: 'no such connection here' });
    else if (c.phase === 'prepared' || c.phase === 'preparing') {
      table.unquiesce(c);
      aborted.push(id);
    } else if (c.phase === 'restored') {
      table.discardSilently(c);
      aborted.push(id);
    } else failed.push({ id, reason: `connection is ${c.phase}` });
  }
  if (ids.length) host.log(`abort: ${aborted.length} aborted, ${failed.length} failed`);
  return { aborted, failed };
}

/** Waits (checking every millisecond) until nothing is queued in Node; returns what is left. */
async function waitFlushed(c: ManagedConnection, deadline: number): Promise<number> {
  for (;;) {
    const s = c.socket;
    if (!s || c.phase !== 'preparing') return 0;
    const left = pendingWrite(s);
    if (left === 0 || performance.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 1));
  }
}
