// The TCP plot: the flow's connections per server over time (conntrack samples, migration log).
import type { TopLevelSpec } from 'vega-lite';
import type { ExperimentResults } from '../../results/schema.js';
import { base, maxOf, type Plot, swapMarks, swapNote, swapPeriod } from './frame.js';

/** A TCP plot draws at most this many moves of the migration log (each then gets ≥ 15 px). */
const MAX_TCP_MOVES = 40;

/**
 * The flow's TCP connections per server over time: draining on a former server, or moving. With
 * `tcp: migrate` the migration log says when each move happened, so the lines are drawn from it
 * (the conntrack samples, a few per second, would miss most moves of swaps every 20 ms); the
 * samples are drawn as dots. Many moves: the first MAX_TCP_MOVES of them, so each can be seen.
 */
export function tcpPlot(r: ExperimentResults): Plot {
  const name = 'tcp-connections';
  const title = 'TCP connections per server';
  const samples = r.tcpConnections ?? [];
  if (samples.length === 0) return { name, title, omitted: 'no TCP traffic in this run' };
  const sampled = samples.flatMap((s) =>
    Object.entries(s.perNode).map(([node, n]) => ({ node, t: s.tMs / 1000, n })),
  );
  const moves = r.swaps.filter((s) => (s.tcp?.moved ?? 0) > 0);
  const top = Math.max(1, maxOf(sampled.map((v) => v.n)));
  const y = {
    field: 'n',
    type: 'quantitative' as const,
    title: 'TCP connections (count)',
    scale: { domain: [0, top + 0.5] },
    axis: { tickMinStep: 1 },
  };
  const color = { field: 'node', type: 'nominal' as const, title: 'server' };
  if (moves.length === 0) {
    const spec: TopLevelSpec = {
      ...base(
        title,
        `the flow's connections as the translator tracks them (conntrack, sampled), by the server each is translated to; ${swapNote(r.swaps, r.durationMs)}`,
      ),
      layer: [
        ...swapMarks(r.swaps, r.durationMs, 's'),
        {
          data: { values: sampled },
          mark: {
            type: 'line',
            interpolate: 'step-after',
            strokeWidth: 1.5,
            clip: true,
            aria: false,
          },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 'time since start (s)' },
            y,
            color,
          },
        },
      ],
    };
    return { name, title, spec };
  }
  // Connections per server as the last sample before the first move saw them, then moved at each
  // swap of the log.
  const shown = moves.slice(0, MAX_TCP_MOVES);
  const windowed = moves.length > MAX_TCP_MOVES;
  const period = swapPeriod(shown) ?? 100;
  const firstMove = shown[0]?.issuedMs ?? 0;
  const fromMs = windowed ? Math.max(0, firstMove - period) : 0;
  const toMs = windowed ? (shown[shown.length - 1]?.issuedMs ?? 0) + period / 2 : r.durationMs;
  const anchor = samples.filter((s) => s.tMs <= firstMove).at(-1) ?? samples[0];
  const count: Record<string, number> = { ...(anchor?.perNode ?? {}) };
  const servers = Object.keys(count);
  const logged: { node: string; t: number; n: number }[] = servers.map((node) => ({
    node,
    t: fromMs / 1000,
    n: count[node] ?? 0,
  }));
  for (const m of shown) {
    const moved = m.tcp?.moved ?? 0;
    count[m.from] = Math.max(0, (count[m.from] ?? 0) - moved);
    count[m.to] = (count[m.to] ?? 0) + moved;
    for (const node of servers) logged.push({ node, t: m.issuedMs / 1000, n: count[node] ?? 0 });
  }
  for (const node of servers) logged.push({ node, t: toMs / 1000, n: count[node] ?? 0 });
  // A sample is a dot where it saw connections, on top of that server's band.
  const inView = sampled.filter((v) => v.n > 0 && v.t >= fromMs / 1000 && v.t <= toMs / 1000);
  const which =
    moves.length > MAX_TCP_MOVES
      ? `the first ${shown.length} of ${moves.length} moves (all in results.json)`
      : `all ${moves.length} moves`;
  const spec: TopLevelSpec = {
    ...base(title, [
      `bands: the connections on each server (stacked), ${which}, from the migration log`,
      'dots: what the conntrack samples of the translator saw, a few per second',
    ]),
    layer: [
      {
        data: { values: logged },
        // Stacked bands, not lines: one server's 1 and the other's 0 would be drawn on each other.
        mark: { type: 'area', interpolate: 'step-after', opacity: 0.85, clip: true, aria: false },
        encoding: {
          x: {
            field: 't',
            type: 'quantitative',
            title: 'time since start (s)',
            scale: { domain: [fromMs / 1000, toMs / 1000], nice: false, zero: false },
          },
          y,
          color,
        },
      },
      {
        data: { values: inView },
        mark: {
          type: 'point',
          filled: true,
          size: 40,
          stroke: 'black',
          strokeWidth: 0.8,
          clip: true,
          aria: false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative' },
          y: { field: 'n', type: 'quantitative' },
          color,
        },
      },
    ],
  };
  return { name, title, spec };
}
