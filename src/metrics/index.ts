// Parsers for experiment tool output (tcpdump, ping, conntrack) and the metrics computed from them.
export * from './arrivals.js';
export * from './conntrack.js';
export * from './distribution.js';
export * from './epoch.js';
export * from './gaps.js';
export * from './lines.js';
export * from './ping.js';
export * from './ping-analysis.js';
export * from './sequence.js';
export * from './series.js';
export * from './swaps.js';
export * from './tcp-outcome.js';
export * from './tcpdump.js';
export * from './udp-log.js';
export * from './window.js';
