// Runs inside the translator namespace (started by bench/swap.ts with `ip netns exec`): the agent's
// migration code called in-process, with no IPC, to measure what a controller living in the
// translator namespace would see. Line-driven so the caller can prepare each sample (a fresh
// conntrack entry) first: each line `swap` swaps fe00::1 to the other server and answers
// {"ms": <latency measured here>, "deleted": <entries deleted>}; end of input closes the agent.
import { createInterface } from 'node:readline';
import { Agent } from '../src/agent/agent.js';
import { lateEdits, releaseEdits } from '../src/engines/late.js';
import { mapEdits, NFT_TABLE } from '../src/engines/nftables.js';

const agent = await Agent.start();
const servers = ['fc02::2', 'fc01::1'];
const flow = (responderAddress: string) => ({
  address: 'fe00::1',
  initiatorAddress: 'fc00::1',
  responderAddress,
});
let swaps = 0;
try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'swap') throw new Error(`unknown request: ${line}`);
    const t0 = performance.now();
    const to = servers[swaps % 2] ?? '';
    const change = [{ before: flow(servers[(swaps + 1) % 2] ?? ''), after: flow(to) }];
    const r = await agent.apply({
      table: NFT_TABLE,
      edits: [...mapEdits(change), ...lateEdits(change, 5_000)],
      conntrack: [{ address: 'fe00::1', keepReplySrc: to }],
      after: releaseEdits(change, 5_000),
    });
    const ms = performance.now() - t0;
    swaps++;
    process.stdout.write(`${JSON.stringify({ ms, deleted: r.deleted })}\n`);
  }
} finally {
  agent.close();
}
