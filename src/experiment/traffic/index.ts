// The traffic kinds an experiment can run, one module each, in the order the runner starts and
// stops them and the results list them.
import { type ExperimentOptions, TRAFFIC_KINDS, type TrafficKind } from '../options.js';
import type { TrafficModule } from './kind.js';
import { ncatUdpTraffic } from './ncat-udp.js';
import { pingTraffic } from './ping.js';
import { tcpTraffic } from './tcp.js';
import { udpTraffic } from './udp.js';

export type { KindResults, RunData, TrafficModule, TrafficRun, TrafficSetup } from './kind.js';

export const TRAFFIC: Readonly<Record<TrafficKind, TrafficModule>> = {
  ping: pingTraffic,
  udp: udpTraffic,
  'ncat-udp': ncatUdpTraffic,
  tcp: tcpTraffic,
};

/** Every kind, in order (ping, udp, ncat-udp, tcp). */
export const ALL_TRAFFIC: readonly TrafficModule[] = TRAFFIC_KINDS.map((k) => TRAFFIC[k]);

/** The kinds the options ask for, in order. */
export function trafficOf(o: ExperimentOptions): TrafficModule[] {
  return ALL_TRAFFIC.filter((k) => o.traffic.includes(k.kind));
}
