// Runs inside the translator namespace (started by bench/swap.ts with `ip netns exec`): the agent's
// migration code called in-process, with no IPC, to measure what a controller living in the
// translator namespace would see. Line-driven so the caller can prepare each sample (a fresh
// conntrack entry) first: each line `swap` swaps fe00::1 to the other server and answers
// {"ms": <latency measured here>, "deleted": <entries deleted>}; end of input closes the agent.
import { createInterface } from 'node:readline';
import { Agent } from '../src/agent/agent.js';
import { NFT_TABLE } from '../src/engines/nftables.js';

const agent = await Agent.start();
const servers = ['fc02::2', 'fc01::1'];
let swaps = 0;
try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'swap') throw new Error(`unknown request: ${line}`);
    const t0 = performance.now();
    const r = await agent.apply({
      table: NFT_TABLE,
      edits: [
        { map: 'dnat_to', remove: [['fe00::1']], add: [['fe00::1', servers[swaps % 2] ?? '']] },
      ],
      conntrack: ['fe00::1'],
    });
    const ms = performance.now() - t0;
    swaps++;
    process.stdout.write(`${JSON.stringify({ ms, deleted: r.deleted })}\n`);
  }
} finally {
  agent.close();
}
