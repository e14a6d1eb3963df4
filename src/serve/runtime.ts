// The migratable server runtime: accepts TCP connections for an app as usual, and hands them to
// or takes them from a peer process through TCP repair mode, in steps a controller drives
// (prepare → checkpoint → restore → resume, or abort), so no byte is lost or sent twice.
import { closeSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { FlowmigError } from '../errors.js';
import * as repair from '../tcp-repair/index.js';
import type {
  AbortResult,
  CheckpointResult,
  ConnectionFilter,
  ConnectionInfo,
  ConnectionState,
  Endpoint,
  Failure,
  MigratingConnection,
  PrepareResult,
  RestoreResult,
  ResumeResult,
} from './protocol.js';

/** What an app sees of one connection; apps never touch the socket. */
export interface Connection {
  /** Stable across migrations. */
  readonly id: string;
  readonly remote: Endpoint;
  readonly local: Endpoint;
  /** False while the runtime migrates the connection: the app must not write until `onResume`. */
  readonly canWrite: boolean;
  /** Bytes given to the app / written by the app, over the connection's whole life. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Queues `data`; false when the app should wait for `onDrain` before writing more. */
  write(data: Buffer): boolean;
  /** Ends the app's side (FIN once everything written is sent). */
  end(): void;
  /** Flow control: no more `onData` until `resumeInput` (the kernel's window closes meanwhile). */
  pauseInput(): void;
  resumeInput(): void;
}

export interface ConnectionHandler {
  onData(chunk: Buffer): void;
  /** The peer sent FIN. */
  onEnd?(): void;
  /** Writing may go on (after `write` returned false). */
  onDrain?(): void;
  /** The app may write again (after a migration step, or a restore here). */
  onResume?(): void;
  /** The connection left this server: it ended, or it was migrated away. */
  onClose?(why: 'ended' | 'migrated'): void;
  /** The app's state, JSON-serialisable: handed to `app(conn, restored)` on the new server. */
  snapshot(): unknown;
}

export type App = (conn: Connection, restored?: unknown) => ConnectionHandler;

/** The receiving side of a hand-off (a `ServeClient` is one). */
export interface MigrationPeer {
  restore(
    connections: readonly MigratingConnection[],
    options?: { localAddress?: string },
  ): Promise<RestoreResult>;
  resume(ids: readonly string[]): Promise<ResumeResult>;
}

export interface HandOffResult {
  readonly prepare: PrepareResult;
  readonly checkpoint: CheckpointResult;
  /** The peer's restore; undefined when the peer could not be asked. */
  readonly restore: RestoreResult | undefined;
  readonly resume: ResumeResult | undefined;
  /** Connections the peer could not take, restored back here (ids). */
  readonly keptHere: string[];
  /** Connections lost: neither the peer nor this server could restore them. */
  readonly lost: Failure[];
}

export interface ServerOptions {
  readonly address: string;
  readonly port: number;
  readonly app: App;
  readonly log?: (message: string) => void;
  /**
   * SO_SNDBUF of every connection (bytes; the kernel doubles it), or the kernel's autotuning when
   * absent. What a connection has queued when it moves is copied twice and encoded twice: a bulk
   * sender with a 4 MB autotuned buffer moves several times slower than one with 256 KiB.
   */
  readonly sendBufferBytes?: number;
}

/** `migrated`: checkpointed and closed here (silently); `closed`: ended here. */
type Phase = 'active' | 'preparing' | 'prepared' | 'restored' | 'migrated' | 'closed';

/** libuv's stream handle, as Node keeps it on `socket._handle`. */
interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  writeQueueSize?: number;
}

const handleOf = (socket: Socket): StreamHandle | null =>
  (socket as unknown as { _handle: StreamHandle | null })._handle;

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;

