// Where a fast-path swap's time goes, in-process: the rule transaction (with the exact-tuple
// conntrack deletes sent right after it), then the second look at the index. Each sample starts
// after 2 ms idle, as in `flowmig bench swap`, in four conditions: nothing crossed the flow since
// the last swap; a datagram crossed it 2 ms before (its entry is deleted, its DESTROY event read);
// the same without asking for the delete; and back to back. `--agent` runs the lab's agent process
// beside: `standby` (as under the daemon: it indexes nothing) or `indexing` (it follows conntrack
// events, woken by each). Usage: node dist/src/bench/split.js [--samples 500] [--prefix fmbs-]
// [--agent none|standby|indexing]. Prints one line per condition, or JSON with --json.
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, type ApplyRequest } from '../agent/agent.js';
import { AgentClient } from '../agent/client.js';
import { Flowmig } from '../control/flowmig.js';
import { netnsPath } from '../control/in-process.js';
import { joinNftOps } from '../engines/edits.js';
import type { FlowChange, FlowMapping } from '../engines/engine.js';
import { lateTable } from '../engines/late.js';
import { NFT_TABLE, nftablesEngine } from '../engines/nftables.js';
import { Background, sleep } from '../experiment/process.js';
import { loadLab } from '../lab/load.js';
import { distribution } from '../results/stats.js';

const POKE = fileURLToPath(new URL('./poke.js', import.meta.url));
const GRACE_MS = 5_000;

interface Condition {
  readonly name: string;
  readonly idleMs: number;
  readonly poke: boolean;
  readonly deleteEntries: boolean;
}

const CONDITIONS: readonly Condition[] = [
  { name: 'back to back', idleMs: 0, poke: false, deleteEntries: true },
  { name: 'idle', idleMs: 2, poke: false, deleteEntries: true },
  { name: 'datagram 2 ms before, entry deleted', idleMs: 2, poke: true, deleteEntries: true },
  { name: 'datagram 2 ms before, no delete asked', idleMs: 2, poke: true, deleteEntries: false },
  { name: 'idle (again)', idleMs: 2, poke: false, deleteEntries: true },
];

export interface SplitRow {
  readonly condition: string;
  readonly samples: number;
  readonly total_p50_ms: number;
  readonly total_p99_ms: number;
  /** The rule transaction and the deletes sent right behind it, until both are acknowledged. */
  readonly rule_and_delete_p50_ms: number;
  /** The second look: events read, late entries deleted. */
  readonly second_look_p50_ms: number;
}

/**
 * One swap of the reference lab's flow, as flowmig plans it (see swap.ts): the flow's map
 * elements and its late-packet grace in one transaction, the new responder's release after.
 */
function swapRequest(
  netns: string,
  from: string,
  to: string,
  deleteEntries: boolean,
): ApplyRequest {
  const flow = (responderAddress: string): FlowMapping => ({
    address: 'fe00::1',
    initiatorAddress: 'fc00::1',
    responderAddress,
  });
  const changes: FlowChange[] = [{ before: flow(from), after: flow(to) }];
  const rules = nftablesEngine.update(netns, changes, () => [flow(to)]);
  const late = lateTable.update(netns, changes, GRACE_MS);
  return {
    table: NFT_TABLE,
    edits: (late ? joinNftOps(rules, late) : rules).edits ?? [],
    conntrack: deleteEntries ? [{ address: 'fe00::1', keepReplySrc: to }] : [],
    after: lateTable.release(netns, changes, GRACE_MS)?.edits ?? [],
  };
}

export type AgentMode = 'none' | 'standby' | 'indexing';

export async function runSplit(
  samples: number,
  prefix: string,
  agentMode: AgentMode = 'none',
): Promise<SplitRow[]> {
  const stateDir = `/tmp/flowmig-bench-split-${process.pid}`;
  const fm = new Flowmig({ stateDir, agent: agentMode !== 'none' });
  const lab = await loadLab(undefined, { prefix });
  await fm.up(lab);
  let poker: Background | undefined;
  let agent: Agent | undefined;
  try {
    if (agentMode === 'indexing') {
      // The agent process indexes from its first migration that deletes entries: ask for one.
      const handle = (await fm.store.read(lab.id))?.agent;
      if (!handle) throw new Error('the agent did not start');
      const c = await AgentClient.connect(handle.socket);
      try {
        await c.apply(NFT_TABLE, [], [{ address: 'fe00::1' }]);
        if (!(await c.hello()).indexing) throw new Error('the agent does not index');
      } finally {
        c.close();
      }
    }
    agent = await Agent.start({ netns: netnsPath(lab.translator.netns) });
    const client = lab.nodes.find((n) => n.role === 'client')?.netns;
    poker = Background.start([process.execPath, POKE, 'fe00::1', '9'], {
      netns: client,
      stdin: true,
    });
    await sleep(300);
    const rows: SplitRow[] = [];
    let [from, to] = ['fc01::1', 'fc02::2'];
    for (const c of CONDITIONS) {
      const total: number[] = [];
      const rule: number[] = [];
      const look: number[] = [];
      for (let k = 0; k < samples + 100; k++) {
        if (c.poke) await poker.request('poke');
        if (c.idleMs) await sleep(c.idleMs);
        const t0 = performance.now();
        const { result, release } = await agent.migrate(
          swapRequest(lab.translator.netns, from, to, c.deleteEntries),
        );
        const ms = performance.now() - t0;
        await release();
        [from, to] = [to, from];
        if (k < 100) continue; // warm-up
        total.push(ms);
        rule.push(result.ruleMs);
        look.push(result.conntrackMs);
      }
      const d = distribution(total);
      rows.push({
        condition: c.name,
        samples,
        total_p50_ms: d.p50,
        total_p99_ms: d.p99,
        rule_and_delete_p50_ms: distribution(rule).p50,
        second_look_p50_ms: distribution(look).p50,
      });
    }
    return rows;
  } finally {
    await poker?.stop('SIGTERM');
    agent?.close();
    await fm.down(lab.id);
    fm.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      samples: { type: 'string', default: '500' },
      prefix: { type: 'string', default: 'fmbs-' },
      json: { type: 'boolean', default: false },
      agent: { type: 'string', default: 'none' },
    },
  });
  const mode = values.agent;
  if (mode !== 'none' && mode !== 'standby' && mode !== 'indexing')
    throw new Error(`--agent: none, standby or indexing, not ${mode}`);
  const rows = await runSplit(Number(values.samples), values.prefix, mode);
  if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
  else
    for (const r of rows)
      process.stdout.write(
        `${r.condition.padEnd(40)} total p50 ${r.total_p50_ms.toFixed(3)} p99 ${r.total_p99_ms.toFixed(3)} ms | rule+delete p50 ${r.rule_and_delete_p50_ms.toFixed(3)} | second look p50 ${r.second_look_p50_ms.toFixed(3)} ms\n`,
      );
}
