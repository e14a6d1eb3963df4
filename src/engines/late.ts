// Late packets: what a flow's former responders still send to its abstract address after their
// conntrack entries are gone (echo replies, UDP answers that were in flight at the swap). Conntrack
// cannot help with those (an echo reply never starts a connection; a late UDP answer would start
// one that pulls the flow back), so they are rewritten statelessly before connection tracking, to
// the flow's initiator, from the flow's abstract address. Both engines use this table: ip6tables
// has no stateless address rewrite.
import { compareShapes, expectedShapes, jsonParts } from '../nft/json.js';
import {
  concat,
  counter,
  ctState,
  ip6,
  l4proto,
  lookup,
  mangle,
  mapOf,
  notrack,
  type Rule,
  setRef,
  type Table,
} from '../nft/objects.js';
import { renderTable } from '../nft/text.js';
import { addTable, declareTable, deleteTable, flushSet } from '../nft/transaction.js';
import { editTransaction, nftOp } from './edits.js';
import type { FlowChange, FlowMapping, Inspection, MapEdit, NetfilterApplyOp } from './engine.js';

export const LATE_TABLE = 'flowmig_late';
/** former responder's concrete address . abstract address, each with its remaining grace time */
export const LATE_SET = 'late_from';
/** abstract address → initiator's concrete address */
export const INITIATOR_MAP = 'initiator_of';

const T = `ip6 ${LATE_TABLE}`;
/** The chain after conntrack (see renderLateTable). */
const TRACKED_CHAIN = 'late_tracked';

/** Source to the abstract address (the destination), destination to the flow's initiator. */
const REWRITE: Rule = [
  mangle('saddr', ip6('daddr')),
  mangle('daddr', mapOf(ip6('daddr'), INITIATOR_MAP)),
  counter,
];
const NOT_TCP = l4proto('!=', 'tcp');
const FROM_FORMER = lookup(concat(ip6('saddr'), ip6('daddr')), LATE_SET);

/**
 * The rule matches (former responder, abstract address), marks the packet untracked, sets its
 * source to the abstract address (its destination), then its destination to the flow's initiator.
 * nft fixes the transport checksum for both address writes. Priority raw: before conntrack.
 * TCP is left to conntrack: a draining connection's packets from its old responder must reach its
 * (kept) entry, or conntrack would never see that direction and mark the client's segments
 * invalid; a reset connection's late segments have nothing to save.
 *
 * The second chain, after conntrack, catches a late packet that passed the first one just before
 * the migration's commit and reached conntrack just after the old entry was deleted: it then has
 * no entry to follow (new, or invalid for an echo reply) and would leave untranslated, to an
 * address with no route. It gets the same rewrite; a UDP packet's new entry carries no
 * translation and goes at the flow's next conntrack delete (its original destination is the
 * abstract address). Seen as 1 reply in ~160,000 across 500 swaps on a slow machine, and made
 * common by slowing the path between the two hooks.
 */
export const LATE_TABLE_DECL: Table = {
  family: 'ip6',
  name: LATE_TABLE,
  sets: [
    { name: LATE_SET, key: ['ipv6_addr', 'ipv6_addr'], flags: ['timeout'] },
    { name: INITIATOR_MAP, key: ['ipv6_addr'], value: 'ipv6_addr' },
  ],
  chains: [
    {
      name: 'late',
      base: { type: 'filter', hook: 'prerouting', priority: { name: 'raw' }, policy: 'accept' },
      rules: [[NOT_TCP, FROM_FORMER, notrack, ...REWRITE]],
    },
    {
      name: TRACKED_CHAIN,
      base: { type: 'filter', hook: 'prerouting', priority: { name: 'mangle' }, policy: 'accept' },
      rules: [[NOT_TCP, ctState('new', 'invalid'), FROM_FORMER, ...REWRITE]],
    },
  ],
};

/** The late table's declaration as nft text. */
export function renderLateTable(): string {
  return renderTable(LATE_TABLE_DECL);
}

