// What an experiment runs: traffic, swaps, timing, observers. Checked whole (every problem listed)
// before anything is built, from CLI options or an experiment file (YAML or JSON).
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { type Draft, parseLeniently, REFUSED } from '../lab/draft.js';
import { type Lab, servers } from '../lab/model.js';

/** What the options are checked against: a single-host lab, or a cluster lab's nodes and flows. */
export type OptionsLab = Pick<Lab, 'id' | 'nodes' | 'flows'>;

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

/**
 * Options checked whole, with every problem in one line: the schema's and the checks across
 * fields (run on every field the schema accepted), and with `lab` those against the lab too.
 */
export function parseExperiment(
  input: unknown,
  source = 'experiment options',
  lab?: OptionsLab,
): ExperimentOptions {
  const { value, problems, draft } = parseLeniently(experimentSchema, input);
  if (draft !== REFUSED) {
    problems.push(...acrossFields(draft));
    if (lab) problems.push(...againstLab(draft, lab).problems);
  }
  if (value === undefined || problems.length > 0) throw new InputError(source, problems);
  return value;
}

/** An experiment file (YAML or JSON), checked (with `lab`, against it too). */
export async function loadExperimentFile(
  path: string,
  lab?: OptionsLab,
): Promise<ExperimentOptions> {
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
  return parseExperiment(doc ?? {}, `experiment file ${path}`, lab);
}

/** The swap plan: times (ms after the warm-up) of each swap. */
export function swapTimes(o: ExperimentOptions): number[] {
  if (o.swaps.atMs) return [...o.swaps.atMs].sort((a, b) => a - b);
  return Array.from({ length: o.swaps.count }, (_, i) => i * o.swaps.periodMs);
}

/** The flow the experiment swaps and its servers; every problem with the lab listed at once. */
export function checkAgainstLab(
  o: ExperimentOptions,
  lab: OptionsLab,
): { flow: Lab['flows'][number] } {
  const { problems, flow } = againstLab(o, lab);
  problems.unshift(...acrossFields(o));
  if (problems.length || !flow) throw new InputError('experiment', problems);
  return { flow };
}

/** Options as far as the schema accepted them (a refused part is REFUSED: its checks are skipped). */
type ExperimentDraft = Exclude<Draft<ExperimentOptions>, typeof REFUSED>;

/** The traffic kinds the schema accepted. */
function trafficOf(d: ExperimentDraft): TrafficKind[] {
  return d.traffic === REFUSED ? [] : d.traffic.filter((k) => k !== REFUSED);
}

/** Problems between the options themselves: a kind listed twice, two UDP kinds on one port. */
function acrossFields(d: ExperimentDraft): string[] {
  const problems: string[] = [];
  const traffic = trafficOf(d);
  for (const kind of new Set(traffic)) {
    if (traffic.indexOf(kind) !== traffic.lastIndexOf(kind)) {
      problems.push(`traffic: '${kind}' is listed twice`);
    }
  }
  if (traffic.includes('udp') && traffic.includes('ncat-udp')) {
    const udp = d.udp === REFUSED ? REFUSED : d.udp.port;
    const ncat = d.ncatUdp === REFUSED ? REFUSED : d.ncatUdp.port;
    if (udp !== REFUSED && udp === ncat) {
      problems.push(`ncatUdp.port: traffic udp and ncat-udp both use UDP port ${udp}`);
    }
  }
  return problems;
}

/** Problems with the lab (and this process) the options are meant for; the flow they swap. */
function againstLab(
  d: ExperimentDraft,
  lab: OptionsLab,
): { problems: string[]; flow: Lab['flows'][number] | undefined } {
  const problems: string[] = [];
  const swaps = d.swaps === REFUSED ? undefined : d.swaps;
  const ref = swaps?.flow;
  let flow: Lab['flows'][number] | undefined;
  if (swaps !== undefined && ref !== REFUSED) {
    const address = ref === undefined ? undefined : canonicalAddress(ref);
    flow =
      ref === undefined
        ? lab.flows[0]
        : lab.flows.find((f) => f.address === address || f.name === ref);
    if (!flow) {
      problems.push(
        ref === undefined ? 'the lab has no flow' : `swaps.flow: no flow '${ref}' in lab ${lab.id}`,
      );
    }
  }
  const count = swaps === undefined ? undefined : swapCount(swaps);
  const possible = servers(lab);
  if (flow && count !== undefined && count > 0 && possible.length < 2)
    problems.push(
      `flow ${flow.address} has one possible server (${possible.map((s) => s.name).join(', ') || 'none'}): there is nothing to swap to`,
    );
  const interval = d.ping === REFUSED ? REFUSED : d.ping.interval;
  if (
    trafficOf(d).includes('ping') &&
    interval !== REFUSED &&
    interval < 0.002 &&
    process.getuid?.() !== 0
  )
    problems.push(`ping interval ${interval} s: below 0.002 s ping accepts it only from root`);
  return { problems, flow };
}

/** How many swaps the options ask for; undefined when a part that decides it was refused. */
function swapCount(s: Exclude<ExperimentDraft['swaps'], typeof REFUSED>): number | undefined {
  if (s.atMs === REFUSED) return undefined;
  // Explicit times replace the count (see swapTimes).
  if (s.atMs !== undefined) return s.atMs.length;
  return s.count === REFUSED ? undefined : s.count;
}
