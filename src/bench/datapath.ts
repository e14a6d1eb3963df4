// `flowmig bench datapath`: throughput (iperf3 TCP, UDP) and ping RTT through the translator, per
// engine, with 1 and 100,000 flows installed, and with no NAT at all as the ceiling.
import { Flowmig } from '../control/flowmig.js';
import { iptablesEngine } from '../engines/iptables.js';
import { NFT_TABLE, nftablesEngine } from '../engines/nftables.js';
import { execute } from '../exec/execute.js';
import { requirePrograms } from '../exec/preflight.js';
import { parsePingSummary } from '../experiment/ping.js';
import { Background, sleep } from '../experiment/process.js';
import { loadLab } from '../lab/load.js';
import { syntheticMappings } from './flows.js';
import { Interrupt } from './interrupt.js';

export interface DatapathRow {
  /** `none` = straight to the server's concrete address, no NAT rules at all. */
  readonly engine: 'nftables' | 'iptables' | 'none';
  readonly flows: number;
  readonly tcp_gbps: number;
  readonly udp_gbps: number;
  readonly udp_loss_pct: number;
  readonly rtt_avg_ms: number;
  readonly rtt_mdev_ms: number;
  /** TCP throughput relative to the same engine with 1 flow. */
  readonly tcp_vs_1_flow: number | null;
}

export interface DatapathOptions {
  readonly flows: readonly number[];
  readonly seconds: number;
  readonly prefix: string;
  readonly stateDir?: string | undefined;
  readonly onProgress?: (text: string) => void;
}

interface IperfEnd {
  end?: {
    sum_received?: { bits_per_second?: number };
    sum?: { bits_per_second?: number; lost_percent?: number };
  };
  error?: string;
}

export async function benchDatapath(options: DatapathOptions): Promise<DatapathRow[]> {
  await requirePrograms(['iperf3', 'ping']);
  const say = options.onProgress ?? (() => {});
  const fm = new Flowmig({ stateDir: options.stateDir, agent: false });
  const lab = await loadLab(undefined, { prefix: options.prefix, engine: 'nftables' });
  const interrupt = new Interrupt();
  say('building the lab');
  await fm.up(lab);
  const ns = (n: string) => `${options.prefix}${n}`;
  const t = lab.translator.netns;
  const runIn = (netns: string, argv: string[], stdin?: string) =>
    fm.runner.run(argv, { netns, stdin, timeoutMs: 600_000 });
  const server = Background.start(['iperf3', '-s', '-B', 'fc01::1', '-p', '5201'], {
    netns: ns('C'),
  });
  const rows: DatapathRow[] = [];
  try {
    await sleep(300);
    const clear = async () => {
      await runIn(t, ['nft', 'delete', 'table', 'ip6', NFT_TABLE]).catch(() => {});
      await runIn(t, ['nft', 'delete', 'table', 'ip6', 'nat']).catch(() => {});
      await runIn(t, ['conntrack', '-F', '-f', 'ipv6']).catch(() => {});
    };
    const iperf = async (target: string, udp: boolean): Promise<IperfEnd> => {
      const argv = ['iperf3', '-c', target, '-p', '5201', '-t', String(options.seconds), '-J'];
      if (udp) argv.push('-u', '-b', '0', '-l', '1400');
      const r = await runIn(ns('A'), argv).catch((e: Error) => ({
        stdout: JSON.stringify({ error: e.message }),
      }));
      return JSON.parse(r.stdout) as IperfEnd;
    };
    const measure = async (engine: DatapathRow['engine'], flows: number, target: string) => {
      interrupt.check();
      say(`${engine} with ${flows} flow(s): TCP`);
      const tcp = await iperf(target, false);
      say(`${engine} with ${flows} flow(s): UDP`);
      const udp = await iperf(target, true);
      const ping = await runIn(ns('A'), ['ping', '-q', '-c', '500', '-i', '0.002', target]);
      const p = parsePingSummary(ping.stdout);
      if (tcp.error || udp.error) throw new Error(`iperf3 failed: ${tcp.error ?? udp.error}`);
      rows.push({
        engine,
        flows,
        tcp_gbps: (tcp.end?.sum_received?.bits_per_second ?? 0) / 1e9,
        udp_gbps: (udp.end?.sum?.bits_per_second ?? 0) / 1e9,
        udp_loss_pct: udp.end?.sum?.lost_percent ?? 0,
        rtt_avg_ms: p?.rttMs?.avg ?? 0,
        rtt_mdev_ms: p?.rttMs?.mdev ?? 0,
        tcp_vs_1_flow: null,
      });
    };

    await clear();
    await measure('none', 0, 'fc01::1');
    for (const engine of [nftablesEngine, iptablesEngine]) {
      for (const n of options.flows) {
        await clear();
        say(`${engine.name}: installing ${n} flow(s)`);
        await execute(fm.runner, [
          engine.install(t, syntheticMappings(n, 'fc00::1', ['fc01::1', 'fc02::2'])),
        ]);
        await measure(engine.name, n, 'fe00::1');
      }
    }
    await clear();
    for (const r of rows) {
      const one = rows.find((x) => x.engine === r.engine && x.flows === 1);
      (r as { tcp_vs_1_flow: number | null }).tcp_vs_1_flow =
        one && one.tcp_gbps > 0 && r.engine !== 'none' ? r.tcp_gbps / one.tcp_gbps : null;
    }
    return rows;
  } finally {
    await server.stop();
    say('tearing the lab down');
    await fm.down(lab.id);
    interrupt.dispose();
  }
}

export function renderDatapath(rows: readonly DatapathRow[]): string {
  const pad = (s: string, n: number) => s.padEnd(n);
  return [
    `${pad('ENGINE', 10)}${pad('FLOWS', 8)}${pad('TCP Gbit/s', 12)}${pad('UDP Gbit/s', 12)}${pad('UDP loss %', 12)}${pad('RTT avg ms', 12)}${pad('RTT mdev', 10)}TCP vs 1 flow`,
    ...rows.map(
      (r) =>
        `${pad(r.engine, 10)}${pad(String(r.flows), 8)}${pad(r.tcp_gbps.toFixed(2), 12)}${pad(r.udp_gbps.toFixed(2), 12)}${pad(r.udp_loss_pct.toFixed(2), 12)}${pad(r.rtt_avg_ms.toFixed(3), 12)}${pad(r.rtt_mdev_ms.toFixed(3), 10)}${r.tcp_vs_1_flow === null ? '-' : `${(r.tcp_vs_1_flow * 100).toFixed(1)}%`}`,
    ),
    '',
    "note: engine none = client to the server's concrete address, no NAT rules (the ceiling)",
  ].join('\n');
}
