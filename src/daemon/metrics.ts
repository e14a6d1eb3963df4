// The daemon's Prometheus metrics (GET /metrics): migrations counted and timed as they commit, and
// the flow table, drift, late packets and per-node packets read at scrape time, in a registry of
// the daemon's own (prom-client's global one would mix in whatever else shares the process).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { TCP_POLICIES } from '../lab/schema.js';

export interface MetricSources {
  /** Flows in the table now (cheap). */
  flows(): number;
  /** Reads the kernel (may take ms): whether the translator drifts from the table, and late
   * packets translated so far (an absolute count from the kernel's counters). */
  kernel(): Promise<{ drift: boolean; lateTranslated: number }>;
  /** Packets counted at each node so far (absolute, from the observers' counters). */
  nodePackets(): Promise<Readonly<Record<string, number>>>;
}

export interface MigratedMetric {
  readonly path: string;
  readonly tcpPolicy: string;
  readonly ruleMs?: number;
  readonly conntrackMs?: number;
  readonly totalMs?: number;
  readonly conntrackDeleted?: number;
  readonly tcpMoved?: number;
}

export interface FailedMetric {
  readonly result: 'failed' | 'refused' | 'invalid';
  readonly path?: string;
  readonly tcpPolicy: string;
}

/**
 * Seconds, 50 µs to 1 s: a conntrack pass with nothing to delete takes ~10 µs, a rule
 * transaction 0.1-1 ms, a whole swap in process or through the agent 0.2-1 ms at p50
 * (docs/benchmarks.md), through programs (nft, conntrack) 60-130 ms; a second is a fault.
 */
export const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
] as const;

/** How long a scrape waits for a source before it answers with that source's last values. */
export const SOURCE_TIMEOUT_MS = 2000;

const PATHS = ['in-process', 'agent', 'programs'] as const;
const SOURCES = ['flows', 'kernel', 'nodes'] as const;
type Source = (typeof SOURCES)[number];

/**
 * A label value from a known set, anything else as `fallback`: a label's values must stay few
 * (each is a time series in Prometheus), whatever a caller passes.
 */
function oneOf(value: string | undefined, known: readonly string[], fallback: string): string {
  return value !== undefined && known.includes(value) ? value : fallback;
}

/** A count that may be added to a counter (prom-client throws on NaN and negatives). */
const countable = (n: number | undefined): n is number =>
  n !== undefined && Number.isFinite(n) && n >= 0;

export class DaemonMetrics {
  readonly contentType: string;
  private readonly registry = new Registry();
  private readonly migrations: Counter<'result' | 'path' | 'tcp_policy'>;
  private readonly duration: Histogram<'phase'>;
  private readonly conntrackDeleted: Counter;
  private readonly tcpMoved: Counter;
  private readonly readErrors: Counter<'source'>;
  /** Metrics set from the sources when scraped. */
  private readonly scraped: {
    readonly flows: Gauge;
    readonly drift: Gauge;
    readonly late: Counter;
    readonly nodes: Counter<'node'>;
  };
  /** The reads of the scrape under way. */
  private reading: Promise<void> | undefined;

