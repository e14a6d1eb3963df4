// Direct acknowledgements between host daemons over the fabric: each daemon listens on its
// translator's fabric address and keeps one connection to every peer, and sends each revision it
// applied to the peers that asked (a daemon answering changes asks every peer for 10 s at a time,
// and is sent the peer's newest revision at once). Either connection of a pair carries both ways:
// a daemon whose own connection to a peer is not up yet (the peer started later, its retry waits)
// asks and answers on the peer's connection to it. A change's answer then waits on
// no second etcd commit (each host writing its applied key): that write cost 10-11 ms of an
// 8-host migration. Only asking daemons are sent anything: 8 daemons telling all 7 others of each
// revision are 56 wake-ups per change on 2 cores. The etcd key stays the fallback
// (hostd/applied.ts takes the higher of both per host), so a lost message or a channel that is
// down only slows an answer down.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { canonicalAddress } from '../net/ipv6.js';
import { jsonLines } from '../rpc/framing.js';
import {
  checkPeerMessage,
  encodePeerMessage,
  MAX_PEER_LINE_BYTES,
  type PeerExpect,
} from './peer-message.js';
import type { HostView } from './view.js';

/** The TCP port of the acknowledgements, on each translator's fabric address (etcd's are 2379-2384). */
export const PEER_ACK_PORT = 2390;
/** A connection not up within this is given up and tried again (a peer cut off drops SYNs). */
const CONNECT_TIMEOUT_MS = 1_000;
/** Retries after a failed connection or listen: from the first wait, doubling up to the last. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;
/** Bytes queued in node for a peer past which its connection is dropped (it reads nothing). */
const MAX_QUEUED_BYTES = 64 * 1024;
/** Bad messages logged per connection; the rest are counted, not logged. */
const BAD_LOGGED = 5;
/** How long one ask for acknowledgements lasts; asked again once half of it has passed. */
export const WANT_MS = 10_000;

export interface PeerAcksOptions {
  readonly view: HostView;
  readonly log: (line: string) => void;
  /** A peer's acknowledgement, checked: `host` applied every revision up to `revision`. */
  readonly heard: (host: string, revision: number) => void;
  readonly port?: number;
}

export function peerExpect(view: HostView): PeerExpect {
  const peers = new Map<string, string>();
  for (const h of view.cluster.hosts)
    if (h.name !== view.self.name)
      peers.set(h.name, canonicalAddress(h.fabricAddress) ?? h.fabricAddress);
  return { lab: view.lab, self: view.self.name, peers };
}

/** A peer's socket's reader: every line checked, a bad one dropped and logged (a few per socket). */
function readLines(
  socket: Socket,
  log: (line: string) => void,
  take: (value: unknown, drop: (why: string) => void) => void,
): void {
  const from = socket.remoteAddress;
  let bad = 0;
  const drop = (why: string) => {
    bad++;
    if (bad <= BAD_LOGGED)
      log(
        `acknowledgements: dropped a message from [${from}]: ${why}${bad === BAD_LOGGED ? ' (further ones not logged)' : ''}`,
      );
  };
  const reader = jsonLines.reader({
    limit: MAX_PEER_LINE_BYTES,
    onMessage: (value) => take(value, drop),
    onBadJson: () => drop('not JSON'),
    onOversize: () => drop(`line over ${MAX_PEER_LINE_BYTES} bytes`),
  });
  socket.on('data', (chunk: Buffer) => reader.push(chunk));
  socket.on('end', () => {
    reader.end();
    socket.end();
  });
}

/** Writes a line unless the socket is gone, or dropped it for reading nothing (too much queued). */
function write(socket: Socket, line: string): void {
  if (socket.destroyed || socket.writableEnded) return;
  if (socket.writableLength > MAX_QUEUED_BYTES)
    socket.destroy(new Error(`over ${MAX_QUEUED_BYTES} bytes queued`));
  else socket.write(line);
}

/** One peer's outgoing connection: kept up; on (re)connect, told our ask and newest revision. */
class PeerLink {
  private socket: Socket | undefined;
  private up = false;
  private retryMs = RETRY_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the last attempt failed (logged once per outage, not once per retry). */
  private down = false;

