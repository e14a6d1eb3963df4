// The nftables engine: one flowmig-owned table; mappings are elements of two named maps.
import type { Command } from '../plan/command.js';
import type { Engine, FlowChange, FlowMapping, KernelFlowTable, MapEdit } from './engine.js';
import { compareShapes, jsonParts, nftOp, nftShape, renderEdits } from './nft-script.js';

export const NFT_TABLE = 'flowmig';
/** initiator's concrete address . abstract address → responder's concrete address */
export const DNAT_MAP = 'dnat_to';
/** responder's concrete address . abstract address → initiator's concrete address */
export const DNAT_BACK_MAP = 'dnat_back';

const T = `ip6 ${NFT_TABLE}`;

/**
 * The table, declared whole. A new connection from a flow's initiator to its abstract address is
 * sent to the responder (`dnat_to`); one from the responder to the abstract address (the server
 * speaks first) is sent to the initiator (`dnat_back`). Either way its source becomes the abstract
 * address it was sent to (`ct original ip6 daddr`), so one node can use several flows, each
 * answered from its own abstract address, with no per-flow source element. Only flowmig's maps
 * translate destinations in the translator, so `ct status dnat` marks exactly its connections.
 * Anyone else reaching for an abstract address matches no element and is not translated.
 */
export function renderTable(): string {
  return [
    `table ${T} {`,
    `  map ${DNAT_MAP} { type ipv6_addr . ipv6_addr : ipv6_addr; }`,
    `  map ${DNAT_BACK_MAP} { type ipv6_addr . ipv6_addr : ipv6_addr; }`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    dnat to ip6 saddr . ip6 daddr map @${DNAT_MAP};`,
    `    dnat to ip6 saddr . ip6 daddr map @${DNAT_BACK_MAP};`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ct status dnat snat to ct original ip6 daddr;',
    '  }',
    '}',
  ].join('\n');
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
  const dnat = edits.find((e) => e.map === DNAT_MAP);
  const moved = (dnat?.add ?? []).slice(0, 3).map((p) => `${p[1]}→${p[2]}`);
  const more = (dnat?.add.length ?? 0) > 3 ? ` and ${(dnat?.add.length ?? 0) - 3} more` : '';
  return `nft: ${moved.join(', ') || 'map update'}${more}`;
}

export const nftablesEngine: Engine = {
  name: 'nftables',
  programs: ['nft'],
  fastPath: { table: NFT_TABLE },

  install(netns, mappings) {
    // Declaring the table and its elements in one script makes the install one transaction too.
    const lines = [renderTable(), ...renderEdits(mapEdits(additions(mappings)), NFT_TABLE)];
    return nftOp(netns, lines, `nft: table ${T} with ${mappings.length} flow(s)`);
  },

  replace(netns, mappings) {
    const lines = [
      ...[DNAT_MAP, DNAT_BACK_MAP].map((m) => `flush map ${T} ${m}`),
      ...renderEdits(mapEdits(additions(mappings)), NFT_TABLE),
    ];
    return nftOp(netns, lines, `nft: set ${mappings.length} flow(s)`);
  },

  update(netns, changes) {
    const edits = mapEdits(changes);
    return nftOp(netns, renderEdits(edits, NFT_TABLE), summarize(edits), edits);
  },

  // Declaring the table first makes the delete safe when it is missing; the whole script is one
  // transaction, so packets see the old table or the new one.
  repair(netns, mappings) {
    const lines = [
      `table ${T} {}`,
      `delete table ${T}`,
      renderTable(),
      ...renderEdits(mapEdits(additions(mappings)), NFT_TABLE),
    ];
    return nftOp(netns, lines, `nft: table ${T} restated with ${mappings.length} flow(s)`);
  },

  uninstall(netns) {
    return nftOp(netns, [`delete table ${T}`], `nft: delete table ${T}`);
  },

  inspect(netns): Command {
    return { argv: ['nft', '-j', 'list', 'table', 'ip6', NFT_TABLE], netns };
  },

  parse(output) {
    return parseNftJson(output);
  },

  simulate(current, o) {
    return simulateScript(current, o.stdin);
  },
};

type Elem = unknown;

const payload = (field: string) => ({ payload: { protocol: 'ip6', field } });
const dnatRule = (map: string) =>
  nftShape(
    {
      chain: 'prerouting',
      expr: [
        {
          dnat: {
            addr: {
              map: { key: { concat: [payload('saddr'), payload('daddr')] }, data: `@${map}` },
            },
          },
        },
      ],
    },
    'rule',
  );

/** The rules and chains of renderTable() as `nft -j` shows them (see nftShape). */
const EXPECTED = {
  rules: [
    dnatRule(DNAT_MAP),
    dnatRule(DNAT_BACK_MAP),
    nftShape(
      {
        chain: 'postrouting',
        expr: [
          { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } },
          { snat: { addr: { ct: { key: 'ip6 daddr', dir: 'original' } } } },
        ],
      },
      'rule',
    ),
  ],
  chains: [
    nftShape({ name: 'prerouting', type: 'nat', hook: 'prerouting', prio: -100 }, 'chain'),
    nftShape({ name: 'postrouting', type: 'nat', hook: 'postrouting', prio: 100 }, 'chain'),
  ],
};

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

const ELEMENT_LINE = new RegExp(`^(add|delete) element ${T} (\\w+) \\{ (.*) \\}$`);

/** Applies one of this engine's scripts to a flow table, as the kernel would. */
export function simulateScript(current: readonly FlowMapping[], script: string): FlowMapping[] {
  const maps = new Map<string, Map<string, string>>(
    [DNAT_MAP, DNAT_BACK_MAP].map((m) => [m, new Map<string, string>()]),
  );
  for (const m of current)
    for (const e of elementsOf(m))
      maps
        .get(e.map)
        ?.set(e.element.slice(0, -1).join(' . '), e.element[e.element.length - 1] ?? '');
  for (const line of script.split('\n').map((l) => l.trim())) {
    if (line === `delete table ${T}`) for (const m of maps.values()) m.clear();
    const flush = /^flush map ip6 flowmig (\w+)$/.exec(line);
    if (flush?.[1]) maps.get(flush[1])?.clear();
    const m = ELEMENT_LINE.exec(line);
    const target = m?.[2] ? maps.get(m[2]) : undefined;
    if (!m || !target) continue;
    for (const el of (m[3] ?? '').split(', ')) {
      const [key = '', value] = el.split(' : ');
      if (m[1] === 'delete') {
        if (!target.has(key)) throw new Error(`nft would fail: no element ${key} in ${m[2]}`);
        target.delete(key);
      } else target.set(key, value ?? '');
    }
  }
  const back = maps.get(DNAT_BACK_MAP) ?? new Map<string, string>();
  return [...(maps.get(DNAT_MAP) ?? new Map<string, string>())].map(([key, responder]) => {
    const [initiatorAddress = '', address = ''] = key.split(' . ');
    const whole = back.get(`${responder} . ${address}`) === initiatorAddress;
    return { address, initiatorAddress, responderAddress: whole ? responder : '' };
  });
}
