// The daemon's server: owns one lab through the controller, serves the local API on a Unix socket
// that only root can open (and, if asked, over HTTP on 127.0.0.1 with a bearer token), and applies
// changes in arrival order: swaps and migrations that arrive while a batch is applied go together
// as the next batch (group commit), every other change alone.
import type { Flowmig, Move, MoveOutcome } from '../control/flowmig.js';
import {
  type BatchSizes,
  checkRequest,
  type DaemonReply,
  type DaemonRequest,
  type HelloReply,
  MAX_REQUEST_BYTES,
  MUTATING,
  NOT_JSON,
  parseRequest,
} from '../daemon-api/protocol.js';
import { CommandError, FlowmigError, InputError } from '../errors.js';
import { RpcServer } from '../rpc/server.js';
import { VERSION } from '../version.js';
import { type HttpApi, type HttpOptions, listenHttp } from './http.js';
import { LiveView, liveStatus } from './live.js';
import { singleHostLab } from './live-lab.js';
import { DaemonMetrics } from './metrics.js';
import { watchState } from './watch.js';

export interface DaemonHooks {
  /** Called after a `down` request tore the lab down and its reply was sent. */
  readonly onDown?: () => void;
}

/**
 * Invalid: bad input (an unknown flow or node, a bad argument), the CLI's exit code 2. Refused: the
 * request cannot be done now (lab not up, daemon shutting down). Failed: it was tried and something
 * broke (a program failed, a bug).
 */
function errorCode(error: unknown): 'invalid' | 'refused' | 'failed' {
  if (error instanceof InputError) return 'invalid';
  return error instanceof FlowmigError && !(error instanceof CommandError) ? 'refused' : 'failed';
}

type Checked = ReturnType<typeof checkRequest>;

/** A batch of moves waiting for its turn; it takes more until it starts. */
interface Batch {
  readonly moves: Move[];
  /** Settled with the batch's outcomes (one per move, in order). */
  readonly done: Promise<MoveOutcome[]>;
}

/** The histogram bucket of a batch of `n` moves. */
function bucketOf(n: number): keyof BatchSizes {
  return n <= 1 ? '1' : n < 10 ? '2-9' : n < 100 ? '10-99' : '100+';
}

