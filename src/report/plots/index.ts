// Turns experiment results into vega-lite specs, one per plot, or the reason a plot is left out:
// the report's plots in order, one module per plot family.
import type { ExperimentResults } from '../../results/schema.js';
import type { Plot } from './frame.js';
import { gapPlot } from './gaps.js';
import { packetsPlot, packetsWindowPlot } from './packets.js';
import { rttPlot } from './rtt.js';
import { ecdf, latencyPlot } from './swap-times.js';
import { tcpPlot } from './tcp.js';
import { udpPlot } from './udp.js';

export type { Plot } from './frame.js';
export { ecdf, gapPlot, latencyPlot, packetsPlot, packetsWindowPlot, rttPlot, tcpPlot, udpPlot };

/** Every plot of the report, in order: drawn ones with their spec, left-out ones with why. */
export function planPlots(r: ExperimentResults): Plot[] {
  return [
    packetsPlot(r),
    packetsWindowPlot(r),
    gapPlot(r),
    latencyPlot(r),
    rttPlot(r),
    udpPlot(r),
    tcpPlot(r),
  ];
}
