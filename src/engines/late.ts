// Late packets: what a flow's former responders still send to its abstract address after their
// conntrack entries are gone (echo replies, UDP answers that were in flight at the swap). Conntrack
// cannot help with those (an echo reply never starts a connection; a late UDP answer would start
// one that pulls the flow back), so they are rewritten statelessly before connection tracking, to
// the flow's initiator, from the flow's abstract address. Both engines use this table: ip6tables
// has no stateless address rewrite.
import type { Command } from '../plan/command.js';
import type { FlowChange, FlowMapping, MapEdit, NetfilterApplyOp } from './engine.js';
import { compareShapes, jsonParts, nftOp, nftShape, renderEdits } from './nft-script.js';

export const LATE_TABLE = 'flowmig_late';
/** former responder's concrete address . abstract address, each with its remaining grace time */
export const LATE_SET = 'late_from';
/** abstract address → initiator's concrete address */
export const INITIATOR_MAP = 'initiator_of';

const T = `ip6 ${LATE_TABLE}`;
/** The chain after conntrack (see renderLateTable). */
const TRACKED_CHAIN = 'late_tracked';

const REWRITE = `ip6 saddr set ip6 daddr ip6 daddr set ip6 daddr map @${INITIATOR_MAP} counter`;

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
export function renderLateTable(): string {
  return [
    `table ${T} {`,
    `  set ${LATE_SET} { type ipv6_addr . ipv6_addr; flags timeout; }`,
    `  map ${INITIATOR_MAP} { type ipv6_addr : ipv6_addr; }`,
    '  chain late {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    meta l4proto != tcp ip6 saddr . ip6 daddr @${LATE_SET} notrack ${REWRITE}`,
    '  }',
    `  chain ${TRACKED_CHAIN} {`,
    '    type filter hook prerouting priority mangle; policy accept;',
    `    meta l4proto != tcp ct state new,invalid ip6 saddr . ip6 daddr @${LATE_SET} ${REWRITE}`,
    '  }',
    '}',
  ].join('\n');
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
  // timeoutMs: how long an element added by an earlier migration may live (the agent skips the
  // ones it knows are gone, see TimedElements).
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

export const lateTable = {
  install(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    const edits = lateEdits(
      mappings.map((after) => ({ after })),
      0,
    );
    return nftOp(
      netns,
      [renderLateTable(), ...renderEdits(edits, LATE_TABLE)],
      `nft: table ${T} (late packets)`,
    );
  },

  /** Sets exactly these initiators; former responders keep their grace time. */
  replace(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    const edits = lateEdits(
      mappings.map((after) => ({ after })),
      0,
    );
    return nftOp(
      netns,
      [`flush map ${T} ${INITIATOR_MAP}`, ...renderEdits(edits, LATE_TABLE)],
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
      renderEdits(edits, LATE_TABLE),
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
      renderEdits(edits, LATE_TABLE),
      `nft: ${former} former responder(s) translated for ${graceMs} ms`,
      edits,
    );
  },

  /** Restates the table whole (foreign changes go; former responders' grace times are dropped). */
  repair(netns: string, mappings: readonly FlowMapping[]): NetfilterApplyOp {
    const edits = lateEdits(
      mappings.map((after) => ({ after })),
      0,
    );
    return nftOp(
      netns,
      [`table ${T} {}`, `delete table ${T}`, renderLateTable(), ...renderEdits(edits, LATE_TABLE)],
      `nft: table ${T} restated`,
    );
  },

  uninstall(netns: string): NetfilterApplyOp {
    return nftOp(netns, [`delete table ${T}`], `nft: delete table ${T}`);
  },

  inspect(netns: string): Command {
    return { argv: ['nft', '-j', 'list', 'table', 'ip6', LATE_TABLE], netns };
  },

  parse(output: string): LateState {
    return parseLateJson(output);
  },
};

const field = (f: string) => ({ payload: { protocol: 'ip6', field: f } });

const REWRITE_EXPR = [
  { mangle: { key: field('saddr'), value: field('daddr') } },
  {
    mangle: {
      key: field('daddr'),
      value: { map: { key: field('daddr'), data: `@${INITIATOR_MAP}` } },
    },
  },
  { counter: null },
];
const NOT_TCP = { match: { op: '!=', left: { meta: { key: 'l4proto' } }, right: 'tcp' } };
const FROM_FORMER = {
  match: {
    op: '==',
    left: { concat: [field('saddr'), field('daddr')] },
    right: `@${LATE_SET}`,
  },
};

/** The late table's chains and rules as `nft -j` shows them (see nftShape). */
const LATE_EXPECTED = {
  rules: [
    nftShape(
      { chain: 'late', expr: [NOT_TCP, FROM_FORMER, { notrack: null }, ...REWRITE_EXPR] },
      'rule',
    ),
    nftShape(
      {
        chain: TRACKED_CHAIN,
        expr: [
          NOT_TCP,
          { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['invalid', 'new'] } },
          FROM_FORMER,
          ...REWRITE_EXPR,
        ],
      },
      'rule',
    ),
  ],
  chains: [
    nftShape({ name: 'late', type: 'filter', hook: 'prerouting', prio: -300 }, 'chain'),
    nftShape({ name: TRACKED_CHAIN, type: 'filter', hook: 'prerouting', prio: -150 }, 'chain'),
  ],
};

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

