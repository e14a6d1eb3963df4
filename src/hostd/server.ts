// The host daemon's socket: answers src/hostd-api requests from the host's state and the table
// (reads) and through HostChanges (changes), with an error code a caller can act on.
import { ConflictError, LagError, UnknownFlowError } from '../cluster/errors.js';
import { currentRevision } from '../cluster/flows.js';
import { InputError } from '../errors.js';
import { EtcdCallError } from '../etcd/errors.js';
import {
  type ClusterView,
  type HostdHello,
  type HostdReply,
  type HostdRequest,
  type HostdStatus,
  MAX_HOSTD_REQUEST_BYTES,
  parseHostdRequest,
} from '../hostd-api/protocol.js';
import { RpcServer } from '../rpc/server.js';
import { flowView, HostChanges } from './changes.js';
import type { HostCore } from './host.js';
import { isIngress } from './view.js';

/** The reply code of an error: what a caller (and the CLI's exit code) makes of it. */
export function codeOf(error: unknown): string {
  if (error instanceof InputError || error instanceof UnknownFlowError) return 'invalid';
  if (error instanceof ConflictError) return 'conflict';
  if (error instanceof LagError) return 'lag';
  if (error instanceof EtcdCallError)
    return error.kind === 'no-quorum'
      ? 'no-quorum'
      : error.kind === 'unreachable'
        ? 'unreachable'
        : 'failed';
  return 'failed';
}

export class HostServer {
  private rpc: RpcServer | undefined;
  private readonly changes: HostChanges;
  private readonly startedAt = new Date().toISOString();

  private constructor(
    private readonly core: HostCore,
    readonly socketPath: string,
  ) {
    this.changes = new HostChanges(core);
  }

  static async listen(core: HostCore, socketPath: string): Promise<HostServer> {
    const server = new HostServer(core, socketPath);
    server.rpc = await RpcServer.listen({
      path: socketPath,
      existing: 'replace',
      connection: {
        maxRequestBytes: MAX_HOSTD_REQUEST_BYTES,
        onRequest: (value, peer) => server.answer(value).then((r) => peer.send(r)),
        badJson: () => ({
          id: null,
          ok: false,
          error: 'malformed request: not JSON',
          code: 'invalid',
        }),
        oversize: () => ({
          id: null,
          ok: false,
          error: `request too large (over ${MAX_HOSTD_REQUEST_BYTES} bytes)`,
          code: 'invalid',
        }),
        afterOversize: 'close',
      },
    });
    return server;
  }

  async answer(value: unknown): Promise<HostdReply> {
    const parsed = parseHostdRequest(value);
    if ('error' in parsed)
      return { id: parsed.id, ok: false, error: parsed.error, code: 'invalid' };
    const id = parsed.request.id ?? null;
    try {
      return { id, ok: true, result: await this.run(parsed.request) };
    } catch (error) {
      return { id, ok: false, error: (error as Error).message, code: codeOf(error) };
    }
  }

  private hello(): HostdHello {
    return {
      lab: this.core.view.lab,
      host: this.core.view.self.name,
      pid: process.pid,
      socket: this.socketPath,
      startedAt: this.startedAt,
      applied: this.core.revision,
    };
  }

  private async run(r: HostdRequest): Promise<unknown> {
    switch (r.verb) {
      case 'hello':
        return this.hello();
      case 'status':
        return this.status();
      case 'cluster':
        return this.cluster();
      case 'flows':
        return {
          revision: this.core.revision,
          flows: [...this.core.applied].map(([a, v]) => flowView(this.changes, a, v)),
        };
      case 'load':
        return this.changes.load(r.waitMs);
      case 'swap':
        return this.changes.swap(r.flow, r.waitMs);
      case 'migrate':
        return this.changes.migrate(r.flow, r.node, r.waitMs);
      case 'evacuate':
        return this.changes.evacuate(r.from, r.to, r.waitMs);
      case 'trace':
        return this.core.trace.snapshot(this.core.view.self.name);
    }
  }

  private async status(): Promise<HostdStatus> {
    const revision = await currentRevision(this.core.client).catch(() => undefined);
    // Everything below is read in one go, after the only wait: a status is one moment's (read
    // before the wait, the flows could be from before a catch-up whose revision it then reports).
    const byResponder: Record<string, number> = {};
    let ingress = 0;
    for (const v of this.core.applied.values()) {
      const node = this.changes.nodeName(v.responder);
      byResponder[node] = (byResponder[node] ?? 0) + 1;
      if (isIngress(this.core.view, v)) ingress++;
    }
    return {
      ...this.hello(),
      leaseAlive: this.core.registration !== undefined,
      // Lag counts the flow changes this host knows of and has not applied: other writes (every
      // host's applied revision, leases) move etcd's revision too.
      ...(revision !== undefined
        ? { revision, lag: Math.max(0, this.core.seen - this.core.revision) }
        : {}),
      byResponder,
      ingress,
      problems: this.core.problems,
      ...(this.core.lastError ? { error: this.core.lastError } : {}),
    };
  }

  private async cluster(): Promise<ClusterView> {
    const [{ translators }, applied, revision] = await Promise.all([
      this.core.table.translators(),
      this.core.table.applied(),
      currentRevision(this.core.client),
    ]);
    const live = new Map(translators.map((t) => [t.host, t]));
    return {
      revision,
      hosts: this.core.view.cluster.hosts.map((h) => {
        // The applied keys are written at most every 100 ms (host.ts): what this daemon heard
        // from the host itself (its acknowledgements) may be newer.
        const known = [applied.hosts.get(h.name), this.core.acks.of(h.name)].filter(
          (x): x is number => x !== undefined,
        );
        const a = known.length ? Math.max(...known) : undefined;
        const t = live.get(h.name);
        return {
          host: h.name,
          live: t !== undefined,
          ...(a !== undefined ? { applied: a, lag: Math.max(0, this.core.seen - a) } : {}),
          ...(t ? { pid: t.pid } : {}),
        };
      }),
    };
  }

  async close(): Promise<void> {
    await this.rpc?.close();
  }
}
