// What an experiment runs: traffic, swaps, timing, observers. Checked whole (every problem listed)
// before anything is built, from CLI options or an experiment file (YAML or JSON).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { type Lab, servers } from '../lab/model.js';
import { canonicalAddress } from '../net/ipv6.js';

export const TRAFFIC_KINDS = ['ping', 'udp', 'ncat-udp', 'tcp'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];

const port = z.number().int().min(1).max(65_535);

export const experimentSchema = z.strictObject({
  traffic: z.array(z.enum(TRAFFIC_KINDS)).min(1).default(['ping']),
  ping: z
    .strictObject({
      /** Seconds between echo requests (ping -i). */
      interval: z.number().min(0).default(0.00001),
      /** Payload bytes (ping -s). */
      size: z.number().int().min(0).max(65_000).default(56),
    })
    .prefault({}),
  udp: z
    .strictObject({
      rate: z.number().positive().max(1_000_000).default(20_000),
      size: z.number().int().min(8).max(8_192).default(64),
      port: port.default(5555),
    })
    .prefault({}),
  ncatUdp: z
    .strictObject({
      /** Lines per second written into `ncat -u`. */
      rate: z.number().positive().max(10_000).default(100),
      port: port.default(5556),
    })
    .prefault({}),
  tcp: z
    .strictObject({
      /** Chunks per second; each carries its CRC-32. */
      rate: z.number().positive().max(100_000).default(200),
      chunk: z
        .number()
        .int()
        .min(16)
        .max(1 << 20)
        .default(1024),
      port: port.default(7000),
    })
    .prefault({}),
  swaps: z
    .strictObject({
      count: z.number().int().min(0).max(1_000_000).default(100),
      /** Time from one swap's start to the next one's. */
      periodMs: z.number().positive().max(3_600_000).default(20),
      /** Explicit swap times (ms after the warm-up); replaces count and period. */
      atMs: z.array(z.number().nonnegative()).optional(),
      /** The flow to swap (its address or name); default: the lab's first flow. */
      flow: z.string().optional(),
    })
    .prefault({}),
  warmupMs: z.number().nonnegative().max(600_000).default(500),
  /** After the last swap, traffic keeps running this long. */
  tailMs: z.number().nonnegative().max(600_000).default(500),
  /** Minimum length of the measured run (after the warm-up); swaps end earlier if they do. */
  durationMs: z.number().nonnegative().max(86_400_000).default(0),
  /** Kernel counters are read this often. */
  sampleMs: z.number().int().min(1).max(60_000).default(10),
  /** Packet captures: in the servers (default), also the client and translator, or none. */
  capture: z.enum(['servers', 'all', 'none']).default('servers'),
  snaplen: z.number().int().min(64).max(65_535).default(96),
});

export type ExperimentInput = z.input<typeof experimentSchema>;
export type ExperimentOptions = z.output<typeof experimentSchema>;

/** Options checked alone, with every problem in one line. */
export function parseExperiment(input: unknown, source = 'experiment options'): ExperimentOptions {
  const r = experimentSchema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  throw new InputError(source, problems);
}

/** An experiment file (YAML or JSON), checked. */
export async function loadExperimentFile(path: string): Promise<ExperimentOptions> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError('', [`cannot read experiment file ${path}: ${(e as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new InputError('', [
      `experiment file ${path} is not YAML or JSON: ${(e as Error).message.split('\n')[0]}`,
    ]);
  }
  return parseExperiment(doc ?? {}, `experiment file ${path}`);
}

/** The swap plan: times (ms after the warm-up) of each swap. */
export function swapTimes(o: ExperimentOptions): number[] {
  if (o.swaps.atMs) return [...o.swaps.atMs].sort((a, b) => a - b);
  return Array.from({ length: o.swaps.count }, (_, i) => i * o.swaps.periodMs);
}

/** The flow the experiment swaps and its servers; every problem with the lab listed at once. */
export function checkAgainstLab(o: ExperimentOptions, lab: Lab): { flow: Lab['flows'][number] } {
  const problems: string[] = [];
  const ref = o.swaps.flow;
  const address = ref === undefined ? undefined : canonicalAddress(ref);
  const flow =
    ref === undefined
      ? lab.flows[0]
      : lab.flows.find((f) => f.address === address || f.name === ref);
  if (!flow)
    problems.push(ref === undefined ? 'the lab has no flow' : `no flow '${ref}' in lab ${lab.id}`);
  const possible = servers(lab);
  if (flow && swapTimes(o).length > 0 && possible.length < 2)
    problems.push(
      `flow ${flow.address} has one possible server (${possible.map((s) => s.name).join(', ') || 'none'}): there is nothing to swap to`,
    );
  if (o.traffic.includes('ping') && o.ping.interval < 0.002 && process.getuid?.() !== 0)
    problems.push(
      `ping interval ${o.ping.interval} s: below 0.002 s ping accepts it only from root`,
    );
  const ports = new Map<number, string>();
  for (const kind of ['udp', 'ncat-udp', 'tcp'] as const) {
    if (!o.traffic.includes(kind)) continue;
    const p = kind === 'udp' ? o.udp.port : kind === 'tcp' ? o.tcp.port : o.ncatUdp.port;
    const other = ports.get(p);
    if (other && kind !== 'tcp' && other !== 'tcp')
      problems.push(`traffic ${other} and ${kind} both use UDP port ${p}`);
    ports.set(p, kind);
  }
  if (new Set(o.traffic).size !== o.traffic.length) problems.push('a traffic kind is listed twice');
  if (problems.length || !flow) throw new InputError('experiment', problems);
  return { flow };
}
