// The state of one established TCP socket, as checkpointed with the kernel's TCP repair mode:
// everything needed to rebuild it in another network namespace. Plain JSON (queues in base64), so
// it can cross a local channel between processes.

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** TCP_REPAIR_WINDOW (struct tcp_repair_window). */
export interface RepairWindow {
  readonly sndWl1: number;
  readonly sndWnd: number;
  readonly maxWindow: number;
  readonly rcvWnd: number;
  readonly rcvWup: number;
}

export interface TcpSocketState {
  readonly version: 1;
  /** The socket's own address and port (getsockname). */
  readonly local: Endpoint;
  /** The peer as this socket sees it (getpeername): after the translator's NAT. */
  readonly peer: Endpoint;
  /** TCP_QUEUE_SEQ of the send queue: the sequence number after the last byte queued (write_seq). */
  readonly sendSeq: number;
  /** TCP_QUEUE_SEQ of the receive queue: the next sequence number expected (rcv_nxt). */
  readonly recvSeq: number;
  /** The send queue (SIOCOUTQ bytes: sent but unacknowledged, then never sent), base64. */
  readonly sendQueue: string;
  /** How many bytes at the end of sendQueue were never sent (SIOCOUTQNSD). */
  readonly unsent: number;
  /** Received bytes the application has not read (SIOCINQ), base64. */
  readonly recvQueue: string;
  /** TCP_MAXSEG read in repair mode (the MSS clamp). */
  readonly mss: number;
  /** TCP_TIMESTAMP: the socket's timestamp clock (the peer's PAWS check needs it continued). */
  readonly timestamp: number;
  readonly window: RepairWindow;
  /** tcpi_options: TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_SACK 2, TCPI_OPT_WSCALE 4. */
  readonly options: number;
  readonly sndWscale: number;
  readonly rcvWscale: number;
}

/** A restored socket: out of repair mode, silent until its owner writes to it. */
export interface RestoredSocket {
  readonly fd: number;
  /** Bytes that were never sent by the old socket: the owner writes them once it may speak. */
  readonly unsent: Buffer;
  /** Time spent in kernel calls, ms. */
  readonly restoreMs: number;
}