let nextSerial = 0;
/** An id no other process picks: pid, time and a counter, in base 36. */
function newId(): string {
  nextSerial++;
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${nextSerial.toString(36)}`;
}

class ManagedConnection implements Connection {
  phase: Phase;
  handler!: ConnectionHandler;
  socket: Socket | undefined;
  canWrite: boolean;
  /** Held by the runtime (migration): no reading, no writing. */
  quiesced: boolean;
  /** Held by the app (`pauseInput`). */
  inputPaused = false;
  /** Read from the kernel, not yet given to the app (taken from Node's buffer while quiescing). */
  pendingInput: Buffer[] = [];
  /** A restored socket's bytes that the old socket never sent: written first on resume. */
  unsent: Buffer = Buffer.alloc(0);
  /** FIN arrived while quiesced: told to the app after its pending input. */
  endPending = false;
  endReason = '';

  constructor(
    private readonly runtime: MigratableServer,
    readonly id: string,
    readonly remote: Endpoint,
    readonly local: Endpoint,
    phase: Phase,
    public bytesIn = 0,
    public bytesOut = 0,
  ) {
    this.phase = phase;
    this.quiesced = phase === 'restored';
    this.canWrite = !this.quiesced;
  }

  write(data: Buffer): boolean {
    if (!this.canWrite)
      throw new FlowmigError(`connection ${this.id}: the app wrote while the connection migrates`);
    const s = this.socket;
    if (!s?.writable) return false;
    this.bytesOut += data.length;
    return s.write(data);
  }

  end(): void {
    if (!this.canWrite)
      throw new FlowmigError(`connection ${this.id}: the app ended it while it migrates`);
    this.socket?.end();
  }

  pauseInput(): void {
    this.inputPaused = true;
    this.runtime.updateReading(this);
  }

  resumeInput(): void {
    this.inputPaused = false;
    this.runtime.updateReading(this);
  }
}

export class MigratableServer {
  readonly address: string;
  readonly port: number;
  private readonly app: App;
  private readonly log: (message: string) => void;
  private readonly sendBufferBytes: number | undefined;
  private server: Server | undefined;
  private readonly conns = new Map<string, ManagedConnection>();

  constructor(options: ServerOptions) {
    this.address = options.address;
    this.port = options.port;
    this.app = options.app;
    this.log = options.log ?? (() => {});
    this.sendBufferBytes = options.sendBufferBytes;
  }

  /** Listens on [address]:port (IPv6 only; Node's server sets SO_REUSEADDR). */
  listen(): Promise<void> {
    // pauseOnConnect: nothing is read before the app's handler exists.
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (s) => this.accept(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.address, port: this.port, ipv6Only: true }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.log(`listener error: ${errorText(e)}`));
        resolve();
      });
    });
  }

  /** Stops listening and closes every connection held here. */
  close(): Promise<void> {
    for (const c of this.conns.values()) {
      if (c.phase === 'restored' && c.socket) this.discardSilently(c);
      else c.socket?.destroy();
    }
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({
      id: c.id,
      remote: c.remote,
      local: c.local,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      state: publicState(c.phase),
    }));
  }

  /**
   * Step 1: quiesces the matching active connections: no more reading from the kernel, no app
   * writes, then waits until Node has handed every byte the app wrote to the kernel. Those still
   * holding bytes at the timeout (a slow reader) are reported failed and carry on here.
   */
  async prepare(
    filter: ConnectionFilter,
    options: { timeoutMs?: number } = {},
  ): Promise<PrepareResult> {
    const t0 = performance.now();
    const deadline = t0 + (options.timeoutMs ?? 100);
    const failed: Failure[] = [];
    const targets: ManagedConnection[] = [];
    for (const id of filter.ids ?? []) {
      const c = this.conns.get(id);
      if (!c) failed.push({ id, reason: 'no such connection here' });
      else if (c.phase !== 'active') failed.push({ id, reason: `connection is ${c.phase}` });
    }
    for (const c of this.conns.values())
      if (c.phase === 'active' && matches(c, filter)) targets.push(c);
    for (const c of targets) this.quiesce(c);

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
          this.unquiesce(c);
        } else {
          c.phase = 'prepared';
          ready.push(c.id);
        }
      }),
    );
    const prepareMs = performance.now() - t0;
    if (targets.length)
      this.log(`prepare: ${ready.length} ready, ${failed.length} failed, ${ms(prepareMs)}`);
    return { ready, failed, prepareMs };
  }

  /**
   * Step 2: dumps each prepared connection with TCP repair mode and closes its socket (silently:
   * a socket closed in repair mode sends neither FIN nor RST); the connection is forgotten here.
   */
  checkpoint(ids: readonly string[]): CheckpointResult {
    const t0 = performance.now();
    const connections: MigratingConnection[] = [];
    const failed: Failure[] = [];
    const unavailable = repair.tcpRepairUnavailable();
    for (const id of ids) {
      const c = this.conns.get(id);
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
        this.unquiesce(c);
        continue;
      }
      const socket = c.socket;
      const left = pendingWrite(socket);
      if (left > 0) {
        failed.push({ id, reason: `${kib(left)} written after prepare` });
        this.unquiesce(c);
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
        this.unquiesce(c);
        continue;
      }
      c.phase = 'migrated';
      this.conns.delete(id);
      socket.destroy(); // closes the fd, still in repair mode: nothing goes on the wire
      this.callApp(c, () => c.handler.onClose?.('migrated'));
    }
    const checkpointMs = performance.now() - t0;
    if (ids.length)
      this.log(
        `checkpoint: ${connections.length} out, ${failed.length} failed, ${ms(checkpointMs)}`,
      );
    return { connections, failed, checkpointMs };
  }

  /**
   * Step 3: rebuilds each connection's socket here (bound to its own local address and port:
   * repair mode forces the reuse) and its app from the snapshot. The connection stays silent and
   * quiesced (nothing read, nothing written, the old socket's unsent bytes kept aside) until
   * `resume`.
   */
  restore(
    connections: readonly MigratingConnection[],
    options: { localAddress?: string } = {},
  ): RestoreResult {
    const t0 = performance.now();
    const restored: string[] = [];
    const failed: Failure[] = [];
    const unavailable = repair.tcpRepairUnavailable();
    for (const m of connections) {
      if (this.conns.has(m.id)) {
        failed.push({ id: m.id, reason: 'a connection with this id is here already' });
        continue;
      }
      if (unavailable) {
        failed.push({ id: m.id, reason: unavailable });
        continue;
      }
      const c = new ManagedConnection(
        this,
        m.id,
        m.socket.peer,
        m.socket.local,
        'restored',
        m.bytesIn ?? 0,
        m.bytesOut ?? 0,
      );
      // The app first: if it refuses the snapshot, no socket exists yet and nothing was sent.
      try {
        c.handler = this.app(c, m.app);
      } catch (e) {
        failed.push({ id: m.id, reason: `the app refused the snapshot: ${errorText(e)}` });
        continue;
      }
      let fd = -1;
      try {
        const r = repair.restore(m.socket, {
          localAddress: options.localAddress ?? this.address,
          socketOptions: { noDelay: true },
        });
        fd = r.fd;
        c.unsent = r.unsent;
        const why = fitSendBuffer(
          fd,
          Buffer.byteLength(m.socket.sendQueue, 'base64'),
          this.sendBufferBytes,
        );
        if (why) this.log(`connection ${m.id}: ${why}`);
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
      this.attach(c);
      this.conns.set(c.id, c);
      restored.push(c.id);
    }
    const restoreMs = performance.now() - t0;
    if (connections.length)
      this.log(`restore: ${restored.length} in, ${failed.length} failed, ${ms(restoreMs)}`);
    return { restored, failed, restoreMs };
  }

  /**
   * Step 4: lets restored connections speak: the old socket's unsent bytes first, then the input
   * that was read but not delivered, then reading and app writes.
   */
  resume(ids: readonly string[]): ResumeResult {
    const t0 = performance.now();
    const resumed: string[] = [];
    const failed: Failure[] = [];
    for (const id of ids) {
      const c = this.conns.get(id);
      if (!c) failed.push({ id, reason: 'no such connection here' });
      else if (c.phase !== 'restored')
        failed.push({ id, reason: `connection is ${c.phase}, not restored` });
      else {
        if (c.unsent.length > 0) c.socket?.write(c.unsent);
        c.unsent = Buffer.alloc(0);
        this.unquiesce(c);
        resumed.push(id);
      }
    }
    const resumeMs = performance.now() - t0;
    if (ids.length)
      this.log(`resume: ${resumed.length} resumed, ${failed.length} failed, ${ms(resumeMs)}`);
    return { resumed, failed, resumeMs };
  }

  /**
   * Step 5, when a migration is called off: prepared connections carry on here; restored ones
   * that were never resumed are dropped silently (back in repair mode, then closed).
   */
  abort(ids: readonly string[]): AbortResult {
    const aborted: string[] = [];
    const failed: Failure[] = [];
    for (const id of ids) {
      const c = this.conns.get(id);
      if (!c) failed.push({ id, reason: 'no such connection here' });
      else if (c.phase === 'prepared' || c.phase === 'preparing') {
        this.unquiesce(c);
        aborted.push(id);
      } else if (c.phase === 'restored') {
        this.discardSilently(c);
        aborted.push(id);
      } else failed.push({ id, reason: `connection is ${c.phase}` });
    }
    if (ids.length) this.log(`abort: ${aborted.length} aborted, ${failed.length} failed`);
    return { aborted, failed };
  }

  /**
   * Hands the matching connections to `peer` without a controller (no translator in between):
   * prepare, checkpoint, the peer's restore and resume. What the peer cannot take is restored
   * back here.
   */
  async handOff(
    filter: ConnectionFilter,
    peer: MigrationPeer,
    options: { timeoutMs?: number; localAddress?: string } = {},
  ): Promise<HandOffResult> {
    const prepare = await this.prepare(filter, options);
    const checkpoint = this.checkpoint(prepare.ready);
    let restore: RestoreResult | undefined;
    let resume: ResumeResult | undefined;
    let back: MigratingConnection[] = checkpoint.connections;
    if (checkpoint.connections.length > 0) {
      try {
        restore = await peer.restore(
          checkpoint.connections,
          options.localAddress === undefined ? {} : { localAddress: options.localAddress },
        );
        const taken = new Set(restore.restored);
        back = checkpoint.connections.filter((c) => !taken.has(c.id));
        if (restore.restored.length) resume = await peer.resume(restore.restored);
      } catch (e) {
        this.log(`hand-off: the peer failed: ${errorText(e)}`);
      }
    }
    const lost: Failure[] = [];
    const keptHere: string[] = [];
    if (back.length > 0) {
      const here = this.restore(back);
      lost.push(...here.failed);
      keptHere.push(...this.resume(here.restored).resumed);
    }
    return { prepare, checkpoint, restore, resume, keptHere, lost };
  }

  /** Reads from the kernel only when neither the runtime nor the app holds the connection. */
  updateReading(c: ManagedConnection): void {
    const s = c.socket;
    if (!s || s.destroyed) return;
    if (c.quiesced || c.inputPaused) stopReading(s);
    else {
      const h = handleOf(s);
      if (h && !h.reading) {
        h.reading = true;
        const err = h.readStart();
        if (err < 0) {
          s.destroy(new Error(`readStart failed (${err})`));
          return;
        }
      }
      s.resume();
    }
  }

  private accept(socket: Socket): void {
    if (this.sendBufferBytes !== undefined) {
      const why = capSendBuffer(repair.socketFd(socket), this.sendBufferBytes);
      if (why) this.log(why);
    }
    const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const c = new ManagedConnection(this, newId(), remote, local, 'active');
    c.socket = socket;
    try {
      c.handler = this.app(c, undefined);
    } catch (e) {
      this.log(
        `connection from [${remote.address}]:${remote.port}: the app failed: ${errorText(e)}`,
      );
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.attach(c);
    this.conns.set(c.id, c);
    this.log(`connection ${c.id} from [${remote.address}]:${remote.port}`);
    this.updateReading(c);
  }

  private attach(c: ManagedConnection): void {
    const s = c.socket as Socket;
    s.on('data', (chunk: Buffer) => this.deliver(c, chunk));
    s.on('end', () => {
      if (c.quiesced) c.endPending = true;
      else this.callApp(c, () => c.handler.onEnd?.());
      c.endReason ||= 'ended by the peer';
    });
    s.on('drain', () => {
      if (c.canWrite) this.callApp(c, () => c.handler.onDrain?.());
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (c.phase === 'migrated') return;
      c.endReason = e.code === 'ECONNRESET' ? 'reset by the peer' : `error: ${errorText(e)}`;
    });
    s.on('close', () => {
      if (c.phase === 'migrated') return;
      const was = c.phase;
      c.phase = 'closed';
      c.canWrite = false;
      if (this.conns.get(c.id) === c) this.conns.delete(c.id);
      this.log(
        `connection ${c.id} closed (${c.endReason || 'closed'}) after ${c.bytesIn} bytes in, ${c.bytesOut} out${was === 'active' ? '' : `, while ${was}`}`,
      );
      this.callApp(c, () => c.handler.onClose?.('ended'));
    });
  }

  private deliver(c: ManagedConnection, chunk: Buffer): void {
    if (c.quiesced) {
      // Only a 'data' event already on its way when reading stopped lands here: keep it in order.
      c.pendingInput.push(chunk);
      return;
    }
    c.bytesIn += chunk.length;
    this.callApp(c, () => c.handler.onData(chunk));
  }

  /** Stops reading, forbids writes, and takes what Node has read but not delivered. */
  private quiesce(c: ManagedConnection): void {
    const s = c.socket as Socket;
    c.phase = 'preparing';
    c.quiesced = true;
    c.canWrite = false;
    stopReading(s);
    // What Node has read but not delivered: read() emits each chunk it returns as 'data', which
    // `deliver` keeps in pendingInput while quiesced. Draining calls _read, which starts libuv
    // reading again; libuv reads only in its poll phase, so stopping again in the same turn
    // means nothing more was read.
    while (s.read() !== null) {}
    stopReading(s);
  }

  /** Back to normal service here: pending input first, then reading and writing. */
  private unquiesce(c: ManagedConnection): void {
    c.phase = 'active';
    const pending = c.pendingInput;
    c.pendingInput = [];
    for (const b of pending) {
      c.bytesIn += b.length;
      this.callApp(c, () => c.handler.onData(b));
      if (c.phase !== 'active') return;
    }
    c.quiesced = false;
    c.canWrite = true;
    this.updateReading(c);
    this.callApp(c, () => c.handler.onResume?.());
    if (c.endPending && c.phase === 'active') {
      c.endPending = false;
      this.callApp(c, () => c.handler.onEnd?.());
    }
  }

  /** A restored socket nobody resumed: back into repair mode, so closing it sends nothing. */
  private discardSilently(c: ManagedConnection): void {
    const s = c.socket;
    c.phase = 'migrated';
    this.conns.delete(c.id);
    if (!s) return;
    try {
      repair.checkpoint(repair.socketFd(s));
    } catch (e) {
      this.log(`connection ${c.id}: cannot put it back in repair mode: ${errorText(e)}`);
    }
    s.destroy();
  }

  /** Runs app code: an app that throws loses its connection, never the process. */
  private callApp(c: ManagedConnection, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log(`connection ${c.id}: the app failed: ${errorText(e)}`);
      c.endReason = `the app failed: ${errorText(e)}`;
      if (c.phase !== 'migrated') c.socket?.destroy();
    }
  }
}

function publicState(p: Phase): ConnectionState {
  return p === 'prepared' ? 'prepared' : p === 'restored' ? 'restored' : 'active';
}

function matches(c: ManagedConnection, f: ConnectionFilter): boolean {
  if (f.ids !== undefined && !f.ids.includes(c.id)) return false;
  if (f.peerAddress !== undefined && !sameAddress(c.remote.address, f.peerAddress)) return false;
  return f.ids !== undefined || f.peerAddress !== undefined;
}

/** IPv6 addresses compared in canonical form (fe00::1 = fe00:0::1), and IPv4-mapped forms. */
function sameAddress(a: string, b: string): boolean {
  return canonical(a) === canonical(b);
}

function canonical(address: string): string {
  try {
    return new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname;
  } catch {
    return address.toLowerCase();
  }
}

function stopReading(s: Socket): void {
  s.pause();
  const h = handleOf(s);
  if (h?.reading) {
    h.reading = false;
    h.readStop();
  }
}

/** Bytes the app wrote that Node has not yet handed to the kernel. */
function pendingWrite(s: Socket): number {
  return s.writableLength + (handleOf(s)?.writeQueueSize ?? 0);
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

let wmemMax: number | undefined;
/** tcp_wmem's maximum in this namespace: how far send buffer autotuning goes. */
function tcpWmemMax(): number {
  if (wmemMax === undefined) {
    try {
      wmemMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    } catch {
      wmemMax = Number.NaN;
    }
    if (!Number.isFinite(wmemMax)) wmemMax = 4 * 1024 * 1024;
  }
  return wmemMax;
}

/**
 * Gives a restored socket a send buffer that holds the queue it inherits. A new socket starts
 * small (sized from its initial congestion window) and the repaired queue already fills it, so
 * the old socket's unsent bytes would wait in Node until acknowledgements let autotuning grow it;
 * the next prepare would then find them there. SO_SNDBUFFORCE sets the size (the kernel doubles
 * the value given), SO_BUF_LOCK 0 lets autotuning go on growing it. Returns a warning, or
 * undefined.
 */
/** Sets a connection's send buffer (and so turns its autotuning off). */
function capSendBuffer(fd: number, bytes: number): string | undefined {
  try {
    repair.nativeAddon().setsockoptInt(fd, 'SO_SNDBUF', bytes);
    return undefined;
  } catch (e) {
    return `send buffer left to the kernel: ${errorText(e)}`;
  }
}

function fitSendBuffer(fd: number, queued: number, cap?: number): string | undefined {
  try {
    const n = repair.nativeAddon();
    if (cap !== undefined) {
      // The configured size, or more if the inherited queue needs it (it shrinks back as sent).
      n.setsockoptInt(fd, 'SO_SNDBUFFORCE', Math.max(cap, Math.ceil((queued + 64 * 1024) / 2)));
      return undefined;
    }
    const current = n.getsockoptInt(fd, 'SO_SNDBUF');
    const want = Math.min(queued + (queued >> 2) + 64 * 1024, Math.max(tcpWmemMax(), current));
    if (want <= current) return undefined;
    n.setsockoptInt(fd, 'SO_SNDBUFFORCE', Math.ceil(want / 2));
    n.setsockoptInt(fd, 'SO_BUF_LOCK', 0);
    return undefined;
  } catch (e) {
    return `send buffer left as it is: ${errorText(e)}`;
  }
}

function closeSilently(fd: number): void {
  try {
    repair.checkpoint(fd);
  } catch {
    // not established any more: nothing to protect
  }
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

const ms = (t: number): string => `${t.toFixed(2)} ms`;
