// The default lab as the live feed describes it (A client, B translator, C and D servers, flow
// fe00::1 from A served by C), and the events the dashboard tests push: migrations, rate samples,
// status and loads.
import type {
  LiveFlow,
  LiveSnapshot,
  LiveStatus,
  LoadInfo,
  LogRow,
  RateSample,
} from '../../src/daemon-api/live.js';

export const FLOW = 'fe00::1';
/** Start of the samples' clock (epoch ms); the page shows whatever time the daemon sends. */
export const T0 = Date.parse('2026-12-07T12:00:00.000Z');

export function flowAt(responder: string): LiveFlow {
  return { name: undefined, address: FLOW, initiator: 'A', responder, tcp: 'reset' };
}

export function status(changes = 0): LiveStatus {
  return {
    at: new Date(T0).toISOString(),
    drift: [],
    controlPath: 'in-process',
    daemon: { pid: 4242, startedAt: new Date(T0 - 60_000).toISOString(), changes, queued: 0 },
    late: { installed: true, translated: 0, former: 0 },
    drains: [],
    servers: [
      { node: 'C', running: true, connections: 3 },
      { node: 'D', running: true, connections: 0 },
    ],
    hosts: [{ name: 'this host', lease: 'none', lag: 0 }],
  };
}

export function snapshot(responder = 'C'): LiveSnapshot {
  return {
    lab: 'default',
    engine: 'nft-map',
    version: '0.1.0',
    nodes: [
      { name: 'A', role: 'client', address: 'fc00::1' },
      { name: 'B', role: 'translator', address: undefined },
      { name: 'C', role: 'server', address: 'fc01::1' },
      { name: 'D', role: 'server', address: 'fc02::2' },
    ],
    links: [
      { node: 'A', translator: 'B' },
      { node: 'C', translator: 'B' },
      { node: 'D', translator: 'B' },
    ],
    flows: [flowAt(responder)],
    log: [],
    rates: [],
    status: status(),
    loads: [],
  };
}

/** Migration number `seq` at `at` (epoch ms), C → D when seq is odd, D → C when even. */
export function row(seq: number, at: number): LogRow {
  const odd = seq % 2 === 1;
  return {
    seq,
    at: new Date(at).toISOString(),
    flow: FLOW,
    role: 'responder',
    from: odd ? 'C' : 'D',
    to: odd ? 'D' : 'C',
    path: 'in-process',
    source: 'daemon',
    totalMs: 4.2,
    ruleMs: 0.9,
    conntrackMs: 0.02,
    conntrackDeleted: 1,
    late: 0,
  };
}

/** A sample at `t`: A sends 10 pps, B forwards them, the responder answers. */
export function sample(t: number, responder: string): RateSample {
  return {
    t,
    pps: { A: 10, B: 20, C: responder === 'C' ? 10 : 0, D: responder === 'D' ? 10 : 0 },
  };
}

export function load(id: number, running: boolean): LoadInfo {
  return {
    id,
    kind: 'udp',
    from: 'A',
    flow: FLOW,
    startedAt: new Date(T0).toISOString(),
    running,
    ...(running ? {} : { ended: 'stopped' }),
  };
}

/** A migration's reply, as the daemon gives it for swap and migrate. */
export function moved(from: string, to: string) {
  return {
    lab: 'default',
    flow: FLOW,
    role: 'responder',
    from,
    to,
    changed: true,
    totalMs: 5.38,
    ruleMs: 0.92,
    conntrackMs: 0.013,
    conntrackDeleted: 0,
    path: 'in-process',
    steps: [],
  };
}
