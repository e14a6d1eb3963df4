// The reference's engine: ip6tables nat rules in two flowmig-owned chains, swapped atomically.
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
  // nft: the late-packet table (ip6tables has no stateless address rewrite).
  programs: ['ip6tables-restore', 'ip6tables-save', 'nft'],

  install(netns, mappings) {
    return restoreOp(
      netns,
      mappings,
      ['PREROUTING', 'POSTROUTING'],
      `ip6tables: install ${mappings.length} flow(s)`,
    );
  },

  replace(netns, mappings) {
    return restoreOp(netns, mappings, [], `ip6tables: set ${describe(mappings)}`);
  },

  // Chains are rewritten whole: ip6tables has no cheaper atomic way to change one rule.
  update(netns, changes, all) {
    const moved = changes.flatMap((c) => (c.after ? [c.after] : []));
    return restoreOp(netns, all(), [], `ip6tables: set ${describe(moved)}`);
  },

  // Redeclaring the two chains flushes them (foreign rules in them go); only the missing jumps
  // are added (a jump that is there stays single).
  repair(netns, mappings, kernel) {
    const missing = kernel.missingHooks ?? (kernel.installed ? [] : ['PREROUTING', 'POSTROUTING']);
    return restoreOp(netns, mappings, missing, `ip6tables: chains restated`);
  },

  // The rules live in the translator's namespace and go with it.
  uninstall() {
    return undefined;
  },

  inspect(netns) {
    return { argv: ['ip6tables-save', '-t', 'nat'], netns };
  },

  parse(output) {
    return parseNatTable(output);
  },
};

function describe(mappings: readonly FlowMapping[]): string {
  return mappings.map((m) => `${m.address}→${m.responderAddress}`).join(', ');
}

/** Marks the DNAT rules of the way back (responder → abstract address → initiator). */
export const BACK_COMMENT = 'flowmig-back';

/**
 * The rules for the mappings, in ip6tables-restore syntax (no chain declarations). A connection
 * from the initiator to the abstract address goes to the responder; one from the responder (the
 * server speaks first) goes to the initiator; both leave with the abstract address as source.
 */
export function renderRules(mappings: readonly FlowMapping[]): string[] {
  const dnat = mappings.flatMap((m) => [
    `-A ${DNAT_CHAIN} -s ${m.initiatorAddress}/128 -d ${m.address}/128 -j DNAT --to-destination ${m.responderAddress}`,
    `-A ${DNAT_CHAIN} -s ${m.responderAddress}/128 -d ${m.address}/128 -m comment --comment ${BACK_COMMENT} -j DNAT --to-destination ${m.initiatorAddress}`,
  ]);
  // Either way the source becomes the abstract address the connection was sent to: match the
  // original destination of a translated connection, so several flows may share a node.
  const snat = mappings.map(
    (m) =>
      `-A ${SNAT_CHAIN} -m conntrack --ctstate DNAT --ctorigdst ${m.address}/128 -j SNAT --to-source ${m.address}`,
  );
  return [...dnat, ...snat];
}

/**
 * ip6tables-restore input that redeclares (flushes) and refills the two chains; `hooks` lists the
 * built-in chains whose jump to flowmig's chain is added (`true`: both, `false`: none).
 */
export function renderRestore(
  mappings: readonly FlowMapping[],
  hooks: boolean | readonly Hook[],
): string {
  const list: readonly Hook[] = hooks === true ? ['PREROUTING', 'POSTROUTING'] : hooks || [];
  const lines = ['*nat', `:${DNAT_CHAIN} - [0:0]`, `:${SNAT_CHAIN} - [0:0]`];
  if (list.includes('PREROUTING')) lines.push(`-A PREROUTING -j ${DNAT_CHAIN}`);
  if (list.includes('POSTROUTING')) lines.push(`-A POSTROUTING -j ${SNAT_CHAIN}`);
  // concat, not push(...): a spread of 200,000 rules would overflow the call stack.
  return lines.concat(renderRules(mappings), ['COMMIT', '']).join('\n');
}

type Hook = 'PREROUTING' | 'POSTROUTING';

function restoreOp(
  netns: string,
  mappings: readonly FlowMapping[],
  hooks: readonly Hook[],
  summary: string,
): NetfilterApplyOp {
  return {
    kind: 'netfilterApply',
    netns,
    // -w: wait for the xtables lock instead of failing when another ip6tables runs.
    argv: ['ip6tables-restore', '-w', '--noflush'],
    stdin: renderRestore(mappings, hooks),
    summary,
  };
}

const DNAT_RULE = new RegExp(
  `^-A ${DNAT_CHAIN} -s (\\S+?)(?:/128)? -d (\\S+?)(?:/128)? (-m comment --comment "?${BACK_COMMENT}"? )?-j DNAT --to-destination \\[?([0-9a-f:]+)\\]?$`,
);

const SNAT_RULE = new RegExp(
  `^-A ${SNAT_CHAIN} -m conntrack --ctstate DNAT --ctorigdst \\S+? -j SNAT --to-source \\S+$`,
);

/** Reads flowmig's mappings from `ip6tables-save -t nat` output (or restore input). */
export function parseNatTable(text: string): KernelFlowTable {
  const forward = new Map<string, { initiator: string; responder: string }>();
  const back = new Set<string>();
  let hookedPre = false;
  let hookedPost = false;
  let foreignRules = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === `-A PREROUTING -j ${DNAT_CHAIN}`) hookedPre = true;
    if (line === `-A POSTROUTING -j ${SNAT_CHAIN}`) hookedPost = true;
    if (line.startsWith(`-A ${SNAT_CHAIN} `) && !SNAT_RULE.test(line)) foreignRules++;
    const d = DNAT_RULE.exec(line);
    if (line.startsWith(`-A ${DNAT_CHAIN} `) && !d) foreignRules++;
    if (!d?.[1] || !d[2] || !d[4]) continue;
    if ((d[3] ?? '').includes(BACK_COMMENT)) back.add(`${d[1]} ${d[2]} ${d[4]}`);
    else forward.set(d[2], { initiator: d[1], responder: d[4] });
  }
  const mappings: FlowMapping[] = [];
  for (const [address, { initiator, responder }] of forward) {
    // A flow whose way back is missing is reported without its responder: not in sync.
    const whole = back.has(`${responder} ${address} ${initiator}`);
    mappings.push({
      address,
      initiatorAddress: initiator,
      responderAddress: whole ? responder : '',
    });
  }
  // Exactly one jump missing is named, so a repair adds that one and does not double the other.
  const missingHooks: ('PREROUTING' | 'POSTROUTING')[] = [];
  if (!hookedPre && hookedPost) missingHooks.push('PREROUTING');
  if (hookedPre && !hookedPost) missingHooks.push('POSTROUTING');
  return {
    installed: hookedPre && hookedPost,
    mappings,
    ...(foreignRules ? { foreignRules } : {}),
    ...(missingHooks.length ? { missingHooks } : {}),
  };
}
