// Direct acknowledgements between host daemons over the fabric: each daemon listens on its
// translator's fabric address and keeps one connection to every peer, on which it sends each
// revision it applied to the peers that asked (a daemon answering changes asks every peer for
// 10 s at a time, and is sent the peer's newest revision at once). A change's answer then waits on
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

/** One peer's outgoing connection: kept up; on (re)connect, told our ask and newest revision. */
class PeerLink {
  /** Until when (Date.now()) the peer asked for this host's acknowledgements. */
  wantedUntil = 0;
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
    private readonly hello: () => string[],
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
      for (const line of this.hello()) s.write(line);
    });
    s.on('data', () => {}); // nothing is sent back; read so the socket's buffer never fills
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

  send(line: string): void {
    const s = this.socket;
    if (!this.up || !s) return; // sent on connect instead (only the newest revision matters)
    if (s.writableLength > MAX_QUEUED_BYTES) {
      s.destroy(new Error(`over ${MAX_QUEUED_BYTES} bytes queued`));
      return;
    }
    s.write(line);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

export class PeerAcks {
  private server: Server | undefined;
  private readonly links: PeerLink[] = [];
  private readonly incoming = new Set<Socket>();
  private readonly expect: PeerExpect;
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
      const link = new PeerLink(host, address, self, p.port, () => p.hello(), o.log);
      p.links.push(link);
      link.dial();
    }
    return p;
  }

  /** This host applied every revision up to `revision`: tell every peer that asked. */
  send(revision: number): void {
    if (revision <= this.revision) return;
    this.revision = revision;
    this.line = encodePeerMessage({
      lab: this.expect.lab,
      host: this.expect.self,
      applied: revision,
    });
    const now = Date.now();
    for (const l of this.links) if (l.wantedUntil > now) l.send(this.line);
  }

  /** This daemon waits on acknowledgements: ask every peer (again once half the ask passed). */
  want(): void {
    const now = Date.now();
    if (this.wantUntil - now > WANT_MS / 2) return;
    this.wantUntil = now + WANT_MS;
    const line = this.wantLine();
    for (const l of this.links) l.send(line);
  }

  private wantLine(): string {
    return encodePeerMessage({ lab: this.expect.lab, host: this.expect.self, want: WANT_MS });
  }

  /** What a link sends on (re)connecting: our ask (the peer may have restarted) and our newest. */
  private hello(): string[] {
    return [
      ...(this.wantUntil > Date.now() ? [this.wantLine()] : []),
      ...(this.line ? [this.line] : []),
    ];
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

  /** One peer's incoming connection: every line checked, a bad one dropped and logged. */
  private serve(socket: Socket): void {
    this.incoming.add(socket);
    socket.on('close', () => this.incoming.delete(socket));
    socket.on('error', () => socket.destroy());
    const from = socket.remoteAddress;
    let bad = 0;
    const drop = (why: string) => {
      bad++;
      if (bad <= BAD_LOGGED)
        this.o.log(
          `acknowledgements: dropped a message from [${from}]: ${why}${bad === BAD_LOGGED ? ' (further ones not logged)' : ''}`,
        );
    };
    const reader = jsonLines.reader({
      limit: MAX_PEER_LINE_BYTES,
      onMessage: (value) => {
        const r = checkPeerMessage(value, from, this.expect);
        if ('error' in r) drop(r.error);
        else if ('applied' in r.message) this.o.heard(r.message.host, r.message.applied);
        else this.asked(r.message.host, r.message.want);
      },
      onBadJson: () => drop('not JSON'),
      onOversize: () => drop(`line over ${MAX_PEER_LINE_BYTES} bytes`),
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('end', () => {
      reader.end();
      socket.end();
    });
  }

  /** A peer asked for acknowledgements: sent from now on, and the newest one at once. */
  private asked(host: string, ms: number): void {
    const link = this.links.find((l) => l.host === host);
    if (!link) return;
    link.wantedUntil = Date.now() + ms;
    if (this.line) link.send(this.line);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.listenTimer);
    for (const l of this.links) l.close();
    for (const s of this.incoming) s.destroy();
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
