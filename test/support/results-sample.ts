// Realistic experiment results for report tests: deterministic pseudo-random runs of each kind.

import { seededRandom } from '../../src/bench/seeded.js';
import type { ExperimentResults, Percentiles, SwapRecord } from '../../src/results/schema.js';

/** Rounded like a runner's JSON would be; `+ 0` turns -0 into 0, as JSON does. */
const round = (x: number, digits = 3) => Number(x.toFixed(digits)) + 0;

function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? 0;
  return {
    count: s.length,
    min: s[0] ?? 0,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: s[s.length - 1] ?? 0,
    mean: round(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), 4),
  };
}

function lab(): ExperimentResults['lab'] {
  return {
    id: 'fmt-default',
    engine: 'nftables',
    controlPath: 'agent (netlink)',
    nodes: [
      { name: 'A', role: 'client', namespace: 'fmt-A' },
      { name: 'B', role: 'translator', namespace: 'fmt-B' },
      { name: 'C', role: 'server', namespace: 'fmt-C' },
      { name: 'D', role: 'server', namespace: 'fmt-D' },
    ],
    flows: [{ address: 'fe00::1', name: 'ping', initiator: 'A', responders: ['C', 'D'] }],
  };
}

interface SwapPlan {
  readonly swaps: number;
  readonly firstMs: number;
  readonly everyMs: number;
  readonly seed: number;
  readonly gaps: boolean;
  readonly udp: boolean;
}

/**
 * Swaps alternating C → D → C (numbered from 1), with log-normal-ish control latencies, a wait
 * before the rule that is short but sometimes tens of ms, and small gaps.
 */
function swaps(plan: SwapPlan): SwapRecord[] {
  const rnd = seededRandom(plan.seed);
  return Array.from({ length: plan.swaps }, (_, i) => {
    const issuedMs = round(plan.firstMs + i * plan.everyMs + rnd() * 2);
    // A long tail: most commits take ~0.3 ms, one in fifty takes several ms.
    const wait = round(0.1 + rnd() * 0.3 + (rnd() < 0.02 ? 5 + rnd() * 25 : 0));
    const rule = round(0.18 + rnd() * 0.2 + (rnd() < 0.02 ? 2 + rnd() * 6 : 0));
    const conntrack = round(0.08 + rnd() * 0.15 + (rnd() < 0.01 ? 1 + rnd() * 3 : 0));
    const total = round(wait + rule + conntrack);
    const from = i % 2 === 0 ? 'C' : 'D';
    const record: SwapRecord = {
      index: i + 1,
      flow: 'fe00::1',
      from,
      to: from === 'C' ? 'D' : 'C',
      issuedMs,
      committedMs: round(issuedMs + wait + rule),
      conntrackDoneMs: round(issuedMs + total),
      controlMs: { wait, rule, conntrack, total },
      applyMs: round(rule + conntrack + 0.05 + rnd() * 0.05),
      gapMs: !plan.gaps || rnd() < 0.03 ? null : round(0.05 + (rnd() - 0.3) * 0.3),
      inFlight: plan.gaps ? Math.floor(rnd() * rnd() * 8) : null,
    };
    if (!plan.udp) return record;
    return {
      ...record,
      udp: {
        lost: rnd() < 0.7 ? 0 : Math.floor(rnd() * 4),
        duplicated: rnd() < 0.9 ? 0 : 1,
        reordered: rnd() < 0.8 ? 0 : Math.floor(1 + rnd() * 3),
      },
    };
  });
}

/** Packets per node per interval: the node serving the flow gets `perMs` packets each ms. */
function series(
  list: readonly SwapRecord[],
  durationMs: number,
  intervalMs: number,
  perMs: number,
  seed: number,
): ExperimentResults['series'] {
  const rnd = seededRandom(seed);
  const n = Math.ceil(durationMs / intervalMs);
  const nodes: Record<string, number[]> = { C: new Array(n).fill(0), D: new Array(n).fill(0) };
  let next = 0;
  let serving = 'C';
  for (let t = 0; t < durationMs; t++) {
    while (next < list.length && (list[next]?.issuedMs ?? Infinity) <= t) {
      serving = list[next]?.to ?? serving;
      next++;
    }
    const k = Math.floor(t / intervalMs);
    const counts = nodes[serving];
    if (counts) counts[k] = (counts[k] ?? 0) + Math.max(0, Math.round(perMs * (0.9 + rnd() * 0.2)));
  }
  return { intervalMs, nodes };
}

