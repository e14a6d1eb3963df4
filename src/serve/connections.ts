// The serve runtime's connections: what an app sees of one (Connection, ConnectionHandler, App),
// the runtime's side of it (its phase and held bytes), and the table that delivers bytes to the
// apps, holds connections still for a move (quiesce) and gives them back (unquiesce).
import type { Socket } from 'node:net';
import { FlowmigError } from '../errors.js';
import * as repair from '../tcp-repair/index.js';
import type { ConnectionFilter, ConnectionInfo, ConnectionState, Endpoint } from './protocol.js';
import { errorText, startReading, stopReading } from './sockets.js';

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

/** `migrated`: checkpointed and closed here (silently); `closed`: ended here. */
export type Phase = 'active' | 'preparing' | 'prepared' | 'restored' | 'migrated' | 'closed';

export class ManagedConnection implements Connection {
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
    private readonly table: ConnectionTable,
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
    this.table.updateReading(this);
  }

  resumeInput(): void {
    this.inputPaused = false;
    this.table.updateReading(this);
  }
}

/** The connections held here, by id, and what happens to them between the socket and the app. */
export class ConnectionTable {
  private readonly conns = new Map<string, ManagedConnection>();

  constructor(private readonly log: (message: string) => void) {}

  get(id: string): ManagedConnection | undefined {
    return this.conns.get(id);
  }

  has(id: string): boolean {
    return this.conns.has(id);
  }

  values(): IterableIterator<ManagedConnection> {
    return this.conns.values();
  }

  /** Starts serving `c` here: its socket's events go to its app. */
  add(c: ManagedConnection): void {
    this.attach(c);
    this.conns.set(c.id, c);
  }

  /** Forgets `c` (it moved away). */
  delete(c: ManagedConnection): void {
    this.conns.delete(c.id);
  }

  info(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({
      id: c.id,
      remote: c.remote,
      local: c.local,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      state: publicState(c.phase),
    }));
  }

  /** Closes every connection held here (a restored one that was never resumed silently). */
  closeAll(): void {
    for (const c of this.conns.values()) {
      if (c.phase === 'restored' && c.socket) this.discardSilently(c);
      else c.socket?.destroy();
    }
  }

  /** Reads from the kernel only when neither the runtime nor the app holds the connection. */
  updateReading(c: ManagedConnection): void {
    const s = c.socket;
    if (!s || s.destroyed) return;
    if (c.quiesced || c.inputPaused) stopReading(s);
    else startReading(s);
  }

  /** Stops reading, forbids writes, and takes what Node has read but not delivered. */
  quiesce(c: ManagedConnection): void {
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
  unquiesce(c: ManagedConnection): void {
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
  discardSilently(c: ManagedConnection): void {
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
  callApp(c: ManagedConnection, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log(`connection ${c.id}: the app failed: ${errorText(e)}`);
      c.endReason = `the app failed: ${errorText(e)}`;
      if (c.phase !== 'migrated') c.socket?.destroy();
    }
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
}

function publicState(p: Phase): ConnectionState {
  return p === 'prepared' ? 'prepared' : p === 'restored' ? 'restored' : 'active';
}

/** Whether a connection is one a prepare asked for (by id, by peer address, or both). */
export function matches(c: ManagedConnection, f: ConnectionFilter): boolean {
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