/**
 * The edits of a migration's rule transaction: initiators that changed, and for every flow whose
 * responder changed, the old responder joins the late set for `graceMs`.
 */
export function lateEdits(changes: readonly FlowChange[], graceMs: number): MapEdit[] {
  const initiators = {
    table: LATE_TABLE,
    map: INITIATOR_MAP,
    remove: [] as string[][],
    add: [] as string[][],
  };
  const former: string[][] = [];
  for (const { before: b, after: a } of changes) {
    if (b && (!a || a.initiatorAddress !== b.initiatorAddress)) initiators.remove.push([b.address]);
    if (a && (!b || a.initiatorAddress !== b.initiatorAddress))
      initiators.add.push([a.address, a.initiatorAddress]);
    if (b && a && a.responderAddress !== b.responderAddress && graceMs > 0)
      former.push([b.responderAddress, b.address]);
  }
  const edits: MapEdit[] = [];
  if (initiators.remove.length || initiators.add.length) edits.push(initiators);
  if (former.length) {
    edits.push({
      table: LATE_TABLE,
      map: LATE_SET,
      set: true,
      remove: [],
      add: former,
      timeoutMs: graceMs,
    });
  }
  return edits;
}

/**
 * The edits that follow a migration's conntrack delete: the new responder leaves the late set (it
 * may be a former responder coming back within its grace time). Not before: until the flow's old
 * entries are gone, a late packet of the new responder that conntrack tracked would start a
 * connection whose reply tuple is taken by the initiator's entry to the old responder, and NAT
 * would answer from another port (lost to the initiator's socket). Stateless, it arrives.
 */
export function releaseEdits(changes: readonly FlowChange[], graceMs: number): MapEdit[] {
  if (graceMs <= 0) return []; // nobody is ever a former responder
  const absent = changes.flatMap(({ before: b, after: a }) =>
    b && a && a.responderAddress !== b.responderAddress ? [[a.responderAddress, a.address]] : [],
  );
  // timeoutMs: how long an element added by an earlier migration may live.
  return absent.length
    ? [
        {
          table: LATE_TABLE,
          map: LATE_SET,
          set: true,
          remove: [],
          add: [],
          absent,
          timeoutMs: graceMs,
        },
      ]
    : [];
}

export interface FormerResponder {
  readonly address: string;
  readonly responderAddress: string;
  /** Grace time left when read, in ms. */
  readonly expiresMs: number;
}

export interface LateState {
  readonly installed: boolean;
  /** abstract address → initiator, as the stateless rewrite will use it. */
  readonly initiators: ReadonlyMap<string, string>;
  readonly former: readonly FormerResponder[];
  /** Packets the rules have rewritten since the table was made. */
  readonly translated: number;
  /** Of those, the ones rewritten after conntrack (they passed the first rule just before a commit). */
  readonly afterConntrack: number;
  /** Rules and chains in the table besides (or changed from) flowmig's own. */
  readonly foreignRules?: number;
}

/** The initiators of `mappings` added to an empty initiator map. */
function initiatorsTx(mappings: readonly FlowMapping[]) {
  const edits = lateEdits(
    mappings.map((after) => ({ after })),
    0,
  );
  return editTransaction(edits, LATE_TABLE);
}

