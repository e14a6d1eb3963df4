// The nftables engine: one flowmig-owned table; mappings are elements of two named maps.
import { compareShapes, expectedShapes, jsonParts } from '../nft/json.js';
import {
  concat,
  ctOriginal,
  ctStatus,
  dnat,
  ip6,
  mapOf,
  setRef,
  snat,
  type Table,
} from '../nft/objects.js';
import { renderTable as renderTableText } from '../nft/text.js';
import { addTable, declareTable, deleteTable, flushSet } from '../nft/transaction.js';
import { editTransaction, nftOp } from './edits.js';
import type { Engine, FlowChange, FlowMapping, KernelFlowTable, MapEdit } from './engine.js';

export const NFT_TABLE = 'flowmig';
/** initiator's concrete address . abstract address → responder's concrete address */
export const DNAT_MAP = 'dnat_to';
/** responder's concrete address . abstract address → initiator's concrete address */
export const DNAT_BACK_MAP = 'dnat_back';

const T = `ip6 ${NFT_TABLE}`;

const dnatBy = (map: string) => [dnat(mapOf(concat(ip6('saddr'), ip6('daddr')), map))];

/**
 * The table, declared whole. A new connection from a flow's initiator to its abstract address is
 * sent to the responder (`dnat_to`); one from the responder to the abstract address (the server
 * speaks first) is sent to the initiator (`dnat_back`). Either way its source becomes the abstract
 * address it was sent to (`ct original ip6 daddr`), so one node can use several flows, each
 * answered from its own abstract address, with no per-flow source element. Only flowmig's maps
 * translate destinations in the translator, so `ct status dnat` marks exactly its connections.
 * Anyone else reaching for an abstract address matches no element and is not translated.
 */
export const FLOWMIG_TABLE: Table = {
  family: 'ip6',
  name: NFT_TABLE,
  ruleSemicolons: true,
  sets: [
    { name: DNAT_MAP, key: ['ipv6_addr', 'ipv6_addr'], value: 'ipv6_addr' },
    { name: DNAT_BACK_MAP, key: ['ipv6_addr', 'ipv6_addr'], value: 'ipv6_addr' },
  ],
  chains: [
    {
      name: 'prerouting',
      base: { type: 'nat', hook: 'prerouting', priority: { name: 'dstnat' }, policy: 'accept' },
      rules: [dnatBy(DNAT_MAP), dnatBy(DNAT_BACK_MAP)],
    },
    {
      name: 'postrouting',
      base: { type: 'nat', hook: 'postrouting', priority: { name: 'srcnat' }, policy: 'accept' },
      rules: [[ctStatus('dnat'), snat(ctOriginal('daddr'))]],
    },
  ],
};

/** The table's declaration as nft text. */
export function renderTable(): string {
  return renderTableText(FLOWMIG_TABLE);
}

/** The map elements of one mapping, each as key parts followed by the value. */
function elementsOf(m: FlowMapping): { map: string; element: string[] }[] {
  const { address: f, initiatorAddress: i, responderAddress: r } = m;
  return [
    { map: DNAT_MAP, element: [i, f, r] },
    { map: DNAT_BACK_MAP, element: [r, f, i] },
  ];
}

/**
 * The map edits for the changes: an element is removed and added only when its key or value
 * differs, so a flow's unchanged elements are never touched (and never missing for a moment).
 * A changed value is a remove and an add of the key: the transaction applies both at once.
 */
export function mapEdits(changes: readonly FlowChange[]): MapEdit[] {
  const edits = new Map<string, { map: string; remove: string[][]; add: string[][] }>();
  for (const map of [DNAT_MAP, DNAT_BACK_MAP]) edits.set(map, { map, remove: [], add: [] });
  const text = (e: { map: string; element: string[] }) => `${e.map} ${e.element.join(' ')}`;
  for (const { before, after } of changes) {
    const old = before ? elementsOf(before) : [];
    const now = after ? elementsOf(after) : [];
    const oldText = new Set(old.map(text));
    const nowText = new Set(now.map(text));
    for (const e of old)
      if (!nowText.has(text(e))) edits.get(e.map)?.remove.push(e.element.slice(0, -1));
    for (const e of now) if (!oldText.has(text(e))) edits.get(e.map)?.add.push(e.element);
  }
  return [...edits.values()].filter((e) => e.remove.length > 0 || e.add.length > 0);
}

