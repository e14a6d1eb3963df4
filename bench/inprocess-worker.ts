// Runs inside the translator namespace (started by bench/swap.ts with `ip netns exec`): the agent's
// migration code called in-process, with no IPC, to measure what a controller living in the
// translator namespace would see. Prints one JSON line: {samples, p50_ms, p99_ms}.
import { parseArgs } from 'node:util';
import { Agent } from '../src/agent/agent.js';
import { NFT_TABLE } from '../src/engines/nftables.js';
import { distribution } from '../src/experiment/stats.js';

const { values } = parseArgs({
  options: { samples: { type: 'string' }, warmup: { type: 'string' }, pause: { type: 'string' } },
});
const samples = Number(values.samples ?? 1000);
const warmup = Number(values.warmup ?? 200);
const pauseMs = Number(values.pause ?? 3);

const agent = await Agent.start();
const servers = ['fc02::2', 'fc01::1'];
const swap = (i: number) =>
  agent.apply({
    table: NFT_TABLE,
    edits: [{ map: 'dnat_to', remove: [['fe00::1']], add: [['fe00::1', servers[i % 2] ?? '']] }],
    conntrack: ['fe00::1'],
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < warmup; i++) await swap(i);
const lat: number[] = [];
for (let i = 0; i < samples; i++) {
  await sleep(pauseMs);
  const t0 = performance.now();
  await swap(warmup + i);
  lat.push(performance.now() - t0);
}
// An even number of swaps in all leaves fe00::1 where it started (on C).
if ((warmup + samples) % 2 === 1) await swap(warmup + samples);
agent.close();
const d = distribution(lat);
process.stdout.write(`${JSON.stringify({ samples, p50_ms: d.p50, p99_ms: d.p99 })}\n`);