  constructor(
    readonly host: string,
    private readonly address: string,
    private readonly from: string,
    private readonly port: number,
    private readonly acks: PeerAcks,
    private readonly log: (line: string) => void,
  ) {}

  dial(): void {
    if (this.closed) return;
    // Bound to this translator's fabric address: the receiver checks that a host speaks only for
    // itself by the connection's source address.
    const s = connect({ host: this.address, port: this.port, localAddress: this.from });
    this.socket = s;
    s.setNoDelay(true); // one small line per revision: Nagle would hold it for the previous ack
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error('connect timed out')));
    s.on('connect', () => {
      s.setTimeout(0);
      s.setKeepAlive(true, 1_000);
      this.up = true;
      this.retryMs = RETRY_FIRST_MS;
      if (this.down) this.log(`peer ${this.host}: acknowledgements connected again`);
      this.down = false;
      for (const line of this.acks.hello()) s.write(line);
    });
    // The peer asks (and may answer) on this connection too.
    readLines(s, this.log, (value, drop) => this.acks.receive(value, s, drop));
    s.on('error', (e) => {
      if (!this.down && !this.closed)
        this.log(`peer ${this.host}: acknowledgements down (${e.message}); etcd covers it`);
      this.down = true;
    });
    s.on('close', () => {
      const wasUp = this.up;
      this.up = false;
      if (this.socket === s) this.socket = undefined;
      if (this.closed) return;
      if (wasUp) this.log(`peer ${this.host}: acknowledgements closed; etcd covers it`);
      this.down = true;
      this.timer = setTimeout(() => this.dial(), this.retryMs).unref();
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    });
  }

  /** Sends a line if the connection is up (false: it is not). */
  send(line: string): boolean {
    if (!this.up || !this.socket) return false;
    write(this.socket, line);
    return true;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

export class PeerAcks {
  private server: Server | undefined;
  private readonly links = new Map<string, PeerLink>();
  /** Peers' connections to this daemon, by the host that spoke on each last. */
  private readonly incoming = new Map<string, Socket>();
  private readonly sockets = new Set<Socket>();
  /**
   * Each peer that asked for this host's acknowledgements: until when (Date.now()), and the
   * connection it asked on (the acknowledgements go back on it: it is known to carry the peer's
   * lines, while the other connection of the pair may be stale).
   */
  private readonly wanted = new Map<string, { until: number; socket: Socket }>();
  private readonly expect: PeerExpect;
  private readonly addresses: Set<string>;
  private readonly port: number;
  private line: string | undefined;
  private revision = 0;
  /** Until when (Date.now()) this daemon asked its peers for their acknowledgements. */
  private wantUntil = 0;
  private closed = false;
  private listenTimer: NodeJS.Timeout | undefined;
  private listenRetryMs = RETRY_FIRST_MS;

  private constructor(private readonly o: PeerAcksOptions) {
    this.expect = peerExpect(o.view);
    this.addresses = new Set(this.expect.peers.values());
    this.port = o.port ?? PEER_ACK_PORT;
  }

  /**
   * Listens on this translator's fabric address and dials every peer; returns at once (both are
   * retried in the background until they succeed: a peer's daemon may start later).
   */
  static start(o: PeerAcksOptions): PeerAcks {
    const p = new PeerAcks(o);
    const self = canonicalAddress(o.view.self.fabricAddress) ?? o.view.self.fabricAddress;
    p.listen(self);
    for (const [host, address] of p.expect.peers) {
      const link = new PeerLink(host, address, self, p.port, p, o.log);
      p.links.set(host, link);
      link.dial();
    }
    return p;
  }

  /** This host applied every revision up to `revision`: tell every peer that asked. */
  send(revision: number): void {
    if (revision <= this.revision) return;
    this.revision = revision;
    this.line = this.ackLine(revision);
    const now = Date.now();
    for (const [host, w] of this.wanted) if (w.until > now) this.answer(host, w.socket, this.line);
  }

  /** On the connection a peer asked on, while it is open; else on any connection to it. */
  private answer(host: string, socket: Socket, line: string): void {
    if (!socket.destroyed) write(socket, line);
    else this.sendTo(host, line);
  }

  /** This daemon waits on acknowledgements: ask every peer (again once half the ask passed). */
  want(): void {
    const now = Date.now();
    if (this.wantUntil - now > WANT_MS / 2) return;
    this.wantUntil = now + WANT_MS;
    const line = this.wantLine();
    // On both connections of each pair: one may be stale (a peer that restarted while our
    // connection to it was cut leaves it "up" here until TCP gives up).
    for (const host of this.expect.peers.keys()) {
      this.links.get(host)?.send(line);
      const s = this.incoming.get(host);
      if (s) write(s, line);
    }
  }

  /** On this daemon's connection to `host` if it is up, else on the peer's connection to it. */
  private sendTo(host: string, line: string): void {
    if (this.links.get(host)?.send(line)) return;
    const s = this.incoming.get(host);
    if (s) write(s, line);
  }

  private ackLine(revision: number): string {
    return encodePeerMessage({ lab: this.expect.lab, host: this.expect.self, applied: revision });
  }

  private wantLine(): string {
    return encodePeerMessage({ lab: this.expect.lab, host: this.expect.self, want: WANT_MS });
  }

  /**
   * What a connection to a peer starts with: our ask (the peer may have restarted), and our newest
   * revision (0 before any), which also tells the peer which host this connection is.
   */
  hello(): string[] {
    return [
      ...(this.wantUntil > Date.now() ? [this.wantLine()] : []),
      this.line ?? this.ackLine(0),
    ];
  }

  /** A line from a peer, on either connection: checked against the socket's source address. */
  receive(value: unknown, socket: Socket, drop: (why: string) => void): void {
    const r = checkPeerMessage(value, socket.remoteAddress, this.expect);
    if ('error' in r) {
      drop(r.error);
      return;
    }
    const m = r.message;
    if (this.sockets.has(socket) && this.incoming.get(m.host) !== socket) {
      // A peer's connection to us, now known to be that host's: our ask goes on it too.
      this.incoming.set(m.host, socket);
      if (this.wantUntil > Date.now()) write(socket, this.wantLine());
    }
    if ('applied' in m) this.o.heard(m.host, m.applied);
    else {
      // Asked: sent from now on, and the newest revision at once.
      this.wanted.set(m.host, { until: Date.now() + m.want, socket });
      if (this.line) this.answer(m.host, socket, this.line);
    }
  }

  private listen(address: string): void {
    if (this.closed) return;
    const server = createServer((socket) => this.serve(socket));
    server.on('error', (e) => {
      if (server.listening) {
        this.o.log(`acknowledgements: [${address}]:${this.port}: ${e.message}`);
        return;
      }
      this.o.log(`acknowledgements: cannot listen on [${address}]:${this.port} (${e.message})`);
      server.close();
      if (this.closed) return;
      this.listenTimer = setTimeout(() => this.listen(address), this.listenRetryMs).unref();
      this.listenRetryMs = Math.min(this.listenRetryMs * 2, RETRY_MAX_MS);
    });
    // Only the fabric address, inside the translator's namespace (the daemon runs in it).
    server.listen({ host: address, port: this.port }, () => {
      this.server = server;
      this.o.log(`acknowledgements: listening on [${address}]:${this.port}`);
    });
  }

  /** A peer's connection: refused unless it comes from a peer's fabric address. */
  private serve(socket: Socket): void {
    const from = canonicalAddress(socket.remoteAddress ?? '');
    if (from === undefined || !this.addresses.has(from)) {
      this.o.log(`acknowledgements: refused a connection from [${socket.remoteAddress}]`);
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const [h, s] of this.incoming) if (s === socket) this.incoming.delete(h);
    });
    socket.on('error', () => socket.destroy());
    readLines(socket, this.o.log, (value, drop) => this.receive(value, socket, drop));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.listenTimer);
    for (const l of this.links.values()) l.close();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
