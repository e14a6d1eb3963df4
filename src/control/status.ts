// What a lab looks like now: its recorded state checked against the kernel (namespaces, marks,
// the translator's tables and conntrack), the drift from the desired flow table, and its repair.
import { parseConntrackList } from '../engines/conntrack.js';
import type { FlowMapping } from '../engines/engine.js';
import { holdTable } from '../engines/hold.js';
import { type LateState, lateTable } from '../engines/late.js';
import { engineFor } from '../engines/registry.js';
import { FlowmigError } from '../errors.js';
import { execute } from '../exec/execute.js';
import { ownershipMark } from '../lab/names.js';
import { mappingsFor } from '../plan/build.js';
import type { Op } from '../plan/ops.js';
import type { LabState } from '../state/store.js';
import type { ApplyPaths } from './apply-path.js';
import { daemonRuns } from './daemon-record.js';
import { listNamespaces, namespaceLinks } from './kernel.js';
import { type ControlContext, fromStateFlow, isAlive, labOf } from './lab-state.js';
import type { FlowStatus, LabStatus, NodeStatus, ReconcileResult } from './results.js';
import { serverStatus } from './serving.js';
import { readTranslator, type TranslatorView } from './translator-view.js';

/** What most flows have: no TCP connection left on a former responder, no drain (shared). */
const NONE: FlowStatus['draining'] = Object.freeze({});
const NO_DRAINS: FlowStatus['drains'] = Object.freeze([]);

const noLateTable = (): LateState => ({
  installed: false,
  initiators: new Map(),
  former: [],
  translated: 0,
  afterConntrack: 0,
});

/** The lab as recorded, checked against what the kernel shows. */
export async function labStatus(
  ctx: ControlContext,
  paths: ApplyPaths,
  id: string,
): Promise<LabStatus> {
  const { runner, store } = ctx;
  const state = await store.read(id);
  if (!state) throw new FlowmigError(`no lab '${id}' is up`);
  const lab = labOf(state);
  const engine = engineFor(lab.engine);
  const existing = await listNamespaces(runner);
  const mark = ownershipMark(id);
  const nodes: NodeStatus[] = [];
  for (const n of lab.nodes) {
    const present = existing.has(n.netns);
    const owned = present && (await namespaceLinks(runner, n.netns)).mark === mark;
    nodes.push({ name: n.name, role: n.role, netns: n.netns, present, owned });
  }
  const t = lab.translator.netns;
  let installed = false;
  let kernel = new Map<string, string>();
  let late = noLateTable();
  let drift = [`translator namespace ${t} is missing`];
  if (existing.has(t)) {
    const view = await readTranslator(ctx, lab);
    const { table } = view;
    late = view.late;
    drift = driftOf(engine.name, mappingsFor(lab, state.flows.map(fromStateFlow)), view);
    installed = table.installed && late.installed;
    kernel = new Map(
      table.mappings.map((m) => [
        m.address,
        // The late table must name the same initiator for the flow's late packets.
        late.initiators.get(m.address) === m.initiatorAddress ? m.responderAddress : '',
      ]),
    );
  }
  const entries = new Map<string, number>();
  // flow → node → TCP entries translated to a server that is not the flow's responder now.
  const tcpOn = new Map<string, Map<string, number>>();
  const nodeAt = new Map(lab.links.map((l) => [l.address.address, l.node]));
  if (existing.has(t)) {
    const list = await runner.run(['conntrack', '-L', '-f', 'ipv6'], {
      netns: t,
      okExitCodes: [0, 1],
    });
    for (const e of parseConntrackList(list.stdout)) {
      entries.set(e.origDst, (entries.get(e.origDst) ?? 0) + 1);
      const node = nodeAt.get(e.replySrc);
      if (e.protocol !== 'tcp' || !node) continue;
      const perNode = tcpOn.get(e.origDst) ?? new Map<string, number>();
      perNode.set(node, (perNode.get(node) ?? 0) + 1);
      tcpOn.set(e.origDst, perNode);
    }
  }
  const now = Date.now();
  const controlPath = await paths.controlPath(state, lab);
  const daemon = state.daemon
    ? { ...state.daemon, running: await daemonRuns(id, state.daemon, store.dir) }
    : undefined;
  // Looked up per flow: a lab may have 100,000 flows and a handful of nodes and drains.
  const addressOf = new Map(lab.links.map((l) => [l.node, l.address.address]));
  const drainsOf = new Map<string, FlowStatus['drains'][number][]>();
  for (const d of state.draining ?? []) {
    const list = drainsOf.get(d.flow) ?? [];
    list.push({ responder: d.responder, endsInMs: Math.max(0, d.until - now) });
    drainsOf.set(d.flow, list);
  }
  const flows = state.flows.map((f): FlowStatus => {
    const kernelResponder = kernel.get(f.address);
    const on = tcpOn.get(f.address);
    // Written out, not spread from fromStateFlow: this runs once per flow of the lab.
    return {
      name: f.name,
      address: f.address,
      initiator: f.initiator,
      responder: f.responder,
      kernelResponder,
      inSync: kernelResponder === addressOf.get(f.responder),
      conntrackEntries: entries.get(f.address) ?? 0,
      draining: on ? Object.fromEntries([...on].filter(([node]) => node !== f.responder)) : NONE,
      drains: drainsOf.get(f.address) ?? NO_DRAINS,
    };
  });
  return {
    id,
    prefix: state.prefix,
    phase: state.phase,
    engine: lab.engine,
    pid: state.pid,
    pidAlive: isAlive(state.pid),
    createdAt: state.createdAt,
    stateFile: store.path(id),
    nodes,
    flows,
    translatorInstalled: installed,
    controlPath,
    migrations: state.migrations,
    lastMigration: state.lastMigration,
    drift,
    daemon,
    servers: await serverStatus(state),
    late: {
      installed: late.installed,
      graceMs: lab.graceMs,
      translated: late.translated,
      afterConntrack: late.afterConntrack,
      former: late.former,
    },
  };
}

