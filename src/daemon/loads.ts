// Traffic loads the daemon runs for the dashboard's controls: iputils ping, or flowmig's UDP load
// (with flowmig's UDP echo server on every server node), from a client to a flow's address. The
// daemon owns them: each is stopped by its PID on request, and all of them when the daemon stops.
import type { LoadInfo, LoadKind } from '../daemon-api/live.js';
import { InputError } from '../errors.js';
import { Background } from '../experiment/process.js';
import { trafficProgram } from '../experiment/traffic/kind.js';
import type { LabFlow } from '../lab/model.js';
import type { LiveLab } from './live-lab.js';

/**
 * Ping's interval: 100 echo requests/s, plain to see on the page. Below 10 ms iputils ping waits
 * by spinning and takes a whole CPU (measured here: -i 0.001 and -i 0.002 at 100 %, -i 0.01 at
 * 0 %), which on a small machine slows everything the dashboard is there to watch.
 */
const PING_INTERVAL_S = '0.01';
const UDP_PORT = '5555';
/** Datagrams/s of the UDP load. */
const UDP_RATE = '2000';
/** Loads at once: each is a process or two; the dashboard is not a traffic generator farm. */
export const MAX_LOADS = 8;

interface Running {
  info: LoadInfo;
  readonly program: Background;
}

export class Loads {
  private next = 1;
  private readonly loads = new Map<number, Running>();
  /** UDP echo servers by server node, started with the first UDP load, kept until close(). */
  private readonly echoes = new Map<string, Background>();

  constructor(private readonly changed: (loads: readonly LoadInfo[]) => void) {}

  list(): LoadInfo[] {
    return [...this.loads.values()].map((l) => l.info);
  }

  /** Starts a load from `from` (default: the flow's initiator) to `flowKey` (default: the first flow). */
  async start(
    lab: Pick<LiveLab, 'id' | 'nodes'>,
    flows: readonly LabFlow[],
    kind: LoadKind,
    from: string | undefined,
    flowKey: string | undefined,
  ): Promise<LoadInfo> {
    const flow =
      flowKey === undefined
        ? flows[0]
        : flows.find((f) => f.address === flowKey || f.name === flowKey);
    if (!flow) throw new InputError('', [`no flow ${flowKey ?? ''} in lab ${lab.id}`.trim()]);
    const clientName = from ?? flow.initiator;
    const client = lab.nodes.find((n) => n.name === clientName);
    if (!client) throw new InputError('', [`no node ${clientName} in lab ${lab.id}`]);
    if (client.role !== 'client')
      throw new InputError('', [`${clientName} is a ${client.role}: a load starts from a client`]);
    if ([...this.loads.values()].filter((l) => l.info.running).length >= MAX_LOADS)
      throw new InputError('', [`${MAX_LOADS} loads run already; stop one first`]);
    if (kind === 'udp') await this.echoServers(lab);
    const argv =
      kind === 'ping'
        ? ['ping', '-q', '-i', PING_INTERVAL_S, flow.address]
        : [
            process.execPath,
            trafficProgram('udp-load'),
            '--to',
            flow.address,
            '--port',
            UDP_PORT,
            '--rate',
            UDP_RATE,
          ];
    const program = Background.start(argv, { netns: client.netns });
    const id = this.next++;
    const running: Running = {
      info: {
        id,
        kind,
        from: clientName,
        flow: flow.address,
        startedAt: new Date().toISOString(),
        running: true,
      },
      program,
    };
    this.loads.set(id, running);
    void program.exited.then((exit) => {
      if (!running.info.running) return;
      const why = program.stderr.trim().split('\n').pop() || `exit ${exit.code ?? exit.signal}`;
      this.end(running, why);
    });
    this.changed(this.list());
    return running.info;
  }

  /** Stops load `id` (SIGINT, as a person would end ping); its record stays until the next start. */
  async stop(id: number): Promise<LoadInfo> {
    const l = this.loads.get(id);
    if (!l) throw new InputError('', [`no load ${id}`]);
    if (l.info.running) {
      this.end(l, undefined);
      await l.program.stop('SIGINT', 2_000);
    }
    return l.info;
  }

  /** Stops every load and echo server (the daemon is stopping). */
  async close(): Promise<void> {
    const all = [...this.loads.values()].map((l) => l.program);
    for (const l of this.loads.values()) l.info = { ...l.info, running: false };
    await Promise.all([
      ...all.map((p) => p.stop('SIGINT', 2_000)),
      ...[...this.echoes.values()].map((p) => p.stop()),
    ]);
    this.echoes.clear();
  }

  private end(l: Running, why: string | undefined): void {
    l.info = { ...l.info, running: false, ...(why ? { ended: why } : {}) };
    // Ended loads are listed until newer ones push them out.
    const ended = [...this.loads.values()].filter((x) => !x.info.running);
    for (const old of ended.slice(0, Math.max(0, ended.length - MAX_LOADS)))
      this.loads.delete(old.info.id);
    this.changed(this.list());
  }

  private async echoServers(lab: Pick<LiveLab, 'nodes'>): Promise<void> {
    for (const node of lab.nodes.filter((n) => n.role === 'server')) {
      const have = this.echoes.get(node.name);
      if (have?.running) continue;
      const p = Background.start(
        [process.execPath, trafficProgram('udp-echo'), '--port', UDP_PORT],
        { netns: node.netns },
      );
      this.echoes.set(node.name, p);
      if (!(await p.waitFor(/listening/, 5_000))) {
        await p.stop();
        throw new Error(`the UDP echo server on ${node.name} did not start: ${p.stderr.trim()}`);
      }
    }
  }
}
