// A host daemon's catch-up (at its start, and after its watch's start was compacted away): the
// whole table against what its translator holds. Flows whose NAT already agrees keep their
// conntrack entries (connections through a restarted daemon go on); only the flows that disagree
// lose theirs, after the rules are restated. Routes are set to the table's.
import type { FlowList } from '../cluster/flows.js';
import type { FlowValue, KeyProblem } from '../cluster/values.js';
import type { FlowMapping } from '../engines/engine.js';
import { lateTable } from '../engines/late.js';
import type { Runner } from '../exec/runner.js';
import type { Op } from '../plan/ops.js';
import type { HostApplier } from './apply.js';
import type { Applied } from './plan.js';
import { routeDiff } from './routes.js';
import { flowProblem, type HostView, ingressOf, isIngress, mappingOf } from './view.js';

export interface SyncResult {
  /** Ingress flows whose mapping was restated (their conntrack entries deleted). */
  readonly restated: number;
  readonly routes: number;
  readonly problems: readonly KeyProblem[];
}

/** The translator's flow maps as the engine reads them back. */
async function kernelTable(view: HostView, runner: Runner) {
  const read = async (i: { argv: readonly string[]; netns: string }) =>
    (await runner.run(i.argv, { netns: i.netns, okExitCodes: [0, 1] })).stdout;
  const table = view.engine.parse(await read(view.engine.inspect(view.netns)));
  const late = lateTable.parse(await read(lateTable.inspect(view.netns)));
  return { table, late };
}

/** Sets `applied` to the table in `list` and makes the translator agree with it. */
export async function syncHost(
  view: HostView,
  runner: Runner,
  applier: HostApplier,
  list: FlowList,
  applied: Applied,
): Promise<SyncResult> {
  const problems: KeyProblem[] = [...list.problems];
  const desired = new Map<string, FlowValue>();
  for (const f of list.flows) {
    const value: FlowValue = {
      initiator: f.initiator,
      responder: f.responder,
      tcp: f.tcp,
      generation: f.generation,
    };
    const problem = flowProblem(view, value);
    if (problem) problems.push({ key: f.address, problem });
    else desired.set(f.address, value);
  }
  const mappings: FlowMapping[] = [...desired]
    .filter(([, v]) => isIngress(view, v))
    .map(([address, v]) => mappingOf(address, v));
  const { table, late } = await kernelTable(view, runner);
  const kernel = new Map(table.mappings.map((m) => [m.address, m]));
  const stale: string[] = [];
  for (const m of mappings) {
    const k = kernel.get(m.address);
    if (
      !k ||
      k.initiatorAddress !== m.initiatorAddress ||
      k.responderAddress !== m.responderAddress ||
      (late.installed && late.initiators.get(m.address) !== m.initiatorAddress)
    )
      stale.push(m.address);
  }
  const wanted = new Set(mappings.map((m) => m.address));
  for (const k of table.mappings) if (!wanted.has(k.address)) stale.push(k.address);
  const ops: Op[] = [];
  if (stale.length > 0 || !table.installed || !late.installed) {
    ops.push(
      view.engine.repair(view.netns, mappings, table),
      lateTable.repair(view.netns, mappings),
    );
    // Rules first; then only the flows that pointed elsewhere (or nowhere) lose their entries.
    for (const address of stale)
      ops.push({ kind: 'conntrackDelete', netns: view.netns, origDst: address });
  }
  await applier.apply(ops);
  const routes = new Map<string, string>();
  for (const [address, v] of desired) {
    const via = isIngress(view, v) ? undefined : ingressOf(view, v)?.fabricAddress;
    if (via) routes.set(address, via);
  }
  const edits = routeDiff(await applier.readRoutes(), routes);
  await applier.routes(edits);
  applied.clear();
  for (const [address, v] of desired) applied.set(address, v);
  return { restated: stale.length, routes: edits.length, problems };
}
