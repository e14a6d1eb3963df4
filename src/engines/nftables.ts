// The nftables engine: one flowmig-owned table; mappings are elements of two named maps.
import type { Command } from '../plan/command.js';
import type {
  Engine,
  FlowChange,
  FlowMapping,
  KernelFlowTable,
  MapEdit,
  NetfilterApplyOp,
} from './engine.js';

export const NFT_TABLE = 'flowmig';
/** abstract address → responder's concrete address */
export const DNAT_MAP = 'dnat_to';
/** initiator's concrete address . connection's original destination → abstract address */
export const SNAT_MAP = 'snat_from';

const T = `ip6 ${NFT_TABLE}`;

/**
 * The table, declared whole. `dnat to ip6 daddr map @dnat_to` rewrites the abstract destination of
 * a new connection; the source rewrite is keyed on (source, original destination) so that one
 * initiator can use several flows, each answered from its own abstract address.
 */
export function renderTable(): string {
  return [
    `table ${T} {`,
    `  map ${DNAT_MAP} { type ipv6_addr : ipv6_addr; }`,
    `  map ${SNAT_MAP} { type ipv6_addr . ipv6_addr : ipv6_addr; }`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    dnat to ip6 daddr map @${DNAT_MAP};`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    snat to ip6 saddr . ct original ip6 daddr map @${SNAT_MAP};`,
    '  }',
    '}',
  ].join('\n');
}

const dnatKey = (m: FlowMapping) => [m.address];
const snatKey = (m: FlowMapping) => [m.initiatorAddress, m.address];

/** The map edits for the changes: only elements that differ are touched. */
export function mapEdits(changes: readonly FlowChange[]): MapEdit[] {
  const dnat = { map: DNAT_MAP, remove: [] as string[][], add: [] as string[][] };
  const snat = { map: SNAT_MAP, remove: [] as string[][], add: [] as string[][] };
  for (const { before: b, after: a } of changes) {
    if (b && (!a || a.responderAddress !== b.responderAddress)) dnat.remove.push(dnatKey(b));
    if (b && (!a || a.initiatorAddress !== b.initiatorAddress)) snat.remove.push(snatKey(b));
    if (a && (!b || a.responderAddress !== b.responderAddress)) {
      dnat.add.push([...dnatKey(a), a.responderAddress]);
    }
    if (a && (!b || a.initiatorAddress !== b.initiatorAddress)) {
      snat.add.push([...snatKey(a), a.address]);
    }
  }
  return [dnat, snat].filter((e) => e.remove.length > 0 || e.add.length > 0);
}

/** Changes that add every mapping to an empty table. */
export function additions(mappings: readonly FlowMapping[]): FlowChange[] {
  return mappings.map((after) => ({ after }));
}

function element(parts: readonly string[], withValue: boolean): string {
  const key = withValue ? parts.slice(0, -1) : parts;
  const text = key.join(' . ');
  return withValue ? `${text} : ${parts[parts.length - 1] ?? ''}` : text;
}

/** nft script lines for the edits: all deletes before all adds; `nft -f` commits them as one. */
export function renderEdits(edits: readonly MapEdit[]): string[] {
  const lines: string[] = [];
  for (const e of edits) {
    if (e.remove.length)
      lines.push(
        `delete element ${T} ${e.map} { ${e.remove.map((k) => element(k, false)).join(', ')} }`,
      );
  }
  for (const e of edits) {
    if (e.add.length)
      lines.push(`add element ${T} ${e.map} { ${e.add.map((k) => element(k, true)).join(', ')} }`);
  }
  return lines;
}

function op(
  netns: string,
  lines: readonly string[],
  summary: string,
  edits?: readonly MapEdit[],
): NetfilterApplyOp {
  return {
    kind: 'netfilterApply',
    netns,
    argv: ['nft', '-f', '-'],
    stdin: `${lines.join('\n')}\n`,
    summary,
    ...(edits ? { edits } : {}),
  };
}

function summarize(edits: readonly MapEdit[]): string {
  const dnat = edits.find((e) => e.map === DNAT_MAP);
  const moved = (dnat?.add ?? []).slice(0, 3).map((p) => `${p[0]}→${p[1]}`);
  const more = (dnat?.add.length ?? 0) > 3 ? ` and ${(dnat?.add.length ?? 0) - 3} more` : '';
  return `nft: ${moved.join(', ') || 'map update'}${more}`;
}