/**
 * Makes the translator match the desired flow table: each of flowmig's tables or chain sets that
 * drifted is restated whole in one transaction (then the drifted flows' conntrack entries go, so
 * no connection keeps a mapping that should not exist). Nothing that is not flowmig's is touched.
 * Called with the lab's lock held.
 */
export async function reconcileLab(ctx: ControlContext, state: LabState): Promise<ReconcileResult> {
  const id = state.id;
  const lab = labOf(state);
  const t = lab.translator.netns;
  if (!(await listNamespaces(ctx.runner)).has(t))
    return { lab: id, drift: [`translator namespace ${t} is missing`], repaired: false };
  const engine = engineFor(lab.engine);
  const desired = mappingsFor(lab, state.flows.map(fromStateFlow));
  const view = await readTranslator(ctx, lab);
  const drift = driftOf(engine.name, desired, view);
  if (drift.length === 0) return { lab: id, drift, repaired: false };
  await execute(ctx.runner, [
    engine.repair(t, desired, view.table),
    lateTable.repair(t, desired),
    ...(view.hold ? holdTable.repair(t, view.hold) : []),
    ...desired.map((m): Op => ({ kind: 'conntrackDelete', netns: t, origDst: m.address })),
  ]);
  const after = driftOf(engine.name, desired, await readTranslator(ctx, lab));
  return {
    lab: id,
    drift,
    repaired: after.length === 0,
    ...(after.length ? { remaining: after } : {}),
  };
}

/**
 * How the translator differs from the desired flow table (empty: it agrees): missing tables or
 * hooks, flows pointing elsewhere, flows flowmig does not know, foreign rules in flowmig's chains.
 */
function driftOf(
  engineName: string,
  desired: readonly FlowMapping[],
  { table, late, hold }: TranslatorView,
): string[] {
  const drift: string[] = [];
  if (hold && !hold.installed) drift.push('the hold table is missing or incomplete');
  if (hold && !hold.queueRules) drift.push('the hold queue rules are missing');
  // Between migrations nothing is held: an element left by a crash would stall its flow's TCP.
  if (hold?.held.length) drift.push(`${hold.held.length} flow(s) held in the hold table`);
  if (!table.installed) drift.push(`the ${engineName} rules are missing or incomplete`);
  if (!late.installed) drift.push('the late-packet table is missing or incomplete');
  if (table.foreignRules)
    drift.push(`${table.foreignRules} foreign or changed rule(s)/chain(s) in flowmig's table`);
  if (late.foreignRules)
    drift.push(`${late.foreignRules} foreign or changed rule(s)/chain(s) in the late table`);
  const kernel = new Map(table.mappings.map((m) => [m.address, m]));
  for (const m of desired) {
    const k = kernel.get(m.address);
    if (!k) drift.push(`flow ${m.address} has no mapping`);
    else if (k.responderAddress !== m.responderAddress || k.initiatorAddress !== m.initiatorAddress)
      drift.push(
        `flow ${m.address} maps ${k.initiatorAddress || '?'} → ${k.responderAddress || '?'}, not ${m.initiatorAddress} → ${m.responderAddress}`,
      );
    if (late.installed && late.initiators.get(m.address) !== m.initiatorAddress)
      drift.push(`flow ${m.address}: the late table names another initiator`);
  }
  const known = new Set(desired.map((m) => m.address));
  for (const k of table.mappings)
    if (!known.has(k.address)) drift.push(`unknown flow ${k.address} in the translator`);
  return drift;
}
