// The CLI's side of cluster labs: telling one from a single-host lab, and rendering its status,
// flows, changes and removal for the terminal.
import { existsSync } from 'node:fs';
import type { ClusterDownResult } from '../control/cluster/down.js';
import type { ClusterFlow, ClusterStatus, HostView } from '../control/cluster/status.js';
import type { ClusterView, HostdChange, HostdRequestBody } from '../hostd-api/protocol.js';
import { CLUSTER_STATE_SUFFIX } from '../state/lab-ids.js';
import { print } from './output.js';
import { FLOWS_PAGE, type FlowPage, STATUS_FLOWS, table } from './render.js';

/** Whether lab `id` of `stateDir` is a cluster lab that is up (it has a cluster state file). */
export function isClusterUp(stateDir: string, id: string): boolean {
  return existsSync(`${stateDir}/${id}${CLUSTER_STATE_SUFFIX}`);
}

/** Sends a change to the cluster lab's first answering host daemon and prints what it did. */
export async function changeOnCluster(
  stateDir: string,
  id: string,
  body: HostdRequestBody,
  json: boolean | undefined,
): Promise<void> {
  const { changeCluster } = await import('../control/cluster/act.js');
  const r = await changeCluster<HostdChange>(stateDir, id, body);
  print(json, r, renderClusterChange(r));
}

const count = (n: number) => n.toLocaleString('en');

/**
 * One host's row: its daemon, lease, applied revision, lag, flows by responder, ingress flows. The
 * lag is etcd's view (`cluster`: flow changes the host has not applied) when a daemon gave it, the
 * host's own otherwise.
 */
function hostRow(h: HostView, view: ClusterView | undefined): string[] {
  const s = h.status;
  if (!s) return [h.host, `NOT ANSWERING (${h.error ?? 'no answer'})`, '-', '-', '-', '-', '-'];
  const by = Object.entries(s.byResponder)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, n]) => `${node}:${count(n)}`)
    .join(' ');
  const behind = view?.hosts.find((c) => c.host === h.host)?.lag ?? s.lag;
  const lag = behind === undefined ? '?' : behind === 0 ? '0 (in sync)' : `${count(behind)} BEHIND`;
  return [
    h.host,
    `pid ${s.pid}${s.error ? ` (${s.error})` : ''}`,
    s.leaseAlive ? 'alive' : 'EXPIRED',
    String(s.applied),
    lag,
    by || 'none',
    count(s.ingress),
  ];
}

const HOST_HEADER = ['HOST', 'DAEMON', 'LEASE', 'APPLIED', 'LAG', 'FLOWS BY RESPONDER', 'INGRESS'];
const FLOW_HEADER = ['FLOW', 'NAME', 'INITIATOR', 'RESPONDER', 'REVISION'];

function flowRows(flows: readonly ClusterFlow[], from: number, to: number): string[][] {
  return flows
    .slice(from, to)
    .map((f) => [
      f.address,
      f.name ?? '-',
      f.initiator,
      f.responder,
      f.revision === undefined ? '-' : String(f.revision),
    ]);
}

/** One page of a cluster's flows, and which page it is when it is not all of them. */
export function renderClusterFlows(s: ClusterStatus, page: FlowPage = {}): string {
  if (s.flowsError) return `flows: not available (${s.flowsError})`;
  const total = s.flows.length;
  const from = Math.max(0, page.offset ?? 0);
  const to = Math.min(total, from + Math.max(0, page.limit ?? FLOWS_PAGE));
  const rows = table([FLOW_HEADER, ...flowRows(s.flows, from, to)]);
  if (from === 0 && to === total) return rows;
  if (from >= total)
    return `${rows}\nno flow at offset ${count(from)}: the lab has ${count(total)} flow(s)`;
  const next = to < total ? `--offset ${to} for the next page, ` : '';
  return `${rows}\nflows ${count(from + 1)}-${count(to)} of ${count(total)}; ${next}--limit N for longer pages, --json for all`;
}

export function renderClusterStatus(s: ClusterStatus): string {
  const answering = s.hosts.filter((h) => h.answering).length;
  const members = s.members
    .map((m) => `${m.name} pid ${m.pid}${m.running ? '' : ' (GONE)'}`)
    .join(', ');
  const revision = s.cluster
    ? `table revision ${s.cluster.revision}`
    : `etcd not reachable (${s.clusterError ?? 'no host daemon answers'})`;
  const lines = [
    `cluster lab ${s.id}: ${s.hosts.length} host(s), ${answering} answering, engine ${s.engine}; ${revision}`,
    `  built at ${s.createdAt}; state ${s.stateFile}`,
    `  etcd: ${members || 'no member on record'}`,
    '',
    table([HOST_HEADER, ...s.hosts.map((h) => hostRow(h, s.cluster))]),
    '',
  ];
  if (s.flowsError) lines.push(`flows: not available (${s.flowsError})`);
  else {
    lines.push(`flows: ${count(s.flows.length)}`);
    lines.push(table([FLOW_HEADER, ...flowRows(s.flows, 0, STATUS_FLOWS)]));
    if (s.flows.length > STATUS_FLOWS)
      lines.push(
        `… and ${count(s.flows.length - STATUS_FLOWS)} more ('flowmig flows --lab ${s.id}' pages them)`,
      );
  }
  return lines.join('\n');
}

/** A change committed to the cluster's table, and who applied it. */
export function renderClusterChange(r: HostdChange): string {
  if (!r.changed) {
    const where = r.moves.map((m) => `${m.flow} is on ${m.to}`).join(', ');
    return `nothing changed${where ? ` (${where})` : ''}`;
  }
  const moves = r.moves.map((m) => `flow ${m.flow}: ${m.from} → ${m.to}`).join('\n');
  return `${moves}\nrevision ${r.revision}: committed in ${r.commitMs.toFixed(1)} ms, applied by ${r.appliedBy.join(', ') || 'no live translator'} ${r.appliedMs.toFixed(1)} ms later`;
}

export function renderClusterDown(r: ClusterDownResult): string {
  const text = r.removed.length
    ? `cluster lab ${r.id} torn down (removed ${r.removed.join(', ')})`
    : `cluster lab ${r.id}: no namespace to remove`;
  const procs = r.stopped.hostds.length + r.stopped.members.length;
  const stopped = procs
    ? `; stopped ${r.stopped.hostds.length} host daemon(s), ${r.stopped.members.length} etcd member(s)`
    : '';
  const skipped = r.skipped.length ? `\nleft alone (not this lab's): ${r.skipped.join(', ')}` : '';
  const damaged = r.damagedState
    ? `\nits state file ${r.damagedState} was damaged: the lab was found by its marks and processes, and the file removed`
    : '';
  return text + stopped + skipped + damaged;
}
