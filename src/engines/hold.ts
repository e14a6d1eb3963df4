// The hold table: while a flow's TCP connections move (policy `migrate`), the translator queues
// the flow's TCP packets in both directions (NFQUEUE) instead of passing them on; the agent
// releases them once the sockets are restored on the new responder. Dropping them instead also
// works, but the stream then waits 200–800 ms for retransmission timers. Labs with no flow of
// policy `migrate` have no hold table.

import { jsonParts } from '../nft/json.js';
import { concat, ctOriginal, ip6, l4proto, lookup, markSet, type Table } from '../nft/objects.js';
import { renderTable } from '../nft/text.js';
import { addTable, declareTable, deleteTable } from '../nft/transaction.js';
import { editTransaction, nftOp } from './edits.js';
import type { FlowMapping, Inspection, MapEdit, NetfilterApplyOp } from './engine.js';

export const HOLD_TABLE = 'flowmig_hold';
/** initiator's concrete address . abstract address */
export const HOLD_SET = 'held';
/** The NFQUEUE number the agent binds in the translator namespace (queues are per namespace). */
export const HOLD_QUEUE = 7710;

const T = `ip6 ${HOLD_TABLE}`;

/** Packet marks that send a held packet to the queue (see renderHoldTable). */
export const HOLD_MARK_IN = 0x464d0001;
export const HOLD_MARK_BACK = 0x464d0002;
const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Client → server: before connection tracking (priority raw - 10), so a released packet meets the
 * new mapping: its old conntrack entry is gone by then and a new one is made. Server → client: in
 * forward, after NAT undid the abstract address (the destination is the initiator; the entry's
 * original destination still names the flow). This kernel has no nft `queue` expression
 * (CONFIG_NFT_QUEUE is off) but has the xtables NFQUEUE target: the table marks the packets and
 * two ip6tables rules (see HOLD_RULES) queue what carries the marks. Two marks, so a client's
 * packet released in prerouting is not queued again in forward.
 */
export const HOLD_TABLE_DECL: Table = {
  family: 'ip6',
  name: HOLD_TABLE,
  sets: [{ name: HOLD_SET, key: ['ipv6_addr', 'ipv6_addr'] }],
  chains: [
    {
      name: 'hold_in',
      base: {
        type: 'filter',
        hook: 'prerouting',
        priority: { name: 'raw', offset: -10 },
        policy: 'accept',
      },
      rules: [
        [
          l4proto('==', 'tcp'),
          lookup(concat(ip6('saddr'), ip6('daddr')), HOLD_SET),
          markSet(HOLD_MARK_IN),
        ],
      ],
    },
    {
      name: 'hold_back',
      base: {
        type: 'filter',
        hook: 'forward',
        priority: { name: 'mangle', offset: -10 },
        policy: 'accept',
      },
      rules: [
        [
          l4proto('==', 'tcp'),
          lookup(concat(ip6('daddr'), ctOriginal('daddr')), HOLD_SET),
          markSet(HOLD_MARK_BACK),
        ],
      ],
    },
  ],
};

/** The hold table's declaration as nft text. */
export function renderHoldTable(): string {
  return renderTable(HOLD_TABLE_DECL);
}

export const HOLD_COMMENT = 'flowmig-hold';

/**
 * The queueing rules (ip6tables-restore --noflush input): raw PREROUTING (priority raw, after the
 * marking chain) and mangle FORWARD (priority mangle). No `--queue-bypass`: without a listener the
 * packets are dropped (the programs fallback), never passed to a server that has no socket for
 * them.
 */
export const HOLD_RULES = [
  '*raw',
  `-A PREROUTING -m mark --mark ${hex(HOLD_MARK_IN)} -m comment --comment ${HOLD_COMMENT} -j NFQUEUE --queue-num ${HOLD_QUEUE}`,
  'COMMIT',
  '*mangle',
  `-A FORWARD -m mark --mark ${hex(HOLD_MARK_BACK)} -m comment --comment ${HOLD_COMMENT} -j NFQUEUE --queue-num ${HOLD_QUEUE}`,
  'COMMIT',
  '',
].join('\n');