export class DaemonServer {
  private queue: Promise<unknown> = Promise.resolve();
  /** The batch at the end of the queue, still taking moves (none: the next move starts one). */
  private open: Batch | undefined;
  private changes = 0;
  private queued = 0;
  private batches = 0;
  private readonly sizes: BatchSizes = { '1': 0, '2-9': 0, '10-99': 0, '100+': 0 };
  private readonly startedAt = new Date().toISOString();
  private closed = false;
  private rpc: RpcServer | undefined;
  private http: HttpApi | undefined;
  private httpInfo: { url: string; tokenFile: string } | undefined;
  /** With the HTTP listener: what the dashboard sees, and the metrics. */
  private live: LiveView | undefined;
  private unwatch: (() => void)[] = [];
  private drainTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly fm: Flowmig,
    readonly lab: string,
    readonly socketPath: string,
    private readonly hooks: DaemonHooks,
  ) {}

  /** Listens on `socketPath` (a stale socket file there is replaced), mode 0600. */
  static async start(
    fm: Flowmig,
    lab: string,
    socketPath: string,
    hooks: DaemonHooks = {},
  ): Promise<DaemonServer> {
    const daemon = new DaemonServer(fm, lab, socketPath, hooks);
    // The caller recorded itself as the lab's daemon first (refused while another runs), so
    // whatever is at the path is left over.
    daemon.rpc = await RpcServer.listen({
      path: socketPath,
      existing: 'replace',
      connection: {
        maxRequestBytes: MAX_REQUEST_BYTES,
        onRequest: (value, peer) =>
          daemon.answer(checkRequest(value), (r) => peer.send(r), peer.closed),
        badJson: () => ({ id: null, ok: false, error: NOT_JSON, code: 'bad-request' }),
        // A longer line is refused whole and its connection closed: nothing after it runs.
        oversize: () => ({
          id: null,
          ok: false,
          error: `request too large (over ${MAX_REQUEST_BYTES} bytes)`,
          code: 'too-large',
        }),
        afterOversize: 'close',
      },
    });
    daemon.drainTimer = setInterval(() => daemon.endDrains(), 1_000);
    daemon.drainTimer.unref();
    return daemon;
  }

  /** Ends due drains (flows with `tcp: drain`) in turn with the other changes. */
  private endDrains(): void {
    if (this.closed) return;
    const work = this.queue.then(() => this.fm.endDrains(this.lab));
    this.queue = work.catch(() => {}); // a lab being torn down has nothing to drain
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.drainTimer);
    for (const stop of this.unwatch.splice(0)) stop();
    await this.http?.close();
    await this.live?.close();
    await this.rpc?.close();
  }

  /**
   * Answers one request with `send`; after a successful `down`, closes the daemon. `peerGone`: when
   * the requester's connection goes (a Unix socket's; HTTP has none, so it cannot borrow the lock).
   */
  private async answer(
    checked: Checked,
    send: (reply: DaemonReply) => void,
    peerGone?: Promise<void>,
  ): Promise<void> {
    const { reply, down } = await this.dispatch(checked, peerGone);
    send(reply);
    if (down) void this.close().then(() => this.hooks.onDown?.());
  }

  /** Answers one request (never rejects); `down` says a successful `down` must close the daemon. */
  private async dispatch(
    checked: Checked,
    peerGone?: Promise<void>,
  ): Promise<{ reply: DaemonReply; down: boolean }> {
    if ('error' in checked) {
      return {
        reply: { id: checked.id, ok: false, error: checked.error, code: 'bad-request' },
        down: false,
      };
    }
    const r = checked.request;
    const id = r.id ?? null;
    let work: Promise<unknown>;
    if (r.verb === 'lend') work = this.lend(peerGone);
    else if (MUTATING.has(r.verb)) {
      this.queued++;
      work = r.verb === 'swap' || r.verb === 'migrate' ? this.run(r) : this.alone(r);
      // then, not finally: a refused change must not leave a rejected promise unhandled.
      void work.then(
        () => this.queued--,
        () => this.queued--,
      );
    } else work = this.run(r);
    try {
      const result = await work;
      return { reply: { id, ok: true, result }, down: r.verb === 'down' };
    } catch (error) {
      // A swap or migration that was not applied counts in the metrics, by why.
      if (r.verb === 'swap' || r.verb === 'migrate') this.live?.failed(r.flow, errorCode(error));
      return {
        reply: {
          id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
          code: errorCode(error),
        },
        down: false,
      };
    }
  }

  /**
   * Also serves over HTTP (127.0.0.1 unless `options.host`): the API (`POST /api` with one request
   * as the body, header `Authorization: Bearer <token>`), the dashboard page and its live events,
   * and /metrics. The token is random per start; with `tokenFile` it is written there (0600)
   * before the listener opens, and removed by close().
   */
  async startHttp(
    port = 0,
    options: Pick<HttpOptions, 'tokenFile' | 'host' | 'pageDir'> = {},
  ): Promise<{ url: string; token: string }> {
    const lab = await this.fm.lab(this.lab);
    let live: LiveView | undefined;
    const metrics = new DaemonMetrics(
      { lab: this.lab, engine: lab.engine, version: VERSION },
      {
        flows: () => live?.flowCount() ?? 0,
        kernel: async () => {
          const r = await (live as LiveView).reading();
          return { drift: r.drift, lateTranslated: r.lateTranslated };
        },
        nodePackets: async () => (live ? live.nodePackets() : {}),
      },
    );
    live = new LiveView(
      {
        lab: singleHostLab(lab),
        version: VERSION,
        flows: () => this.fm.flows(this.lab),
        read: async () => {
          const st = await this.fm.status(this.lab);
          return {
            status: liveStatus(st, {
              pid: process.pid,
              startedAt: this.startedAt,
              changes: this.changes,
              queued: this.queued,
            }),
            drift: st.drift.length > 0,
            lateTranslated: st.late.translated,
          };
        },
      },
      metrics,
    );
    const view = live;
    await view.start();
    this.live = view;
    this.unwatch.push(this.fm.onChange((event) => view.changed(event)));
    // Changes by other processes (the library, --direct) show through the state files.
    this.unwatch.push(watchState(this.fm.store.dir, this.lab, () => this.readOutside(view)));
    const http = await listenHttp(port, options, {
      api: async (body) => {
        let reply: DaemonReply | undefined;
        await this.answer(parseRequest(body), (r) => {
          reply = r;
        });
        return reply as DaemonReply;
      },
      events: (res) => view.feed.open(res, view.snapshot()),
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
    });
    this.http = http;
    if (options.tokenFile !== undefined)
      this.httpInfo = { url: http.url, tokenFile: options.tokenFile };
    return { url: http.url, token: http.token };
  }

  /**
   * Lends the lab's lock (held for the daemon's lifetime) to the requester, in turn with the
   * changes: answered once it is released; the daemon's next change waits until the requester's
   * connection is gone and takes it back (see StateStore.lend). How `--direct` and `down` from
   * another process change the lab while the daemon runs.
   */
  private lend(peerGone: Promise<void> | undefined): Promise<unknown> {
    if (!peerGone)
      return Promise.reject(
        new FlowmigError(
          "'lend' is served on the daemon's Unix socket only (the loan ends with the connection)",
        ),
      );
    this.open = undefined;
    const run = async () => {
      await this.fm.store.lend(this.lab, peerGone);
      return { lent: true };
    };
    const work = this.queue.then(run, run);
    this.queue = work.catch(() => {});
    return work;
  }

  /** Queues a change that runs alone, in arrival order (after the batch open now, if any). */
  private alone(r: DaemonRequest): Promise<unknown> {
    // The moves that arrive after it wait for it, in a batch of their own.
    this.open = undefined;
    const run = () => this.run(r);
    const work = this.queue.then(run, run);
    this.queue = work.catch(() => {});
    return work;
  }

  /**
   * Queues a move in the open batch, or in a new one at the end of the queue; resolves with its
   * result (or rejects with its own error) once its batch is applied and committed.
   */
  private async move(move: Move): Promise<unknown> {
    let batch = this.open;
    let at: number;
    if (batch) {
      at = batch.moves.push(move) - 1;
    } else {
      const moves: Move[] = [move];
      at = 0;
      const run = () => {
        // Started: what arrives from now on goes to the next batch.
        if (this.open === batch) this.open = undefined;
        return this.runBatch(moves);
      };
      const done = this.queue.then(run, run);
      batch = { moves, done };
      this.open = batch;
      this.queue = done.catch(() => {});
    }
    const outcome = (await batch.done)[at];
    if (!outcome) throw new Error('a move of the batch has no outcome');
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  private async runBatch(moves: readonly Move[]): Promise<MoveOutcome[]> {
    if (this.closed) throw new FlowmigError(`the daemon of lab ${this.lab} is shutting down`);
    const outcomes = await this.fm.changeMany(this.lab, moves);
    this.batches++;
    this.sizes[bucketOf(moves.length)]++;
    this.changes += outcomes.filter((o) => o.ok).length;
    return outcomes;
  }

  private async run(r: DaemonRequest): Promise<unknown> {
    if (this.closed) throw new FlowmigError(`the daemon of lab ${this.lab} is shutting down`);
    switch (r.verb) {
      case 'hello':
        return {
          lab: this.lab,
          pid: process.pid,
          socket: this.socketPath,
          startedAt: this.startedAt,
          changes: this.changes,
          queued: this.queued,
          batches: this.batches,
          sizes: { ...this.sizes },
          ...(this.httpInfo ? { http: { ...this.httpInfo } } : {}),
        } satisfies HelloReply;
      case 'status':
        return this.fm.status(this.lab);
      case 'flows':
        return this.fm.flows(this.lab);
      case 'swap':
      case 'migrate':
        if (r.verb === 'migrate' && r.end !== undefined) await this.checkEnd(r.node, r.end);
        return this.move(
          r.verb === 'swap'
            ? { kind: 'swap', flow: r.flow }
            : { kind: 'migrate', flow: r.flow, node: r.node },
        );
      case 'evacuate':
        return this.counted(this.fm.evacuate(this.lab, r.from, r.to));
      case 'reconcile':
        return this.counted(this.fm.reconcile(this.lab));
      case 'down':
        return this.fm.down(this.lab);
      case 'serve':
        return this.fm.serve(this.lab, {
          ...(r.port !== undefined ? { port: r.port } : {}),
          ...(r.mode !== undefined ? { mode: r.mode } : {}),
          ...(r.nodes !== undefined ? { nodes: r.nodes } : {}),
        });
      case 'unserve':
        return this.fm.unserve(this.lab, r.nodes);
      case 'lend':
        return this.lend(undefined);
      case 'load':
        return this.liveView().loads.start(
          singleHostLab(await this.fm.lab(this.lab)),
          await this.fm.flows(this.lab),
          r.kind,
          r.from,
          r.flow,
        );
      case 'unload':
        return this.liveView().loads.stop(r.load);
    }
  }

  /**
   * Looks for another process's change in the state files, in turn with the changes: the one under
   * way has told the view of itself by then (a change is announced after its commit, which is what
   * woke the watcher), and another process changes the lab only while it holds the lock this
   * queue lends. Files that are still this daemon's own last write are not read again.
   */
  private readOutside(view: LiveView): void {
    const run = async () => {
      if (this.closed || this.fm.store.unchangedSince(this.lab)) return;
      const st = await this.fm.store.read(this.lab);
      if (st) await view.outsideChange(st.lastMigration);
    };
    const work = this.queue.then(run, run);
    this.queue = work.catch(() => {}); // the lab is going down
  }

  /** Refuses a migration whose node cannot take the end the caller means to move. */
  private async checkEnd(node: string, end: 'responder' | 'initiator'): Promise<void> {
    const role = (await this.fm.lab(this.lab)).nodes.find((n) => n.name === node)?.role;
    const wanted = end === 'responder' ? 'server' : 'client';
    if (role !== undefined && role !== wanted)
      throw new InputError('', [`${node} is a ${role}: a flow's ${end} moves to a ${wanted}`]);
  }

  private liveView(): LiveView {
    if (!this.live)
      throw new FlowmigError(
        `traffic loads run with the daemon's HTTP listener: 'flowmig dashboard --lab ${this.lab}'`,
      );
    return this.live;
  }

  private async counted<T>(p: Promise<T>): Promise<T> {
    const result = await p;
    this.changes++;
    return result;
  }
}
