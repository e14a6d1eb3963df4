// flowmig's tables in the translator, read back: their chains and rules from `nft -j -t` (terse: no
// set elements, so it costs the same at any size), their map and set elements by a netlink dump;
// or, with no netlink path, everything from `nft -j` (seconds at 100,000 flows).
import type { FlowMapping, KernelFlowTable } from '../engines/engine.js';
import { type HoldState, holdTable } from '../engines/hold.js';
import {
  type FormerResponder,
  INITIATOR_MAP,
  LATE_SET,
  LATE_TABLE,
  type LateState,
  lateTable,
  parseLateJson,
} from '../engines/late.js';
import { DNAT_BACK_MAP, DNAT_MAP, NFT_TABLE, parseNftJson } from '../engines/nftables.js';
import { engineFor } from '../engines/registry.js';
import { type Lab, movesTcp } from '../lab/model.js';
import { netlinkAddon } from '../netlink/native.js';
import type { DumpedElements } from '../nft/netlink.js';
import type { Command } from '../plan/command.js';
import { dumpSets, type SetName } from './in-process.js';
import type { ControlContext } from './lab-state.js';

/** flowmig's tables in the translator, as the engine, the late and the hold table read them. */
export interface TranslatorView {
  readonly table: KernelFlowTable;
  readonly late: LateState;
  /** The hold table, read when the lab moves TCP connections (policy `migrate`). */
  readonly hold?: HoldState;
  /** How the elements were read. */
  readonly read: 'netlink' | 'nft';
}

export interface ReadOptions {
  /** Read elements over netlink (default: when the native addon is there to make the socket). */
  readonly netlink?: boolean;
}

/** Dumps until every set was read at one generation (no commit between them), at most this often. */
const ATTEMPTS = 3;

/** The tables of the lab's translator, read back. */
export async function readTranslator(
  ctx: ControlContext,
  lab: Lab,
  options: ReadOptions = {},
): Promise<TranslatorView> {
  const engine = engineFor(lab.engine);
  const t = lab.translator.netns;
  const read = async (cmd: Command) =>
    (await ctx.runner.run(cmd.argv, { netns: cmd.netns, okExitCodes: [0, 1] })).stdout;
  const hold = movesTcp(lab)
    ? holdTable.parse(await Promise.all(holdTable.inspect(t).map(read)))
    : undefined;
  const withHold = hold ? { hold } : {};
  const byNft = async (): Promise<TranslatorView> => ({
    table: engine.parse(await read(engine.inspect(t))),
    late: lateTable.parse(await read(lateTable.inspect(t))),
    ...withHold,
    read: 'nft',
  });
  if (!(options.netlink ?? netlinkAddon().ok)) return byNft();
  // The nftables engine's maps are read with the late table's; another engine's table by its own
  // command (ip6tables keeps no sets to dump).
  const ownMaps = engine.fastPath?.table === NFT_TABLE;
  const sets: SetName[] = [
    { table: LATE_TABLE, set: INITIATOR_MAP },
    { table: LATE_TABLE, set: LATE_SET },
    ...(ownMaps
      ? [
          { table: NFT_TABLE, set: DNAT_MAP },
          { table: NFT_TABLE, set: DNAT_BACK_MAP },
        ]
      : []),
  ];
  let dumps: (DumpedElements | undefined)[];
  try {
    dumps = await dumpSets(t, sets);
  } catch {
    // No socket there (the namespace is gone, or these are not the host's namespaces): the
    // programs read what there is and say what is missing.
    return byNft();
  }
  for (let i = 1; i < ATTEMPTS && generations(dumps) > 1; i++) dumps = await dumpSets(t, sets);
  const structure = await read({ argv: ['nft', '-j', '-t', 'list', 'ruleset'], netns: t });
  const [initiators, former, forward, back] = dumps;
  const late = parseLateJson(structure);
  return {
    table: ownMaps
      ? { ...parseNftJson(structure), mappings: mappingsOf(forward, back) }
      : engine.parse(await read(engine.inspect(t))),
    late: {
      ...late,
      initiators: new Map(
        (initiators?.elements ?? []).flatMap((e) =>
          e.key[0] && e.value !== undefined ? [[e.key[0], e.value] as const] : [],
        ),
      ),
      former: (former?.elements ?? []).flatMap((e): FormerResponder[] => {
        const [responderAddress, address] = e.key;
        return responderAddress && address
          ? [{ responderAddress, address, expiresMs: e.expiresMs ?? 0 }]
          : [];
      }),
    },
    ...withHold,
    read: 'netlink',
  };
}

/** How many ruleset generations the dumps were read at (1: all at one moment). */
function generations(dumps: readonly (DumpedElements | undefined)[]): number {
  const seen = new Set<number>();
  for (const d of dumps) for (const g of d?.generations ?? []) seen.add(g);
  return seen.size;
}

/**
 * The flows the two maps name, as parseNftJson reads them from `nft -j`: the forward elements
 * (initiator . abstract → responder) name them; one whose way back (responder . abstract →
 * initiator) is missing is reported without its responder, so it shows as not in sync.
 */
export function mappingsOf(
  forward: DumpedElements | undefined,
  back: DumpedElements | undefined,
): FlowMapping[] {
  // abstract address → its way back's elements (responder, initiator): keyed by the one part
  // that differs between flows, so no key string is built per element.
  const backs = new Map<string, { responder: string; initiator: string }[]>();
  for (const e of back?.elements ?? []) {
    const [responder, address] = e.key;
    if (!responder || !address || e.value === undefined) continue;
    const list = backs.get(address);
    const entry = { responder, initiator: e.value };
    if (list) list.push(entry);
    else backs.set(address, [entry]);
  }
  const mappings: FlowMapping[] = [];
  for (const e of forward?.elements ?? []) {
    const [initiatorAddress, address] = e.key;
    const responder = e.value;
    if (!initiatorAddress || !address || responder === undefined) continue;
    const whole = backs
      .get(address)
      ?.some((b) => b.responder === responder && b.initiator === initiatorAddress);
    mappings.push({ address, initiatorAddress, responderAddress: whole ? responder : '' });
  }
  return mappings;
}
