// The reference's engine: ip6tables nat rules in two flowmig-owned chains, swapped atomically.
import type { Command } from '../plan/command.js';
import type { Engine, FlowMapping, KernelFlowTable, NetfilterApplyOp } from './engine.js';

export const DNAT_CHAIN = 'FLOWMIG-DNAT';
export const SNAT_CHAIN = 'FLOWMIG-SNAT';

/**
 * Mappings live in two user chains that flowmig owns, jumped to from PREROUTING/POSTROUTING.
 * A change is one `ip6tables-restore --noflush` run: declaring a user chain flushes it, and the
 * whole input is committed as one transaction (one nf_tables batch with iptables-nft, one table
 * replace with legacy iptables), so packets see either the old rules or the new ones.
 */
export const iptablesEngine: Engine = {
  name: 'iptables',
  programs: ['ip6tables-restore', 'ip6tables-save'],

  install(netns, mappings) {
    return restoreOp(netns, mappings, true, `ip6tables: install ${mappings.length} flow(s)`);
  },

  replace(netns, mappings) {
    return restoreOp(netns, mappings, false, `ip6tables: set ${describe(mappings)}`);
  },

  // Chains are rewritten whole: ip6tables has no cheaper atomic way to change one rule.
  update(netns, changes, all) {
    const moved = changes.flatMap((c) => (c.after ? [c.after] : []));
    return restoreOp(netns, all(), false, `ip6tables: set ${describe(moved)}`);
  },

  // The rules live in the translator's namespace and go with it.
  uninstall() {
    return undefined;
  },

  simulate(_current, op) {
    return [...parseNatTable(op.stdin).mappings];
  },

  inspect(netns): Command {
    return { argv: ['ip6tables-save', '-t', 'nat'], netns };
  },

  parse(output) {
    return parseNatTable(output);
  },
};

function describe(mappings: readonly FlowMapping[]): string {
  return mappings.map((m) => `${m.address}→${m.responderAddress}`).join(', ');
}

/** The rules for the mappings, in ip6tables-restore syntax (no chain declarations). */
export function renderRules(mappings: readonly FlowMapping[]): string[] {
  const dnat = mappings.map(
    (m) => `-A ${DNAT_CHAIN} -d ${m.address}/128 -j DNAT --to-destination ${m.responderAddress}`,
  );
  // Match on the connection's original destination, so each flow's initiator is rewritten to
  // that flow's abstract address even when several flows share an initiator or a responder.
  const snat = mappings.map(
    (m) =>
      `-A ${SNAT_CHAIN} -s ${m.initiatorAddress}/128 -m conntrack --ctorigdst ${m.address}/128 -j SNAT --to-source ${m.address}`,
  );
  return [...dnat, ...snat];
}

export function renderRestore(mappings: readonly FlowMapping[], withHooks: boolean): string {
  const lines = ['*nat', `:${DNAT_CHAIN} - [0:0]`, `:${SNAT_CHAIN} - [0:0]`];
  if (withHooks) lines.push(`-A PREROUTING -j ${DNAT_CHAIN}`, `-A POSTROUTING -j ${SNAT_CHAIN}`);
  // concat, not push(...): a spread of 200,000 rules would overflow the call stack.
  return lines.concat(renderRules(mappings), ['COMMIT', '']).join('\n');
}

function restoreOp(
  netns: string,
  mappings: readonly FlowMapping[],
  withHooks: boolean,
  summary: string,
): NetfilterApplyOp {
  return {
    kind: 'netfilterApply',
    netns,
    // -w: wait for the xtables lock instead of failing when another ip6tables runs.
    argv: ['ip6tables-restore', '-w', '--noflush'],
    stdin: renderRestore(mappings, withHooks),
    summary,
  };
}

const DNAT_RULE = new RegExp(
  `^-A ${DNAT_CHAIN} -d (\\S+?)(?:/128)? .*-j DNAT --to-destination \\[?([0-9a-f:]+)\\]?$`,
);
const SNAT_RULE = new RegExp(
  `^-A ${SNAT_CHAIN} -s (\\S+?)(?:/128)? .*--ctorigdst (\\S+?)(?:/128)? -j SNAT --to-source \\[?([0-9a-f:]+)\\]?$`,
);

/** Reads flowmig's mappings from `ip6tables-save -t nat` output (or restore input). */
export function parseNatTable(text: string): KernelFlowTable {
  const responders = new Map<string, string>();
  const initiators = new Map<string, string>();
  let hookedPre = false;
  let hookedPost = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === `-A PREROUTING -j ${DNAT_CHAIN}`) hookedPre = true;
    if (line === `-A POSTROUTING -j ${SNAT_CHAIN}`) hookedPost = true;
    const d = DNAT_RULE.exec(line);
    if (d?.[1] && d[2]) responders.set(d[1], d[2]);
    const s = SNAT_RULE.exec(line);
    if (s?.[1] && s[2]) initiators.set(s[2], s[1]);
  }
  const mappings: FlowMapping[] = [];
  for (const [address, responderAddress] of responders) {
    mappings.push({ address, responderAddress, initiatorAddress: initiators.get(address) ?? '' });
  }
  return { installed: hookedPre && hookedPost, mappings };
}
