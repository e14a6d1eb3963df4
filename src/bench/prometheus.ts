// A real Prometheus server for a benchmark: scrapes one target every second from a temporary
// config and data directory, answers instant queries, and is stopped by its PID with its files.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowmigError } from '../errors.js';
import { Background } from '../experiment/process.js';

/** Debian's prometheus package. */
export const PROMETHEUS = '/usr/bin/prometheus';
export const JOB = 'flowmig';

/** The scrape config: `target` (host:port) scraped at /metrics every second, one job. */
export function prometheusConfig(target: string): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    // The timeout may not exceed the interval; /metrics answers in well under a millisecond here.
    '  scrape_timeout: 1s',
    'scrape_configs:',
    `  - job_name: ${JOB}`,
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n');
}

interface QueryReply {
  readonly status: string;
  readonly error?: string;
  readonly data?: {
    readonly result?: readonly { readonly value?: readonly [number, string] }[];
  };
}

interface TargetsReply {
  readonly data?: {
    readonly activeTargets?: readonly {
      readonly health: string;
      readonly lastError: string;
      readonly scrapeUrl: string;
    }[];
  };
}

/**
 * The values of an instant query's vector, in the order Prometheus gives them (empty: no series).
 * A reply that is not a success is an error with Prometheus's own message.
 */
export function queryValues(reply: QueryReply): number[] {
  if (reply.status !== 'success')
    throw new FlowmigError(`Prometheus query failed: ${reply.error ?? JSON.stringify(reply)}`);
  return (reply.data?.result ?? []).map((r) => Number(r.value?.[1]));
}

/** A TCP port free on 127.0.0.1 just now (the kernel picks it; the listener is closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Refuses to go on without Prometheus, saying how to install it. */
export function checkPrometheus(): void {
  if (!existsSync(PROMETHEUS))
    throw new FlowmigError(
      `${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install -y prometheus)`,
    );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PrometheusServer {
  private constructor(
    /** http://127.0.0.1:PORT */
    readonly url: string,
    readonly target: string,
    readonly pid: number,
    /** The temporary directory: config, data, and Prometheus's log. */
    readonly dir: string,
    private readonly child: Background,
  ) {}

  /**
   * Starts Prometheus scraping `target` (host:port of a /metrics endpoint) and waits until it is
   * ready; the target's first scrape is `waitForTarget`'s. Cleans up after itself if it fails.
   */
  static async start(target: string, timeoutMs = 30_000): Promise<PrometheusServer> {
    checkPrometheus();
    const dir = await mkdtemp(join(tmpdir(), 'flowmig-prom-'));
    const config = join(dir, 'prometheus.yml');
    await writeFile(config, prometheusConfig(target));
    const port = await freePort();
    // Its own process group (Background's): a Ctrl-C on the terminal reaches this process, which
    // stops it in order (by PID) rather than having it die under the run. It logs to stderr,
    // kept by Background up to its cap.
    const child = Background.start(
      [
        PROMETHEUS,
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdoutFile: join(dir, 'prometheus.log') },
    );
    const exited = child.exited.then(
      (e) => `exited (${e.signal ?? e.code}): ${child.stderr.trim().split('\n').pop() ?? ''}`,
    );
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, target, child.pid, dir, child);
    try {
      const ready = (async () => {
        for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
          const ok = await fetch(`${server.url}/-/ready`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return 'ready';
        }
        return `not ready within ${timeoutMs} ms`;
      })();
      const first = await Promise.race([ready, exited]);
      if (first !== 'ready')
        throw new FlowmigError(`Prometheus ${first}: ${await server.log()}`.trim());
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** The end of Prometheus's log (for error messages). */
  async log(chars = 2_000): Promise<string> {
    const text = await readFile(join(this.dir, 'prometheus.log'), 'utf8').catch(() => '');
    return text.slice(-chars);
  }

  /** Waits until the target was scraped and is up; fails with the target's last error. */
  async waitForTarget(timeoutMs = 15_000): Promise<void> {
    let last = 'no active target';
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(200)) {
      const reply = (await (await fetch(`${this.url}/api/v1/targets`)).json()) as TargetsReply;
      const targets = reply.data?.activeTargets ?? [];
      const t = targets[0];
      if (targets.length === 1 && t?.health === 'up') return;
      if (t) last = `${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`;
    }
    throw new FlowmigError(
      `Prometheus did not scrape ${this.target} within ${timeoutMs} ms: ${last}`,
    );
  }

  /** An instant query's values (GET /api/v1/query), now or at `time` (Unix seconds). */
  async query(expr: string, time?: number): Promise<number[]> {
    const at = time === undefined ? '' : `&time=${time}`;
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}${at}`);
    return queryValues((await res.json()) as QueryReply);
  }

  /** An instant query of one value: the sum of its series (undefined: no series). */
  async value(expr: string, time?: number): Promise<number | undefined> {
    const values = await this.query(expr, time);
    return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
  }

  /** Stops Prometheus (SIGTERM to its PID while it runs, then SIGKILL) and removes its directory. */
  async stop(): Promise<void> {
    await this.child.stop('SIGTERM', 5_000);
    await rm(this.dir, { recursive: true, force: true });
  }
}
