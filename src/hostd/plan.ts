// What a host daemon does for a batch of flow table changes (pure): for the flows this host
// translates (their initiator is here), the single-host migration — one rule transaction, then
// only those flows' conntrack entries, then the late set's release — and for the others, the
// route of their abstract address to the host that translates them (the reply path,
// docs/design.md "Several hosts").

import type { FlowValue, KeyProblem } from '../cluster/values.js';
import type { FlowEvent } from '../cluster/watch.js';
import { joinNftOps } from '../engines/edits.js';
import type { FlowChange, FlowMapping } from '../engines/engine.js';
import { lateTable } from '../engines/late.js';
import type { Op } from '../plan/ops.js';
import { flowProblem, type HostView, ingressOf, isIngress, mappingOf } from './view.js';

/** A flow as this host applied it: its value (kept even when another host translates it). */
export type Applied = Map<string, FlowValue>;

/** A route of an abstract address (/128) to the fabric address of the host that translates it. */
export interface RouteEdit {
  readonly kind: 'replace' | 'delete';
  readonly address: string;
  /** The ingress host's fabric address (replace only). */
  readonly via?: string;
}

/**
 * An ingress flow with `tcp: migrate` whose responder changes: its TCP connections move with it
 * (src/hostd/live.ts), around this flow's own switch, applied after the plan's other changes.
 */
export interface LiveMove {
  readonly address: string;
  readonly from: FlowValue;
  readonly to: FlowValue;
  /** This flow's switch alone (rule, its conntrack entries, the late release). */
  readonly ops: readonly Op[];
  /** Its switch back (a restore that failed: the connections go back where they were). */
  readonly back: readonly Op[];
}

export interface HostPlan {
  /** The NAT changes of the flows this host translates, in order (empty: none). */
  readonly ops: readonly Op[];
  /** Flows whose TCP connections move with them, each switched on its own after `ops`. */
  readonly moves: readonly LiveMove[];
  readonly routes: readonly RouteEdit[];
  /** Ingress flows whose TCP connections drain: their former responders' entries end later. */
  readonly drains: readonly {
    readonly address: string;
    readonly former: string;
    readonly ms: number;
  }[];
  /** Events skipped: a flow naming an address that is no node of the lab. */
  readonly problems: readonly KeyProblem[];
  /** How many flows changed on this host (NAT or route). */
  readonly changed: number;
}

/**
 * Plans `events` (one revision's or several, in order) against `applied`, which it updates to the
 * state after them. A flow that appears twice is planned once, from its first before to its last
 * after: one rule transaction has no order inside.
 */
export function planEvents(
  view: HostView,
  applied: Applied,
  events: readonly FlowEvent[],
): HostPlan {
  const before = new Map<string, FlowValue | undefined>();
  const problems: KeyProblem[] = [];
  for (const e of events) {
    const address = e.kind === 'put' ? e.flow.address : e.address;
    if (!before.has(address)) before.set(address, applied.get(address));
    if (e.kind === 'delete') {
      applied.delete(address);
      continue;
    }
    const value: FlowValue = {
      initiator: e.flow.initiator,
      responder: e.flow.responder,
      tcp: e.flow.tcp,
      generation: e.flow.generation,
    };
    const problem = flowProblem(view, value);
    if (problem) {
      problems.push({ key: address, problem });
      continue;
    }
    applied.set(address, value);
  }
  const moving = [...before.keys()].filter((address) =>
    movesLive(view, before.get(address), applied.get(address)),
  );
  if (moving.length === 0) return { ...planDiff(view, before, applied), moves: [], problems };
  // The other flows first, with the moving ones still where they were (a restating engine must
  // not switch them early); then each moving flow on its own, from where the last one left it.
  const current = new Map(applied);
  for (const address of moving) current.set(address, before.get(address) as FlowValue);
  const rest = new Map([...before].filter(([address]) => !moving.includes(address)));
  const others = planDiff(view, rest, current);
  const moves = moving.map((address): LiveMove => {
    const from = before.get(address) as FlowValue;
    const to = applied.get(address) as FlowValue;
    const prior = new Map(current);
    current.set(address, to);
    return {
      address,
      from,
      to,
      ops: planDiff(view, new Map([[address, from]]), current).ops,
      back: planDiff(view, new Map([[address, to]]), prior).ops,
    };
  });
  return { ...others, changed: others.changed + moves.length, moves, problems };
}

