// A run's observers: kernel counters in the servers and the translators (sampled every few ms;
// one translator per host on a cluster lab), packet captures of what reaches the servers
// (tcpdump), and with TCP traffic the flow's connections in the conntrack table of the translator
// its client enters by (sampled a few times a second).
import { join } from 'node:path';
import { parseConntrackList } from '../engines/conntrack.js';
import { type LabNode, servers } from '../lab/model.js';
import { type Launcher, ready } from './launch.js';
import type { ExperimentOptions } from './options.js';
import { type Background, sleep } from './process.js';
import type { CounterSample, TcpConnectionSample } from './record.js';
import { NetnsCounters, type Snmp6 } from './snmp6.js';
import type { Testbed } from './testbed.js';

/**
 * Counters read in each server and the translator: IPv6 packets received, echo requests, UDP
 * datagrams (delivered to a socket), packets the translator forwarded.
 */
export const COUNTERS = [
  'Ip6InReceives',
  'Icmp6InEchos',
  'Udp6InDatagrams',
  'Ip6OutForwDatagrams',
] as const;

/** How often the flow's TCP connections are counted (one conntrack listing each). */
const TCP_SAMPLE_MS = 200;

const now = () => performance.timeOrigin + performance.now();

export interface ObserverSetup {
  readonly bed: Testbed;
  readonly options: ExperimentOptions;
  /** The flow whose TCP connections are counted. */
  readonly flow: string;
  readonly dir: string;
  /** The run's files: each capture is named here. */
  readonly files: Record<string, string>;
  readonly launch: Launcher;
}

export class Observers {
  /** Counter samples, the first taken when the traffic starts. */
  readonly samples: CounterSample[] = [];
  /** With TCP traffic: where the flow's connections are (see RunRecord.tcpConnections). */
  readonly tcpConnections: TcpConnectionSample[] = [];
  private readonly observed: readonly LabNode[];
  private readonly captured: readonly LabNode[];
  private readonly counters: NetnsCounters[] = [];
  private readonly captures: Background[] = [];
  private sampling = false;
  private samplerError: unknown;
  private loops: Promise<void>[] = [];

  /** Programs the observers need in the lab's namespaces. */
  static programs(o: ExperimentOptions): string[] {
    return ['sleep', ...(o.capture === 'none' ? [] : ['tcpdump'])];
  }

  constructor(private readonly setup: ObserverSetup) {
    const { options: o } = setup;
    const { lab } = setup.bed;
    // Counters in every server and translator; captures of what arrives at the servers (and at
    // every node with 'all').
    this.observed = [...servers(lab), ...lab.translators];
    this.captured = o.capture === 'none' ? [] : o.capture === 'all' ? lab.nodes : servers(lab);
  }

  /** Opens the counters and starts the captures; resolves once every capture listens. */
  async start(): Promise<void> {
    const { options: o, dir, files, launch } = this.setup;
    const { lab } = this.setup.bed;
    for (const n of this.observed) this.counters.push(await NetnsCounters.open(n.netns));
    for (const n of this.captured) {
      const link = lab.links.find((l) => l.node === n.name);
      const file = `capture-${n.name}.pcap`;
      files[`capture ${n.name}`] = file;
      const iface = link ? ['-i', link.nodeIf, '-Q', 'in'] : ['-i', 'any'];
      this.captures.push(
        launch.start(
          `capture ${n.name}`,
          [
            'tcpdump',
            ...iface,
            '-n',
            '-s',
            String(o.snaplen),
            '--time-stamp-precision=nano',
            '-B',
            '65536', // KiB of kernel buffer: a flood must not outrun the writer
            '-w',
            join(dir, file),
            'ip6',
          ],
          { netns: n.netns },
        ),
      );
    }
    for (const c of this.captures) await ready(c, /listening on/, 'stderr', 'tcpdump');
  }

  /**
   * Takes the first counter sample (the traffic's time 0), then samples on until stopSampling: the
   * counters every `sampleMs`, the flow's TCP connections every ~TCP_SAMPLE_MS with TCP traffic.
   */
  async startSampling(): Promise<void> {
    const { bed, options: o, flow } = this.setup;
    const { lab } = bed;
    await this.sample();
    this.sampling = true;
    // A failed reading ends the sampling, not the run: the handler is attached now (an unhandled
    // rejection would end the process with the lab up) and the error is reported after teardown.
    const sampler = (async () => {
      let next = now() + o.sampleMs;
      while (this.sampling) {
        await sleep(Math.max(0, next - now()));
        next += o.sampleMs;
        await this.sample();
      }
    })().catch((error: unknown) => {
      this.samplerError = error;
    });
    const nodeAt = new Map(lab.links.map((l) => [l.address.address, l.node]));
    const serverNodes = servers(lab);
    const initiator = lab.flows.find((f) => f.address === flow)?.initiator;
    const ingress = initiator ? lab.translatorOf(initiator) : lab.translators[0];
    const tcpSampler = (async () => {
      if (!o.traffic.includes('tcp') || !ingress) return;
      while (this.sampling) {
        const list = await bed.runner
          .run(['conntrack', '-L', '-f', 'ipv6', '-p', 'tcp'], {
            netns: ingress.netns,
            okExitCodes: [0, 1],
          })
          .catch(() => undefined);
        if (list) {
          const perNode: Record<string, number> = Object.fromEntries(
            serverNodes.map((s) => [s.name, 0]),
          );
          for (const e of parseConntrackList(list.stdout)) {
            const node = nodeAt.get(e.replySrc);
            if (e.origDst === flow && node && node in perNode)
              perNode[node] = (perNode[node] ?? 0) + 1;
          }
          this.tcpConnections.push({ tMs: now(), perNode });
        }
        // Jittered (±25 %): a fixed period can lock onto the swaps' own (a connection moved
        // every ~100 ms, sampled every ~210 ms, was seen on one server only).
        await sleep(TCP_SAMPLE_MS * (0.75 + Math.random() / 2));
      }
    })();
    this.loops = [sampler, tcpSampler];
  }

  /** Stops sampling; returns why the counters could not be read, if they could not. */
  async stopSampling(): Promise<unknown> {
    this.sampling = false;
    await Promise.all(this.loops);
    return this.samplerError;
  }

  /** Stops the captures; returns what tcpdump said each dropped, by node. */
  async stopCaptures(): Promise<Record<string, number>> {
    // tcpdump gets packets from the kernel in blocks that are handed over when full or after a
    // timeout (up to 1 s); stopping it earlier loses the packets of the block being filled.
    if (this.captures.length) await sleep(1_200);
    const drops: Record<string, number> = {};
    for (const [k, c] of this.captures.entries()) {
      await c.stop('SIGINT', 10_000);
      const dropped = /(\d+) packets? dropped by kernel/.exec(c.stderr);
      drops[this.captured[k]?.name ?? '?'] = Number(dropped?.[1] ?? 0);
    }
    return drops;
  }

  /** Ends the sampling and closes the counters (the captures stop with the run's programs). */
  async close(): Promise<void> {
    this.sampling = false;
    await Promise.all(this.counters.map((c) => c.close()));
  }

  private async sample(): Promise<void> {
    const values: Record<string, Record<string, number>> = {};
    const read: Snmp6[] = await Promise.all(this.counters.map((c) => c.read()));
    this.observed.forEach((n, k) => {
      values[n.name] = Object.fromEntries(COUNTERS.map((c) => [c, read[k]?.[c] ?? 0]));
    });
    this.samples.push({ tMs: now(), values });
  }
}
