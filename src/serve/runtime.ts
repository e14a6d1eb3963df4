// The migratable server runtime: accepts TCP connections for an app as usual, and hands them to
// or takes them from a peer process through TCP repair mode, in steps a controller drives
// (prepare → checkpoint → restore → resume, or abort), so no byte is lost or sent twice. The
// connections live in connections.ts, the steps in migration.ts; this is the server and its API.
import { createServer, type Server, type Socket } from 'node:net';
import * as repair from '../tcp-repair/index.js';
import { type App, ConnectionTable, ManagedConnection } from './connections.js';
import * as steps from './migration.js';
import type {
  AbortResult,
  CheckpointResult,
  ConnectionFilter,
  ConnectionInfo,
  Failure,
  MigratingConnection,
  PrepareResult,
  RestoreResult,
  ResumeResult,
} from './protocol.js';
import { capSendBuffer, errorText } from './sockets.js';

export type { App, Connection, ConnectionHandler } from './connections.js';

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

let nextSerial = 0;
/** An id no other process picks: pid, time and a counter, in base 36. */
function newId(): string {
  nextSerial++;
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${nextSerial.toString(36)}`;
}

export class MigratableServer {
  readonly address: string;
  readonly port: number;
  private readonly app: App;
  private readonly log: (message: string) => void;
  private readonly sendBufferBytes: number | undefined;
  private server: Server | undefined;
  private readonly table: ConnectionTable;
  /** What the migration steps work on. */
  private readonly host: steps.Host;

  constructor(options: ServerOptions) {
    this.address = options.address;
    this.port = options.port;
    this.app = options.app;
    this.log = options.log ?? (() => {});
    this.sendBufferBytes = options.sendBufferBytes;
    this.table = new ConnectionTable(this.log);
    this.host = {
      table: this.table,
      app: this.app,
      address: this.address,
      sendBufferBytes: this.sendBufferBytes,
      log: this.log,
    };
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
    this.table.closeAll();
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  connections(): ConnectionInfo[] {
    return this.table.info();
  }

  /** Step 1 (see migration.ts): quiesces the matching connections until Node's queue is empty. */
  prepare(filter: ConnectionFilter, options: { timeoutMs?: number } = {}): Promise<PrepareResult> {
    return steps.prepare(this.host, filter, options);
  }

  /** Step 2: dumps each prepared connection with TCP repair mode and forgets it here. */
  checkpoint(ids: readonly string[]): CheckpointResult {
    return steps.checkpoint(this.host, ids);
  }

  /** Step 3: rebuilds connections here, silent and quiesced until `resume`. */
  restore(
    connections: readonly MigratingConnection[],
    options: { localAddress?: string } = {},
  ): RestoreResult {
    return steps.restore(this.host, connections, options);
  }

  /** Step 4: lets restored connections speak. */
  resume(ids: readonly string[]): ResumeResult {
    return steps.resume(this.host, ids);
  }

  /** Step 5, when a migration is called off. */
  abort(ids: readonly string[]): AbortResult {
    return steps.abort(this.host, ids);
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

  private accept(socket: Socket): void {
    if (this.sendBufferBytes !== undefined) {
      const why = capSendBuffer(repair.socketFd(socket), this.sendBufferBytes);
      if (why) this.log(why);
    }
    const remote = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const c = new ManagedConnection(this.table, newId(), remote, local, 'active');
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
    this.table.add(c);
    this.log(`connection ${c.id} from [${remote.address}]:${remote.port}`);
    this.table.updateReading(c);
  }
}