/** Changes that add every mapping to an empty table. */
export function additions(mappings: readonly FlowMapping[]): FlowChange[] {
  return mappings.map((after) => ({ after }));
}

function summarize(edits: readonly MapEdit[]): string {
  const forward = edits.find((e) => e.map === DNAT_MAP);
  const moved = (forward?.add ?? []).slice(0, 3).map((p) => `${p[1]}→${p[2]}`);
  const more = (forward?.add.length ?? 0) > 3 ? ` and ${(forward?.add.length ?? 0) - 3} more` : '';
  return `nft: ${moved.join(', ') || 'map update'}${more}`;
}

/** The elements of `mappings` added to empty maps. */
const additionsTx = (mappings: readonly FlowMapping[]) =>
  editTransaction(mapEdits(additions(mappings)), NFT_TABLE);

export const nftablesEngine: Engine = {
  name: 'nftables',
  programs: ['nft'],
  fastPath: { table: NFT_TABLE },

  install(netns, mappings) {
    // Declaring the table and its elements in one script makes the install one transaction too.
    return nftOp(
      netns,
      [addTable(FLOWMIG_TABLE), ...additionsTx(mappings)],
      `nft: table ${T} with ${mappings.length} flow(s)`,
    );
  },

  replace(netns, mappings) {
    const flush = [DNAT_MAP, DNAT_BACK_MAP].map((m) => flushSet(setRef(FLOWMIG_TABLE, m)));
    return nftOp(
      netns,
      [...flush, ...additionsTx(mappings)],
      `nft: set ${mappings.length} flow(s)`,
    );
  },

  update(netns, changes) {
    const edits = mapEdits(changes);
    return nftOp(netns, editTransaction(edits, NFT_TABLE), summarize(edits), edits);
  },

  // Declaring the table first makes the delete safe when it is missing; the whole script is one
  // transaction, so packets see the old table or the new one.
  repair(netns, mappings) {
    return nftOp(
      netns,
      [
        declareTable(FLOWMIG_TABLE),
        deleteTable(FLOWMIG_TABLE),
        addTable(FLOWMIG_TABLE),
        ...additionsTx(mappings),
      ],
      `nft: table ${T} restated with ${mappings.length} flow(s)`,
    );
  },

  uninstall(netns) {
    return nftOp(netns, [deleteTable(FLOWMIG_TABLE)], `nft: delete table ${T}`);
  },

  inspect(netns) {
    return { argv: ['nft', '-j', 'list', 'table', 'ip6', NFT_TABLE], netns };
  },

  parse(output) {
    return parseNftJson(output);
  },
};

type Elem = unknown;

/** The rules and chains of FLOWMIG_TABLE as `nft -j` lists them (see nftShape). */
const EXPECTED = expectedShapes(FLOWMIG_TABLE);

/** Reads flowmig's mappings from `nft -j list table ip6 flowmig`: the forward elements name them. */
export function parseNftJson(text: string): KernelFlowTable {
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return { installed: false, mappings: [] };
  }
  const items = doc.nftables ?? [];
  const maps = new Map<string, Elem[]>();
  for (const item of items) {
    const m = item.map as { name?: string; table?: string; elem?: Elem[] } | undefined;
    if (m?.table === NFT_TABLE && m.name) maps.set(m.name, m.elem ?? []);
  }
  const back = new Set(
    (maps.get(DNAT_BACK_MAP) ?? []).map((e) => {
      const [key, value] = e as [Elem, Elem];
      return `${jsonParts(key).join(' ')} ${String(value)}`;
    }),
  );
  const mappings: FlowMapping[] = [];
  for (const e of maps.get(DNAT_MAP) ?? []) {
    const [key, value] = e as [Elem, Elem];
    const [initiatorAddress, address] = jsonParts(key);
    if (initiatorAddress && address && typeof value === 'string') {
      // A flow whose way back is missing is reported without its responder: not in sync.
      const whole = back.has(`${value} ${address} ${initiatorAddress}`);
      mappings.push({ address, initiatorAddress, responderAddress: whole ? value : '' });
    }
  }
  const shapes = compareShapes(items, NFT_TABLE, EXPECTED);
  const installed = [DNAT_MAP, DNAT_BACK_MAP].every((m) => maps.has(m)) && shapes.complete;
  const foreignRules = shapes.foreign;
  return { installed, mappings, ...(foreignRules ? { foreignRules } : {}) };
}