export const nftablesEngine: Engine = {
  name: 'nftables',
  programs: ['nft'],
  fastPath: { table: NFT_TABLE },

  install(netns, mappings) {
    // Declaring the table and its elements in one script makes the install one transaction too.
    const lines = [renderTable(), ...renderEdits(mapEdits(additions(mappings)))];
    return op(netns, lines, `nft: table ${T} with ${mappings.length} flow(s)`);
  },

  replace(netns, mappings) {
    const lines = [
      `flush map ${T} ${DNAT_MAP}`,
      `flush map ${T} ${SNAT_MAP}`,
      ...renderEdits(mapEdits(additions(mappings))),
    ];
    return op(netns, lines, `nft: set ${mappings.length} flow(s)`);
  },

  update(netns, changes) {
    const edits = mapEdits(changes);
    return op(netns, renderEdits(edits), summarize(edits), edits);
  },

  uninstall(netns) {
    return op(netns, [`delete table ${T}`], `nft: delete table ${T}`);
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

/** Reads flowmig's mappings from `nft -j list table ip6 flowmig`. */
export function parseNftJson(text: string): KernelFlowTable {
  let doc: { nftables?: Record<string, unknown>[] };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return { installed: false, mappings: [] };
  }
  const items = doc.nftables ?? [];
  const maps = new Map<string, Elem[]>();
  const chains = new Set<string>();
  let rules = 0;
  for (const item of items) {
    const m = item.map as { name?: string; table?: string; elem?: Elem[] } | undefined;
    if (m?.table === NFT_TABLE && m.name) maps.set(m.name, m.elem ?? []);
    const c = item.chain as { name?: string; table?: string } | undefined;
    if (c?.table === NFT_TABLE && c.name) chains.add(c.name);
    const r = item.rule as { table?: string } | undefined;
    if (r?.table === NFT_TABLE) rules++;
  }
  const parts = (k: Elem): string[] => {
    if (typeof k === 'string') return [k];
    const concat = (k as { concat?: unknown[] } | null)?.concat;
    return Array.isArray(concat) ? concat.map(String) : [];
  };
  const initiators = new Map<string, string>();
  for (const e of maps.get(SNAT_MAP) ?? []) {
    const [key, value] = e as [Elem, Elem];
    const [initiator] = parts(key);
    if (initiator && typeof value === 'string') initiators.set(value, initiator);
  }
  const mappings: FlowMapping[] = [];
  for (const e of maps.get(DNAT_MAP) ?? []) {
    const [key, value] = e as [Elem, Elem];
    const [address] = parts(key);
    if (address && typeof value === 'string') {
      mappings.push({
        address,
        responderAddress: value,
        initiatorAddress: initiators.get(address) ?? '',
      });
    }
  }
  const installed =
    maps.has(DNAT_MAP) &&
    maps.has(SNAT_MAP) &&
    chains.has('prerouting') &&
    chains.has('postrouting') &&
    rules >= 2;
  return { installed, mappings };
}

const ELEMENT_LINE = new RegExp(`^(add|delete) element ${T} (\\w+) \\{ (.*) \\}$`);

/** Applies one of this engine's scripts to a flow table, as the kernel would. */
export function simulateScript(current: readonly FlowMapping[], script: string): FlowMapping[] {
  const dnat = new Map(current.map((m) => [m.address, m.responderAddress]));
  const snat = new Map(current.map((m) => [`${m.initiatorAddress} . ${m.address}`, m.address]));
  for (const line of script.split('\n').map((l) => l.trim())) {
    if (line === `flush map ${T} ${DNAT_MAP}` || line === `delete table ${T}`) dnat.clear();
    if (line === `flush map ${T} ${SNAT_MAP}` || line === `delete table ${T}`) snat.clear();
    const m = ELEMENT_LINE.exec(line);
    if (!m) continue;
    const target = m[2] === DNAT_MAP ? dnat : m[2] === SNAT_MAP ? snat : undefined;
    if (!target) continue;
    for (const el of (m[3] ?? '').split(', ')) {
      const [key = '', value] = el.split(' : ');
      if (m[1] === 'delete') target.delete(key);
      else target.set(key, value ?? '');
    }
  }
  const initiators = new Map<string, string>();
  for (const [key, value] of snat) initiators.set(value, key.split(' . ')[0] ?? '');
  return [...dnat].map(([address, responderAddress]) => ({
    address,
    responderAddress,
    initiatorAddress: initiators.get(address) ?? '',
  }));
}