/** The late table as the in-memory fake holds it: expiry times on the fake's clock. */
export interface LateModel {
  readonly initiators: Map<string, string>;
  /** `responder . address` → expiry time (ms on the caller's clock). */
  readonly former: Map<string, number>;
  /** `responder . address` → the element's timeout in ms (0: none); missing: taken as changed. */
  readonly timeouts?: Map<string, number>;
}

const LATE_LINE = new RegExp(`^(add|delete) element ${T} (\\w+) \\{ (.*) \\}$`);

/**
 * Applies a script's late-table lines to the model at time `nowMs`, as the kernel would (a delete
 * of a missing element fails the whole script). Lines for other tables are left alone.
 */
export function simulateLate(model: LateModel, script: string, nowMs: number): LateModel {
  const initiators = new Map(model.initiators);
  const former = new Map([...model.former].filter(([, until]) => until > nowMs));
  const timeouts = new Map([...(model.timeouts ?? [])].filter(([key]) => former.has(key)));
  for (const line of script.split('\n').map((l) => l.trim())) {
    if (line === `delete table ${T}`) {
      initiators.clear();
      former.clear();
      timeouts.clear();
    }
    if (line === `flush map ${T} ${INITIATOR_MAP}`) initiators.clear();
    const m = LATE_LINE.exec(line);
    if (!m) continue;
    for (const el of (m[3] ?? '').split(', ')) {
      const [keyText = '', value] = el.split(' : ');
      const timeout = / timeout (\d+)ms$/.exec(keyText);
      const key = keyText.replace(/ timeout \d+ms$/, '');
      const target: Map<string, string | number> = m[2] === LATE_SET ? former : initiators;
      if (m[1] === 'delete') {
        if (!target.has(key)) throw new Error(`nft would fail: no element ${key} in ${m[2]}`);
        target.delete(key);
        if (m[2] === LATE_SET) timeouts.delete(key);
      } else if (m[2] === LATE_SET) {
        // Adding an element that is there restarts its timeout only if the timeout changes (as
        // kernel 6.18 does); the same timeout again leaves it be, none given means none.
        const ms = timeout ? Number(timeout[1]) : 0;
        if (!former.has(key) || timeouts.get(key) !== ms) {
          former.set(key, ms ? nowMs + ms : Number.POSITIVE_INFINITY);
          timeouts.set(key, ms);
        }
      } else initiators.set(key, value ?? '');
    }
  }
  return { initiators, former, timeouts };
}