/** Whether a change of a flow this host translates moves its TCP connections (`tcp: migrate`). */
function movesLive(view: HostView, b: FlowValue | undefined, a: FlowValue | undefined): boolean {
  return (
    b !== undefined &&
    a !== undefined &&
    b.tcp === 'migrate' &&
    a.tcp === 'migrate' &&
    b.initiator === a.initiator &&
    b.responder !== a.responder &&
    isIngress(view, b)
  );
}

/**
 * The plan that takes the flows in `before` (address → value before, undefined: absent) to their
 * values in `after`: NAT for the ingress ones, routes for the others.
 */
export function planDiff(
  view: HostView,
  before: ReadonlyMap<string, FlowValue | undefined>,
  after: ReadonlyMap<string, FlowValue>,
): Omit<HostPlan, 'problems' | 'moves'> {
  const t = view.netns;
  const changes: FlowChange[] = [];
  const deletes: Op[] = [];
  const routes: RouteEdit[] = [];
  const drains: HostPlan['drains'][number][] = [];
  let changed = 0;
  for (const [address, b] of before) {
    const a = after.get(address);
    const bIn = isIngress(view, b);
    const aIn = isIngress(view, a);
    const bMap = b && bIn ? mappingOf(address, b) : undefined;
    const aMap = a && aIn ? mappingOf(address, a) : undefined;
    if (!sameMapping(bMap, aMap)) {
      changes.push({ ...(bMap ? { before: bMap } : {}), ...(aMap ? { after: aMap } : {}) });
      if (bMap) {
        // Rule first (above), then only this flow's entries: those already translated to the new
        // responder may stay; a draining flow keeps its TCP connections on the old one for now.
        const drain = aMap !== undefined && b?.tcp === 'drain' && a?.tcp === 'drain';
        deletes.push({
          kind: 'conntrackDelete',
          netns: t,
          origDst: address,
          ...(aMap && aMap.initiatorAddress === bMap.initiatorAddress
            ? { keepReplySrc: aMap.responderAddress }
            : {}),
          ...(drain ? { keepTcp: true } : {}),
        });
        const ms = view.policies.get(address)?.drainMs ?? 0;
        if (drain && aMap.responderAddress !== bMap.responderAddress && ms > 0)
          drains.push({ address, former: bMap.responderAddress, ms });
      }
    }
    const bVia = b && !bIn ? ingressOf(view, b)?.fabricAddress : undefined;
    const aVia = a && !aIn ? ingressOf(view, a)?.fabricAddress : undefined;
    if (aVia !== undefined && aVia !== bVia) routes.push({ kind: 'replace', address, via: aVia });
    else if (aVia === undefined && bVia !== undefined) routes.push({ kind: 'delete', address });
    if (!sameMapping(bMap, aMap) || aVia !== bVia) changed++;
  }
  if (changes.length === 0) return { ops: [], routes, drains, changed };
  const all = (): FlowMapping[] =>
    [...after].filter(([, v]) => isIngress(view, v)).map(([address, v]) => mappingOf(address, v));
  const rules = view.engine.update(t, changes, all);
  const late = lateTable.update(t, changes, view.graceMs);
  const release = lateTable.release(t, changes, view.graceMs);
  const ruleOps: Op[] = !late
    ? [rules]
    : view.engine.fastPath
      ? [joinNftOps(rules, late)]
      : [rules, late];
  return { ops: [...ruleOps, ...deletes, ...(release ? [release] : [])], routes, drains, changed };
}

function sameMapping(a: FlowMapping | undefined, b: FlowMapping | undefined): boolean {
  if (!a || !b) return a === b;
  return a.initiatorAddress === b.initiatorAddress && a.responderAddress === b.responderAddress;
}
