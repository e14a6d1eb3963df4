// The dashboard of a cluster lab, served by the `flowmig dashboard` process itself: the host
// daemons live in their translators' namespaces, out of a browser's reach, so this process (in
// the root namespace) serves the page, its live feed and /metrics, and passes the page's changes
// to the host daemons like the CLI does. It learns of changes made elsewhere (the CLI, the
// prompt) from host 1's applied revision, asked every 100 ms over its socket, and reads the
// flows again when it moved; its own changes are logged from their answers.
import { changeCluster, clusterHosts, sendFirst } from '../control/cluster/act.js';
import { clusterOf } from '../control/cluster/down.js';
import { readClusterState } from '../control/cluster/state.js';
import { type ClusterFlow, clusterFlows, clusterStatus } from '../control/cluster/status.js';
import { type HttpApi, listenHttp } from '../daemon/http.js';
import { LiveView } from '../daemon/live.js';
import { DaemonMetrics } from '../daemon/metrics.js';
import { type DaemonReply, type DaemonRequest, parseRequest } from '../daemon-api/protocol.js';
import { FlowmigError, InputError } from '../errors.js';
import type { HostdChange, HostdHello } from '../hostd-api/protocol.js';
import type { LabFlow } from '../lab/model.js';
import { VERSION } from '../version.js';
import { clusterLiveLab, clusterReading } from './cluster-view.js';

/** How often host 1's applied revision is asked (a local socket round trip). */
const POLL_MS = 100;

export interface ClusterDashboard {
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

const labFlow = (f: ClusterFlow): LabFlow => ({
  name: f.name,
  address: f.address,
  initiator: f.initiator,
  responder: f.responder,
});

/** Serves cluster lab `id`'s dashboard on `host`:`port` until close(). */
export async function serveClusterDashboard(
  stateDir: string,
  id: string,
  options: { port: number; host?: string; tokenFile: string },
): Promise<ClusterDashboard> {
  const state = await readClusterState(stateDir, id);
  const cluster = state && clusterOf(state);
  if (!cluster) throw new FlowmigError(`no cluster lab ${id} is up (no state file in ${stateDir})`);
  const hosts = await clusterHosts(stateDir, id);
  const startedAt = new Date().toISOString();
  let changes = 0;
  let queued = 0;
  const lab = clusterLiveLab(cluster);
  let view: LiveView | undefined;
  const metrics = new DaemonMetrics(
    { lab: id, engine: cluster.engine, version: VERSION },
    {
      flows: () => view?.flowCount() ?? 0,
      kernel: async () => {
        const r = await (view as LiveView).reading();
        return { drift: r.drift, lateTranslated: r.lateTranslated };
      },
      nodePackets: async () => (view ? view.nodePackets() : {}),
    },
  );
  const live = new LiveView(
    {
      lab,
      version: VERSION,
      flows: async () => (await clusterFlows(stateDir, id)).map(labFlow),
      read: async () =>
        clusterReading(await clusterStatus(stateDir, id), {
          pid: process.pid,
          startedAt,
          changes,
          queued,
        }),
    },
    metrics,
  );
  view = live;
  await live.start();

  // Changes and the poll take turns: a change is logged from its answer before the poll can see
  // the revision it made, so it is never taken for someone else's.
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
    const work = turn.then(fn, fn);
    turn = work.catch(() => {});
    return work;
  };
  let applied: number | undefined;
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    void inTurn(async () => {
      const { result } = await sendFirst<HostdHello>(stateDir, id, hosts, { verb: 'hello' }, 2_000);
      if (applied !== undefined && result.applied !== applied) await live.outsideChange(undefined);
      applied = result.applied;
    })
      .catch(() => {}) // a host daemon restarting: the next poll asks again
      .finally(() => {
        polling = false;
      });
  }, POLL_MS);

  const change = async (r: DaemonRequest & { verb: 'swap' | 'migrate' | 'evacuate' }) => {
    if (r.verb === 'migrate' && r.end !== undefined) {
      const role = lab.nodes.find((n) => n.name === r.node)?.role;
      const wanted = r.end === 'responder' ? 'server' : 'client';
      if (role !== undefined && role !== wanted)
        throw new InputError('', [
          `${r.node} is a ${role}: a flow's ${r.end} moves to a ${wanted}`,
        ]);
    }
    queued++;
    try {
      return await inTurn(async () => {
        const body =
          r.verb === 'swap'
            ? { verb: 'swap' as const, ...(r.flow !== undefined ? { flow: r.flow } : {}) }
            : r.verb === 'migrate'
              ? { verb: 'migrate' as const, flow: r.flow, node: r.node }
              : { verb: 'evacuate' as const, from: r.from, to: r.to };
        const result = await changeCluster<HostdChange>(stateDir, id, body);
        if (result.changed) {
          changes++;
          live.answered(result.moves, { totalMs: result.commitMs + result.appliedMs });
        }
        return result;
      });
    } finally {
      queued--;
    }
  };

  const answer = async (r: DaemonRequest): Promise<unknown> => {
    switch (r.verb) {
      case 'hello':
        return { lab: id, pid: process.pid, startedAt, changes, queued, hosts };
      case 'status':
        return clusterStatus(stateDir, id);
      case 'flows':
        return clusterFlows(stateDir, id);
      case 'swap':
      case 'migrate':
      case 'evacuate':
        return change(r);
      case 'load':
        return live.loads.start(
          lab,
          (await clusterFlows(stateDir, id)).map(labFlow),
          r.kind,
          r.from,
          r.flow,
        );
      case 'unload':
        return live.loads.stop(r.load);
      default:
        throw new FlowmigError(
          `'${r.verb}' is not served by a cluster lab's dashboard; use 'flowmig ${r.verb} --lab ${id}'`,
        );
    }
  };

  let http: HttpApi;
  try {
    http = await listenHttp(
      options.port,
      { tokenFile: options.tokenFile, ...(options.host ? { host: options.host } : {}) },
      {
        api: async (body) => reply(body, answer, (code, flow) => live.failed(flow, code)),
        events: (res) => live.feed.open(res, live.snapshot()),
        metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
      },
    );
  } catch (error) {
    clearInterval(poll);
    await live.close();
    throw error;
  }
  return {
    url: http.url,
    token: http.token,
    close: async () => {
      clearInterval(poll);
      await http.close();
      await live.close();
    },
  };
}

/** One API request's reply: its result, or its error with the daemon's codes. */
async function reply(
  body: string,
  answer: (r: DaemonRequest) => Promise<unknown>,
  failed: (code: 'invalid' | 'refused' | 'failed', flow: string | undefined) => void,
): Promise<DaemonReply> {
  const parsed = parseRequest(body);
  if ('error' in parsed)
    return { id: parsed.id, ok: false, error: parsed.error, code: 'bad-request' };
  const r = parsed.request;
  const id = r.id ?? null;
  try {
    return { id, ok: true, result: await answer(r) };
  } catch (error) {
    // A host daemon's own code (invalid, conflict, no-quorum, ...) when it answered.
    const given = (error as { code?: unknown }).code;
    const code =
      error instanceof InputError || given === 'invalid'
        ? 'invalid'
        : error instanceof FlowmigError && given === undefined
          ? 'refused'
          : 'failed';
    if (r.verb === 'swap' || r.verb === 'migrate') failed(code, r.flow);
    return { id, ok: false, error: error instanceof Error ? error.message : String(error), code };
  }
}