/**
 * The flow's packets at each server in 1 ms bins over a few swaps in the middle of the run (what
 * the captures give): the server the last swap went to gets `perMs` packets each ms.
 */
function arrivals(
  list: readonly SwapRecord[],
  perMs: number,
  seed: number,
): NonNullable<ExperimentResults['arrivals']> {
  const rnd = seededRandom(seed);
  const mid = Math.floor(list.length / 2);
  const fromMs = Math.floor(list[Math.max(0, mid - 3)]?.issuedMs ?? 0) - 5;
  const toMs = Math.ceil(list[Math.min(list.length - 1, mid + 3)]?.issuedMs ?? 0) + 5;
  const binMs = 1;
  const n = Math.ceil((toMs - fromMs) / binMs);
  const nodes: Record<string, number[]> = { C: new Array(n).fill(0), D: new Array(n).fill(0) };
  for (let k = 0; k < n; k++) {
    const t = fromMs + k * binMs;
    const last = list.filter((s) => s.issuedMs <= t).at(-1);
    const serving = nodes[last?.to ?? 'C'];
    if (serving) serving[k] = Math.round(perMs * binMs * (0.9 + rnd() * 0.2));
  }
  return { fromMs, binMs, nodes };
}

function base(
  id: string,
  durationMs: number,
): Omit<ExperimentResults, 'traffic' | 'swaps' | 'series'> {
  return {
    schema: 'flowmig.experiment/2',
    id,
    startedAt: '2026-11-25T09:30:00.000Z',
    durationMs,
    lab: lab(),
    config: { engine: 'nftables', swapEveryMs: 15, pingInterval: 0.00001, tcp: false },
    verdict: { ok: true, lines: [] },
    files: ['ping.txt', 'swaps.jsonl', 'snmp6/C.txt', 'snmp6/D.txt'],
  };
}

/** `ping -i 0.00001` across 1000 swaps every 15 ms: RTT series, gaps, in-flight counts. */
export function pingRun(count = 1000): ExperimentResults {
  const durationMs = 1000 + count * 15;
  const list = swaps({ swaps: count, firstMs: 500, everyMs: 15, seed: 1, gaps: true, udp: false });
  const rnd = seededRandom(2);
  const rtt: { tMs: number; rttMs: number }[] = [];
  let s = 0;
  for (let t = 0; t < durationMs; t += 4) {
    while (s < list.length && (list[s]?.issuedMs ?? Infinity) < t) s++;
    const nearSwap = s > 0 && t - (list[s - 1]?.issuedMs ?? 0) < 1;
    const rttMs = 0.035 + rnd() * 0.02 + (nearSwap ? rnd() * 0.4 : 0) + (rnd() < 0.001 ? 3 : 0);
    rtt.push({ tMs: t, rttMs: round(rttMs, 4) });
  }
  const sent = durationMs * 20;
  const lost = 3;
  return {
    ...base('20261125T093000Z-default', durationMs),
    verdict: {
      ok: true,
      lines: [
        'ping reported no errors',
        `lost ${lost} of ${sent} echo requests (${count} swaps)`,
        'every swap committed its rule before deleting conntrack entries',
      ],
    },
    traffic: {
      ping: {
        sent,
        received: sent - lost,
        errors: 0,
        duplicates: 0,
        lost,
        errorLines: [],
        rttMs: percentiles(rtt.map((p) => p.rttMs)),
        rtt,
      },
    },
    swaps: list,
    series: series(list, durationMs, 10, 20, 3),
    arrivals: arrivals(list, 180, 10),
  };
}

/** A UDP load across 200 swaps, with per-swap lost/duplicated/reordered counts, and ncat lines. */
export function udpRun(count = 200): ExperimentResults {
  const durationMs = 1000 + count * 45;
  const list = swaps({ swaps: count, firstMs: 500, everyMs: 45, seed: 4, gaps: true, udp: true });
  const sum = (key: 'lost' | 'duplicated' | 'reordered') =>
    list.reduce((a, s) => a + (s.udp?.[key] ?? 0), 0);
  const sent = durationMs * 10;
  const lost = sum('lost');
  const duplicated = sum('duplicated');
  return {
    ...base('20261125T094500Z-udp', durationMs),
    config: { traffic: ['udp', 'ncat-udp'], udpRatePerS: 10_000, swapEveryMs: 45 },
    verdict: { ok: true, lines: [`UDP lost ${lost} of ${sent} datagrams across ${count} swaps`] },
    traffic: {
      udp: {
        sent,
        received: sent - lost + duplicated,
        lost,
        duplicated,
        reordered: sum('reordered'),
        ratePerS: 10_000,
        perServer: { C: Math.floor(sent / 2), D: sent - Math.floor(sent / 2) - lost + duplicated },
      },
      ncatUdp: { sentLines: 500, perServer: { C: 251, D: 247 } },
    },
    swaps: list,
    series: series(list, durationMs, 20, 10, 5),
    arrivals: arrivals(list, 10, 11),
    files: ['udp-load.jsonl', 'ncat-C.txt', 'ncat-D.txt', 'swaps.jsonl'],
  };
}