  constructor(
    info: { lab: string; engine: string; version: string },
    private readonly sources: MetricSources,
    private readonly options: { sourceTimeoutMs?: number } = {},
  ) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    this.migrations = new Counter({
      name: 'flowmig_migrations_total',
      help: "Migrations by result (ok: committed; failed, refused, invalid: not applied), apply path (in-process, agent, programs; none: not applied) and the flow's TCP policy.",
      labelNames: ['result', 'path', 'tcp_policy'],
      registers,
    });
    this.duration = new Histogram({
      name: 'flowmig_migration_duration_seconds',
      help: "Time of committed migrations by phase: rule (the NAT change's transaction), conntrack (deleting the flow's entries), total (from start to both done).",
      labelNames: ['phase'],
      buckets: [...DURATION_BUCKETS],
      registers,
    });
    // Every phase from the start, so that a query over it answers 0 before the first migration.
    for (const phase of ['rule', 'conntrack', 'total']) this.duration.zero({ phase });
    this.conntrackDeleted = new Counter({
      name: 'flowmig_conntrack_entries_deleted_total',
      help: "Conntrack entries deleted by committed migrations (the moved flows' old connections).",
      registers,
    });
    this.tcpMoved = new Counter({
      name: 'flowmig_tcp_connections_moved_total',
      help: 'TCP connections moved to the new server by migrations of flows with tcp: migrate.',
      registers,
    });
    this.readErrors = new Counter({
      name: 'flowmig_metrics_read_errors_total',
      help: `Scrape-time reads of a source (flows, kernel, nodes) that failed or took over ${(this.options.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS) / 1000} s; that source's metrics kept their last values.`,
      labelNames: ['source'],
      registers,
    });
    for (const source of SOURCES) this.readErrors.inc({ source }, 0);
    this.scraped = {
      flows: new Gauge({
        name: 'flowmig_flows',
        help: "Flows in the lab's flow table.",
        registers,
      }),
      drift: new Gauge({
        name: 'flowmig_drift',
        help: "Whether the translator's rules differ from the flow table (1) or not (0), as the kernel showed them at the last scrape.",
        registers,
      }),
      late: new Counter({
        name: 'flowmig_late_packets_translated_total',
        help: "Late packets of a former server translated to the flow's initiator after the flow moved (the late table's kernel counter, read at scrape time).",
        registers,
      }),
      nodes: new Counter({
        name: 'flowmig_node_packets_total',
        help: 'Packets counted at each node of the lab by its observer (absolute, read at scrape time).',
        labelNames: ['node'],
        registers,
      }),
    };
    new Gauge({
      name: 'flowmig_build_info',
      help: 'Always 1: the flowmig version, translator engine and lab of this daemon, as labels.',
      labelNames: ['version', 'engine', 'lab'],
      registers,
    }).set({ version: info.version, engine: info.engine, lab: info.lab }, 1);
    // The process's own figures under their standard names (process_*, nodejs_*), unprefixed:
    // every exporter in every language exports process_cpu_seconds_total and
    // process_resident_memory_bytes by those names, so one dashboard or alert covers them all
    // and the job label tells flowmig's apart; flowmig_ is for what flowmig itself counts. The
    // event-loop lag matters here: a migration waits for the loop like everything else.
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total break the naming rule `promtool check metrics` enforces (_total is for
    // counters); their per-type siblings (nodejs_active_handles{type}) say the same, summed.
    for (const name of ['handles', 'requests', 'resources'])
      this.registry.removeSingleMetric(`nodejs_active_${name}_total`);
  }

  /** A migration that committed (from this daemon or seen in the state). */
  migrated(m: MigratedMetric): void {
    const tcp_policy = oneOf(m.tcpPolicy, TCP_POLICIES, 'unknown');
    this.migrations.inc({ result: 'ok', path: oneOf(m.path, PATHS, 'none'), tcp_policy });
    const phases = { rule: m.ruleMs, conntrack: m.conntrackMs, total: m.totalMs };
    for (const [phase, ms] of Object.entries(phases))
      if (countable(ms)) this.duration.observe({ phase }, ms / 1000);
    if (countable(m.conntrackDeleted)) this.conntrackDeleted.inc(m.conntrackDeleted);
    if (countable(m.tcpMoved)) this.tcpMoved.inc(m.tcpMoved);
  }

  /** A migration that failed or was refused. */
  failed(m: FailedMetric): void {
    this.migrations.inc({
      result: oneOf(m.result, ['failed', 'refused', 'invalid'], 'failed'),
      path: oneOf(m.path, PATHS, 'none'),
      tcp_policy: oneOf(m.tcpPolicy, TCP_POLICIES, 'unknown'),
    });
  }

  /**
   * The exposition text, after reading the sources (each once per scrape; scrapes that overlap
   * share the reads under way). Read before rendering, not in each metric's collect: the read
   * errors a scrape counts are in its own text. A source that fails or hangs leaves its metrics
   * as the last scrape left them and counts a read error; the scrape still answers.
   */
  async text(): Promise<string> {
    this.reading ??= this.readSources().finally(() => {
      this.reading = undefined;
    });
    await this.reading;
    return this.registry.metrics();
  }

  private async readSources(): Promise<void> {
    const { sources, scraped } = this;
    try {
      scraped.flows.set(sources.flows());
    } catch {
      this.readErrors.inc({ source: 'flows' });
    }
    const [kernel, nodes] = await Promise.all([
      this.read('kernel', () => sources.kernel()),
      this.read('nodes', () => sources.nodePackets()),
    ]);
    if (kernel !== undefined) {
      if (countable(kernel.lateTranslated)) {
        scraped.drift.set(kernel.drift ? 1 : 0);
        // The kernel's count is absolute: set it, do not add it.
        scraped.late.reset();
        scraped.late.inc(kernel.lateTranslated);
      } else this.readErrors.inc({ source: 'kernel' });
    }
    if (nodes !== undefined) {
      const entries = Object.entries(nodes);
      if (entries.every(([, n]) => countable(n))) {
        scraped.nodes.reset();
        for (const [node, n] of entries) scraped.nodes.inc({ node }, n);
      } else this.readErrors.inc({ source: 'nodes' });
    }
  }

  /** `f`'s value, or undefined (a read error counted) when it throws or outlasts the timeout. */
  private async read<T>(source: Source, f: () => Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(reject, this.options.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([Promise.resolve().then(f), timeout]);
    } catch {
      this.readErrors.inc({ source });
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