export const lateTable = {
  install(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    return nftOp(
      netns,
      [addTable(LATE_TABLE_DECL), ...initiatorsTx(mappings)],
      `nft: table ${T} (late packets)`,
    );
  },

  /** Sets exactly these initiators; former responders keep their grace time. */
  replace(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    return nftOp(
      netns,
      [flushSet(setRef(LATE_TABLE_DECL, INITIATOR_MAP)), ...initiatorsTx(mappings)],
      `nft: set ${mappings.length} initiator(s) for late packets`,
    );
  },

  /** After the conntrack delete: the new responders leave the late set (see releaseEdits). */
  release(
    netns: string,
    changes: readonly FlowChange[],
    graceMs: number,
  ): NetfilterApplyOp | undefined {
    const edits = releaseEdits(changes, graceMs);
    if (edits.length === 0) return undefined;
    return nftOp(
      netns,
      editTransaction(edits, LATE_TABLE),
      `nft: ${edits[0]?.absent?.length ?? 0} new responder(s) tracked again`,
      edits,
    );
  },

  /** The change for a migration, or undefined when late packets need none. */
  update(
    netns: string,
    changes: readonly FlowChange[],
    graceMs: number,
  ): NetfilterApplyOp | undefined {
    const edits = lateEdits(changes, graceMs);
    if (edits.length === 0) return undefined;
    const former = edits.find((e) => e.map === LATE_SET)?.add.length ?? 0;
    return nftOp(
      netns,
      editTransaction(edits, LATE_TABLE),
      `nft: ${former} former responder(s) translated for ${graceMs} ms`,
      edits,
    );
  },

  /** Restates the table whole (foreign changes go; former responders' grace times are dropped). */
  repair(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    return nftOp(
      netns,
      [
        declareTable(LATE_TABLE_DECL),
        deleteTable(LATE_TABLE_DECL),
        addTable(LATE_TABLE_DECL),
        ...initiatorsTx(mappings),
      ],
      `nft: table ${T} restated`,
    );
  },

  uninstall(netns: string): NetfilterApplyOp {
    return nftOp(netns, [deleteTable(LATE_TABLE_DECL)], `nft: delete table ${T}`);
  },

  inspect(netns: string): Inspection {
    return { argv: ['nft', '-j', 'list', 'table', 'ip6', LATE_TABLE], netns };
  },

  parse(output: string): LateState {
    return parseLateJson(output);
  },
};

/** The late table's chains and rules as `nft -j` lists them (see nftShape). */
const LATE_EXPECTED = expectedShapes(LATE_TABLE_DECL);

/** Reads the late table from `nft -j list table ip6 flowmig_late`. */
export function parseLateJson(text: string): LateState {
  const none: LateState = {
    installed: false,
    initiators: new Map(),
    former: [],
    translated: 0,
    afterConntrack: 0,
  };
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return none;
  }
  const initiators = new Map<string, string>();
  const former: FormerResponder[] = [];
  let translated = 0;
  let afterConntrack = 0;
  let parts = 0;
  for (const item of doc.nftables ?? []) {
    const map = item.map as { name?: string; table?: string; elem?: unknown[] } | undefined;
    if (map?.table === LATE_TABLE && map.name === INITIATOR_MAP) {
      parts++;
      for (const e of map.elem ?? []) {
        const [key, value] = e as [unknown, unknown];
        const [address] = jsonParts(key);
        if (address && typeof value === 'string') initiators.set(address, value);
      }
    }
    const set = item.set as { name?: string; table?: string; elem?: unknown[] } | undefined;
    if (set?.table === LATE_TABLE && set.name === LATE_SET) {
      parts++;
      for (const e of set.elem ?? []) {
        // With a timeout, an element is {elem: {val, timeout, expires}} (seconds, may be fractional).
        const el = (e as { elem?: { val?: unknown; expires?: number } }).elem;
        const [responderAddress, address] = jsonParts(el ? el.val : e);
        if (responderAddress && address)
          former.push({
            responderAddress,
            address,
            expiresMs: Math.round((el?.expires ?? 0) * 1000),
          });
      }
    }
    const rule = item.rule as
      | { table?: string; chain?: string; expr?: Record<string, unknown>[] }
      | undefined;
    if (rule?.table === LATE_TABLE) {
      for (const x of rule.expr ?? []) {
        const c = x.counter as { packets?: number } | undefined;
        if (!c) continue;
        translated += c.packets ?? 0;
        if (rule.chain === TRACKED_CHAIN) afterConntrack += c.packets ?? 0;
      }
    }
  }
  const shapes = compareShapes(doc.nftables ?? [], LATE_TABLE, LATE_EXPECTED);
  return {
    installed: parts === 2 && shapes.complete,
    initiators,
    former,
    translated,
    afterConntrack,
    ...(shapes.foreign ? { foreignRules: shapes.foreign } : {}),
  };
}