/** A TCP stream reset by the new server right after the first of 3 swaps; no gaps measured. */
export function tcpResetRun(): ExperimentResults {
  const durationMs = 3000;
  const list = swaps({ swaps: 3, firstMs: 800, everyMs: 700, seed: 6, gaps: false, udp: false });
  const first = list[0]?.issuedMs ?? 0;
  return {
    ...base('20261125T100000Z-tcp', durationMs),
    config: { traffic: ['tcp'], swaps: 3 },
    verdict: {
      ok: true,
      lines: [
        "tcp: reset 1.2 ms after swap 1, as the flow's tcp policy reset promises (the new server has no socket for it)",
      ],
    },
    traffic: {
      tcp: {
        policy: 'reset',
        asPromised: true,
        bytesSent: 1_048_576,
        bytesIntact: 412_160,
        ended: {
          kind: 'reset',
          atMs: round(first + 1.2),
          afterSwap: { index: 1, ms: 1.2 },
          message: 'Connection reset by peer',
        },
      },
    },
    swaps: list,
    series: series(list, durationMs, 50, 5, 7),
    files: ['tcp-client.txt', 'tcpdump-B.txt'],
  };
}

/** A ping run in which no swap was done: plots about swaps are left out. */
export function emptySwapsRun(): ExperimentResults {
  const durationMs = 2000;
  const rnd = seededRandom(8);
  const rtt = Array.from({ length: 200 }, (_, i) => ({
    tMs: i * 10,
    rttMs: round(0.04 + rnd() * 0.02, 4),
  }));
  return {
    ...base('20261125T101500Z-noswap', durationMs),
    verdict: { ok: false, lines: ['no swap was done: the controller was not reachable'] },
    traffic: {
      ping: {
        sent: 40_000,
        received: 40_000,
        errors: 0,
        duplicates: 0,
        lost: 0,
        errorLines: [],
        rttMs: percentiles(rtt.map((p) => p.rttMs)),
        rtt,
      },
    },
    swaps: [],
    series: series([], durationMs, 10, 20, 9),
    files: [],
  };
}

/**
 * A TCP stream on a flow with `tcp: migrate`: 100 swaps every 20 ms, each moving the connection
 * (as the migration log records it), and conntrack sampled every ~200 ms.
 */
export function tcpMigrateRun(): ExperimentResults {
  const durationMs = 3000;
  const list = swaps({
    swaps: 100,
    firstMs: 500,
    everyMs: 20,
    seed: 12,
    gaps: false,
    udp: false,
  }).map((s) => ({ ...s, tcp: { moved: 1, ms: round(1 + s.controlMs.rule) } }));
  const tcpConnections: { tMs: number; perNode: Record<string, number> }[] = [];
  for (let t = 0; t < durationMs; t += 200) {
    const last = list.filter((s) => s.issuedMs <= t).at(-1);
    const on = last?.to ?? 'C';
    tcpConnections.push({ tMs: t, perNode: { C: on === 'C' ? 1 : 0, D: on === 'D' ? 1 : 0 } });
  }
  return {
    ...base('20261125T103000Z-live', durationMs),
    config: { traffic: ['tcp'], swaps: 100 },
    verdict: {
      ok: true,
      lines: ["tcp: still open after 100 swaps, as the flow's tcp policy migrate promises"],
    },
    traffic: {
      tcp: {
        policy: 'migrate',
        asPromised: true,
        bytesSent: 600_064,
        bytesIntact: 600_064,
        ended: { kind: 'open', atMs: null, afterSwap: null, message: '' },
        migrations: { swaps: 100, moved: 100, p50Ms: 1.3, p99Ms: 4.1, maxMs: 6.2 },
      },
    },
    swaps: list,
    series: series(list, durationMs, 10, 5, 13),
    tcpConnections,
    files: ['tcp-stream.json'],
  };
}