/** The set edit that starts (or ends) holding one flow's TCP packets. */
export function holdEdit(flow: FlowMapping, on: boolean): MapEdit {
  const key = [flow.initiatorAddress, flow.address];
  return {
    table: HOLD_TABLE,
    map: HOLD_SET,
    set: true,
    remove: on ? [] : [key],
    add: on ? [key] : [],
  };
}

export interface HoldState {
  /** The table with its set and both marking chains. */
  readonly installed: boolean;
  /** Both NFQUEUE rules are in place. */
  readonly queueRules: boolean;
  /** `initiator . abstract` pairs held now. */
  readonly held: readonly (readonly [string, string])[];
}

export const holdTable = {
  install(netns: string): NetfilterApplyOp[] {
    return [
      nftOp(netns, [addTable(HOLD_TABLE_DECL)], `nft: table ${T} (TCP packets held while moving)`),
      queueRules(netns),
    ];
  },

  /**
   * Restates the table (an element left by a crash goes) and adds the queueing rules if they are
   * missing (ip6tables-restore --noflush appends: rules that are there are not added again).
   */
  repair(netns: string, state: HoldState): NetfilterApplyOp[] {
    const table = nftOp(
      netns,
      [declareTable(HOLD_TABLE_DECL), deleteTable(HOLD_TABLE_DECL), addTable(HOLD_TABLE_DECL)],
      `nft: table ${T} restated`,
    );
    return state.queueRules ? [table] : [table, queueRules(netns)];
  },

  /** Holds or releases one flow (the agent applies the same edit over netlink). */
  set(netns: string, flow: FlowMapping, on: boolean): NetfilterApplyOp {
    const edit = holdEdit(flow, on);
    return nftOp(
      netns,
      editTransaction([edit], HOLD_TABLE),
      `nft: ${on ? 'hold' : 'release'} TCP of flow ${flow.address}`,
      [edit],
    );
  },

  /** What to read: the table (nft -j), then the raw and mangle rules (ip6tables-save). */
  inspect(netns: string): Inspection[] {
    return [
      { argv: ['nft', '-j', 'list', 'table', 'ip6', HOLD_TABLE], netns },
      { argv: ['ip6tables-save', '-t', 'raw'], netns },
      { argv: ['ip6tables-save', '-t', 'mangle'], netns },
    ];
  },

  parse(outputs: readonly string[]): HoldState {
    const [table = '', raw = '', mangle = ''] = outputs;
    const rules = HOLD_RULES.split('\n').filter((l) => l.startsWith('-A '));
    const queueRules = rules.every((r) => `${raw}\n${mangle}`.split('\n').includes(r));
    return { ...parseHoldJson(table), queueRules };
  },
};

function queueRules(netns: string): NetfilterApplyOp {
  return {
    kind: 'netfilterApply',
    netns,
    argv: ['ip6tables-restore', '--noflush'],
    stdin: HOLD_RULES,
    summary: `ip6tables: queue held packets (NFQUEUE ${HOLD_QUEUE})`,
  };
}

/** Reads `nft -j list table ip6 flowmig_hold`: installed when the set and both chains are there. */
export function parseHoldJson(text: string): Omit<HoldState, 'queueRules'> {
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return { installed: false, held: [] };
  }
  const held: [string, string][] = [];
  const parts = new Set<string>();
  for (const item of doc.nftables ?? []) {
    const set = item.set as { name?: string; table?: string; elem?: unknown[] } | undefined;
    if (set?.table === HOLD_TABLE && set.name === HOLD_SET) {
      parts.add('set');
      for (const e of set.elem ?? []) {
        const [initiator, address] = jsonParts(e);
        if (initiator && address) held.push([initiator, address]);
      }
    }
    const chain = item.chain as { name?: string; table?: string } | undefined;
    if (chain?.table === HOLD_TABLE && chain.name) parts.add(chain.name);
    const rule = item.rule as { table?: string; chain?: string; expr?: unknown[] } | undefined;
    if (rule?.table === HOLD_TABLE && JSON.stringify(rule.expr ?? []).includes('"mark"'))
      parts.add(`rule:${rule.chain}`);
  }
  const installed = ['set', 'hold_in', 'hold_back', 'rule:hold_in', 'rule:hold_back'].every((p) =>
    parts.has(p),
  );
  return { installed, held };
}
