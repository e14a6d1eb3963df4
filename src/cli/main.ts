// The flowmig command line: parses arguments, calls the controller, prints text or JSON.
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  DAEMON_MARKER,
  daemonPaths,
  runDaemon,
  startDaemon,
  stopLabDaemon,
} from '../control/daemon-process.js';
import { Flowmig } from '../control/flowmig.js';
import { candidateLabs } from '../control/presence.js';
import { SERVE_MODES, type ServeMode } from '../control/serve-process.js';
import { DaemonClient } from '../daemon/client.js';
import type { RequestBody } from '../daemon/protocol.js';
import { DaemonServer } from '../daemon/server.js';
import { engineFor } from '../engines/registry.js';
import { FlowmigError, InputError } from '../errors.js';
import { isOurProcess } from '../exec/daemon.js';
import { INTERRUPTED_EXIT_CODE, listenForInterrupt } from '../exec/interrupt.js';
import { RecordingRunner } from '../exec/recording.js';
import { runDemo } from '../experiment/demo.js';
import { loadExperimentFile, parseExperiment, TRAFFIC_KINDS } from '../experiment/options.js';
import { finishRun } from '../experiment/pipeline.js';
import { defaultResultsDir, runId } from '../experiment/results.js';
import { runExperiment } from '../experiment/run.js';
import { loadLab } from '../lab/load.js';
import { ENGINE_NAMES, type EngineName } from '../lab/schema.js';
import { planUp } from '../plan/build.js';
import { commandFor } from '../plan/command.js';
import { HTML_FILE, MARKDOWN_FILE, renderReportFromDir } from '../report/index.js';
import { DamagedStateError } from '../state/store.js';
import { tcpRepairUnavailable } from '../tcp-repair/native.js';
import { renderDemo } from './demo-report.js';
import { renderExperiment } from './experiment-report.js';
import { runPrompt } from './prompt.js';
import {
  Progress,
  renderEvacuation,
  renderFlows,
  renderLabs,
  renderMigration,
  renderReconcile,
  renderServe,
  renderServeStopped,
  renderStatus,
} from './render.js';

interface Globals {
  stateDir?: string;
  direct?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError('must be a port (0-65535)');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

const engineOption = () =>
  new Option('--engine <name>', 'netfilter engine (overrides the lab file)').choices(ENGINE_NAMES);

function print(json: boolean | undefined, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function buildProgram(): Command {
  const program = new Command('flowmig')
    .description(
      'Migrate network flows between Linux network namespaces behind abstract IPv6 addresses',
    )
    .version('0.1.0')
    .option(
      '--state-dir <dir>',
      'where lab state is kept (default $FLOWMIG_STATE_DIR or /run/flowmig)',
    )
    .option('--direct', "act on the lab from this process instead of through the lab's daemon")
    // A usage error is one line on stderr (exit 2, see main), like every other failure.
    .configureOutput({
      outputError: (text, write) =>
        write(`flowmig: ${text.trim().replace(/^error: /, '')} (see --help)\n`),
    })
    .exitOverride();

  const controller = () => new Flowmig({ stateDir: program.opts<Globals>().stateDir });

  /**
   * Runs a request through the lab's daemon, which owns the lab and serialises its changes. Reads
   * fall back to this process when no daemon runs; changes need the daemon (or --direct).
   */
  const act = async <T>(
    fm: Flowmig,
    id: string,
    body: RequestBody,
    direct: () => Promise<T>,
    kind: 'read' | 'change',
  ): Promise<T> => {
    if (program.opts<Globals>().direct) return direct();
    // The daemon's socket is the lab's own (root-only, in the state directory): try it first, so
    // a command does not read a large lab's state just to find the daemon.
    const quick = await DaemonClient.connect(daemonPaths(fm.store.dir, id).socket).catch(
      () => undefined,
    );
    if (quick) {
      try {
        return await quick.request<T>(body);
      } finally {
        quick.close();
      }
    }
    // A read (status, down) works on a lab whose state file is damaged; a change cannot.
    const daemon = await fm.store.read(id).then(
      (state) => state?.daemon,
      (error: unknown) => {
        if (kind === 'read' && error instanceof DamagedStateError) return undefined;
        throw error;
      },
    );
    if (daemon && (await isOurProcess(daemon.pid, [DAEMON_MARKER, id]))) {
      const client = await DaemonClient.connect(daemon.socket);
      try {
        return await client.request<T>(body);
      } finally {
        client.close();
      }
    }
    if (kind === 'read') return direct();
    throw new FlowmigError(
      daemon
        ? `the daemon of lab ${id} (pid ${daemon.pid}) is not running; restart it with 'flowmig daemon --lab ${id}', or act without it with --direct`
        : `no daemon serves lab ${id}; start one with 'flowmig daemon --lab ${id}', or act without it with --direct`,
    );
  };

  program
    .command('up')
    .description(
      'build a lab and open the interactive prompt (swap, migrate, evacuate, reconcile, serve, status, flows, help, quit)',
    )
    .option('-c, --config <file>', 'lab description (YAML or JSON); default: the reference lab')
    .option('-p, --prefix <prefix>', 'prefix for every namespace name, to run labs side by side')
    .addOption(engineOption())
    .option('-d, --detach', 'build the lab and return, leaving it up')
    .option('-k, --keep', 'leave the lab up when the prompt ends')
    .option('--dry-run', 'print the commands that would build the lab; change nothing')
    .option('--json', 'print the lab status as JSON')
    .action(
      async (o: {
        config?: string;
        prefix?: string;
        engine?: EngineName;
        detach?: boolean;
        keep?: boolean;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const lab = await loadLab(o.config, { prefix: o.prefix, engine: o.engine });
        if (o.dryRun) {
          const commands = planUp(lab, engineFor(lab.engine)).map(commandFor);
          const recorder = new RecordingRunner();
          for (const c of commands) await recorder.run(c.argv, { netns: c.netns, stdin: c.stdin });
          print(
            o.json,
            recorder.calls,
            recorder.calls
              .map((c) => c.full.join(' ') + (c.stdin ? `\n${indent(c.stdin)}` : ''))
              .join('\n'),
          );
          return;
        }
        const fm = controller();
        // Building takes about a second: show its steps only to a person watching a terminal.
        const progress = new Progress(process.stderr, !o.json && process.stderr.isTTY === true);
        const status = await fm.up(lab, {
          onStep: (text, i, n) => progress.update(`[${i}/${n}] ${text}`),
        });
        progress.done();
        if (o.detach) {
          const daemon = await startDaemon(lab.id, fm.store.dir).catch((error: unknown) => {
            throw new FlowmigError(
              `lab ${lab.id} is up but its daemon did not start (${(error as Error).message}); 'flowmig daemon --lab ${lab.id}' retries, 'flowmig down --lab ${lab.id}' removes the lab`,
            );
          });
          print(
            o.json,
            { ...status, daemon: { pid: daemon.pid, socket: daemon.socket, running: true } },
            `lab ${lab.id} is up (detached, daemon pid ${daemon.pid}); act on it with 'flowmig swap', 'flowmig status', 'flowmig down'\n\n${renderStatus(status)}`,
          );
          return;
        }
        // While the prompt runs, this process is the lab's daemon for other terminals too.
        const { socket } = daemonPaths(fm.store.dir, lab.id);
        await fm.recordDaemon(lab.id, { pid: process.pid, socket });
        const server = await DaemonServer.start(fm, lab.id, socket, {
          onDown: () => {
            process.stdout.write(`\nlab ${lab.id} was torn down from another terminal\n`);
            process.exit(0);
          },
        });
        print(
          o.json,
          status,
          `lab ${lab.id} is up; type 'help' for commands${o.keep ? '' : ", 'quit' tears it down"}\n\n${renderStatus(status)}`,
        );
        let end: string;
        try {
          end = await runPrompt(fm, lab.id, { input: process.stdin, output: process.stdout });
        } finally {
          await server.close();
          await fm.recordDaemon(lab.id, undefined).catch(() => {});
          if (!o.keep) {
            const down = await fm.down(lab.id);
            process.stdout.write(
              `lab ${lab.id} torn down (removed ${down.removed.join(', ') || 'nothing'})\n`,
            );
          }
        }
        if (o.keep) {
          // A daemon takes over, so other terminals keep acting on the lab.
          const daemon = await startDaemon(lab.id, fm.store.dir);
          process.stdout.write(
            `lab ${lab.id} left up, served by daemon pid ${daemon.pid} ('flowmig down --lab ${lab.id}' removes it)\n`,
          );
        }
        if (end === 'interrupt') process.exitCode = 130;
      },
    );

  program
    .command('down')
    .description('tear a lab down (idempotent; works after the process that built it died)')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option(
      '-c, --config <file>',
      'with --prefix: find the lab from its description when its state is lost',
    )
    .option('-p, --prefix <prefix>', 'namespace prefix of the lab')
    .option('--json', 'print the result as JSON')
    .action(async (o: { lab?: string; config?: string; prefix?: string; json?: boolean }) => {
      const fm = controller();
      const fallback =
        o.config !== undefined || o.prefix !== undefined
          ? await loadLab(o.config, { prefix: o.prefix })
          : undefined;
      let id = o.lab ?? fallback?.id;
      if (id === undefined) {
        // Labs by state file, and by their marks in the kernel when the state is gone.
        const labs = candidateLabs(await fm.labs());
        if (labs.length === 0) {
          print(
            o.json,
            { removed: [], skipped: [], hadState: false },
            'no lab is up; nothing to do',
          );
          return;
        }
        if (labs.length > 1)
          throw new InputError('', [
            `several labs are up (${labs.map((l) => l.id).join(', ')}); name one with --lab ID`,
          ]);
        id = labs[0]?.id ?? '';
      }
      const lab = id;
      const r = await act(fm, lab, { verb: 'down' }, () => fm.down(lab, fallback), 'read');
      const text = r.removed.length
        ? `lab ${r.id} torn down (removed ${r.removed.join(', ')})`
        : `lab ${r.id}: nothing to remove${r.hadState ? '' : ' (no state and no namespace marked as this lab)'}`;
      const skipped = r.skipped.length
        ? `\nleft alone (not this lab's): ${r.skipped.join(', ')}`
        : '';
      const damaged = r.damagedState
        ? `\nits state file ${r.damagedState} was damaged: the lab was found by its marks in the kernel, and the file removed`
        : '';
      print(o.json, r, text + skipped + damaged);
    });

  program
    .command('swap')
    .description('migrate a flow to the next server (the seed\'s "swap")')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-f, --flow <flow>', 'flow address or name (default: the only flow)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { lab?: string; flow?: string; json?: boolean }) => {
      const fm = controller();
      const id = await fm.pick(o.lab);
      const r = await act(
        fm,
        id,
        { verb: 'swap', ...(o.flow === undefined ? {} : { flow: o.flow }) },
        () => fm.swap(id, o.flow),
        'change',
      );
      print(o.json, r, renderMigration(r));
    });

  program
    .command('migrate')
    .description('make NODE the responder (a server) or initiator (a client) of FLOW')
    .argument('<flow>', 'flow address or name')
    .argument('<node>', 'node name')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (flow: string, node: string, o: { lab?: string; json?: boolean }) => {
      const fm = controller();
      const id = await fm.pick(o.lab);
      const r = await act(
        fm,
        id,
        { verb: 'migrate', flow, node },
        () => fm.migrate(id, flow, node),
        'change',
      );
      print(o.json, r, renderMigration(r));
    });

  program
    .command('serve')
    .description(
      "run flowmig's TCP server runtime (echo or stream) in the lab's server namespaces: flows with `tcp: migrate` move its connections",
    )
    .argument('[nodes...]', 'server nodes (default: every server of the lab)')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-p, --port <port>', 'TCP port on each server address', '5555')
    .addOption(
      new Option('--mode <mode>', 'what the server does').choices(SERVE_MODES).default('echo'),
    )
    .option('--stop', 'stop the runtimes instead')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        nodes: string[],
        o: { lab?: string; port: string; mode: ServeMode; stop?: boolean; json?: boolean },
      ) => {
        const fm = controller();
        const id = await fm.pick(o.lab);
        if (o.stop) {
          const n = await act(
            fm,
            id,
            { verb: 'unserve', ...(nodes.length ? { nodes } : {}) },
            () => fm.unserve(id, nodes),
            'change',
          );
          print(o.json, { stopped: n }, renderServeStopped(id, n));
          return;
        }
        const port = Number(o.port);
        if (!Number.isInteger(port) || port < 1 || port > 65_535)
          throw new InputError('serve', [`bad port '${o.port}'`]);
        const r = await act(
          fm,
          id,
          { verb: 'serve', port, mode: o.mode, ...(nodes.length ? { nodes } : {}) },
          () => fm.serve(id, { port, mode: o.mode, nodes }),
          'change',
        );
        print(o.json, r, renderServe(r, tcpRepairUnavailable()));
      },
    );

  program
    .command('evacuate')
    .description('move every flow served by FROM to TO: one rule transaction, one conntrack pass')
    .argument('<from>', 'server node the flows leave')
    .argument('<to>', 'server node that takes them')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (from: string, to: string, o: { lab?: string; json?: boolean }) => {
      const fm = controller();
      const id = await fm.pick(o.lab);
      const r = await act(
        fm,
        id,
        { verb: 'evacuate', from, to },
        () => fm.evacuate(id, from, to),
        'change',
      );
      print(o.json, r, renderEvacuation(r));
    });

  program
    .command('status')
    .description('show a lab: nodes, flows, and whether the kernel agrees')
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the status as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const fm = controller();
      let id = o.lab;
      if (id === undefined) {
        // No lab named: the only one, or a list of every lab found (also those whose state file
        // is gone or damaged, found by their marks in the kernel).
        const labs = candidateLabs(await fm.labs());
        const only = labs.length === 1 ? labs[0] : undefined;
        if (only?.state !== 'ok') {
          print(o.json, { labs }, renderLabs(labs));
          return;
        }
        id = only.id;
      }
      const lab = id;
      const s = await act(fm, lab, { verb: 'status' }, () => fm.status(lab), 'read').catch(
        async (error: unknown) => {
          // A lab named whose state is damaged or gone: what the kernel still shows of it.
          const found = (await fm.labs()).find((l) => l.id === lab && l.state !== 'ok');
          if (!found) throw error;
          return found;
        },
      );
      if ('state' in s) print(o.json, { labs: [s] }, renderLabs([s]));
      else print(o.json, s, renderStatus(s));
    });

  program
    .command('flows')
    .description("list a lab's flows and where each points")
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the flows as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const fm = controller();
      const id = await fm.pick(o.lab);
      const s = await act(fm, id, { verb: 'status' }, () => fm.status(id), 'read');
      print(o.json, s.flows, renderFlows(s));
    });

  program
    .command('reconcile')
    .description(
      "make the translator match the lab's desired flow table (restores missing or changed rules)",
    )
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { lab?: string; json?: boolean }) => {
      const fm = controller();
      const id = await fm.pick(o.lab);
      const r = await act(fm, id, { verb: 'reconcile' }, () => fm.reconcile(id), 'change');
      print(o.json, r, renderReconcile(r));
      if (r.drift.length && !r.repaired) process.exitCode = 1;
    });

  program
    .command('daemon')
    .description(
      "serve a lab's local API (a Unix socket only root can open) and own its changes; --stop and --restart act on the running one",
    )
    .option('-l, --lab <id>', 'lab id (default: the only lab that is up)')
    .option('-d, --detach', 'start it in the background and return')
    .option(
      '--http <port>',
      'also serve the API over HTTP on 127.0.0.1:PORT (0: any), with a bearer token in <state-dir>/<lab>.token (0600); see docs/http-api.md',
      portNumber,
    )
    .addOption(
      new Option('--stop', "stop the lab's daemon; the lab stays up").conflicts([
        'detach',
        'http',
        'restart',
      ]),
    )
    .option('--restart', "stop the lab's daemon (if one runs) and start one with these options")
    .option('--json', 'with --detach or --stop: print the result as JSON')
    .action(
      async (o: {
        lab?: string;
        detach?: boolean;
        http?: number;
        stop?: boolean;
        restart?: boolean;
        json?: boolean;
      }) => {
        const fm = controller();
        const id = await fm.pick(o.lab);
        const http = o.http === undefined ? {} : { httpPort: o.http };
        let stopped: readonly number[] = [];
        if (o.stop || o.restart) {
          const r = await stopLabDaemon(fm.store, id);
          if (o.stop) {
            print(
              o.json,
              r,
              r.stopped.length
                ? `daemon of lab ${id} stopped (pid ${r.stopped.join(', ')}); the lab stays up`
                : `no daemon serves lab ${id}; nothing to stop`,
            );
            return;
          }
          stopped = r.stopped;
        }
        const replaced = stopped.length ? `, replacing pid ${stopped.join(', ')}` : '';
        if (o.detach) {
          const hello = await startDaemon(id, fm.store.dir, http);
          const where = hello.http
            ? `; HTTP API on ${hello.http.url}, bearer token in ${hello.http.tokenFile}`
            : '';
          print(
            o.json,
            hello,
            `daemon of lab ${id} started (pid ${hello.pid}${replaced}, socket ${hello.socket}${where})`,
          );
          return;
        }
        if (stopped.length)
          process.stdout.write(`daemon of lab ${id} stopped (pid ${stopped.join(', ')})\n`);
        // In the foreground: the daemon's log lines come here; it serves until SIGTERM/SIGINT, a
        // `down` request, or `flowmig daemon --stop` from another terminal.
        process.exitCode = await runDaemon(id, fm.store.dir, http);
      },
    );

  program
    .command('demo')
    .description(
      'the reference experiment in one command: build, ping at a high rate, swap, count, verdict, tear down',
    )
    .option('-p, --prefix <prefix>', 'prefix for every namespace name')
    .addOption(engineOption())
    .option('-n, --swaps <n>', 'number of swaps', positiveInt, 200)
    .option('--swap-every <ms>', 'pause between swaps, in ms', positiveNumber, 20)
    .option('--ping-interval <s>', 'ping -i interval in seconds', positiveNumber, 0.00001)
    .option('--no-tcp', 'skip the TCP observation (an ncat TCP client across a swap)')
    .option('-o, --out <dir>', 'results directory (default ./flowmig-results/<time>-demo-<lab>)')
    .option('--json', 'print the results as JSON')
    .action(
      async (o: {
        prefix?: string;
        engine?: EngineName;
        swaps: number;
        swapEvery: number;
        pingInterval: number;
        tcp: boolean;
        out?: string;
        json?: boolean;
      }) => {
        const lab = await loadLab(undefined, { prefix: o.prefix, engine: o.engine });
        const progress = new Progress(process.stderr, !o.json);
        const interrupt = listenForInterrupt(() => progress.update(INTERRUPT_NOTICE));
        try {
          const result = await runDemo(controller(), lab, {
            swaps: o.swaps,
            swapEveryMs: o.swapEvery,
            pingInterval: o.pingInterval,
            tcp: o.tcp,
            ...(o.out ? { out: o.out } : {}),
            onProgress: (text) => progress.update(text),
            signal: interrupt.signal,
          });
          progress.done();
          print(o.json, result, renderDemo(result));
          if (interrupt.signal.aborted) process.exitCode = INTERRUPTED_EXIT_CODE;
          else if (!result.verdict.ok) process.exitCode = 1;
        } finally {
          progress.done();
          interrupt.dispose();
        }
      },
    );

  program
    .command('experiment')
    .description(
      'a measured run: build a lab, run traffic, swap on schedule, capture, then write results.json, report.html and summary.md',
    )
    .option('-f, --file <file>', 'experiment file (YAML or JSON); options below override it')
    .option('-c, --config <file>', 'lab description (default: the reference lab)')
    .option('-p, --prefix <prefix>', 'prefix for every namespace name')
    .addOption(engineOption())
    .option('--traffic <kinds>', `comma-separated: ${TRAFFIC_KINDS.join(', ')} (default ping)`)
    .option('--interval <s>', 'ping -i interval in seconds (default 0.00001)')
    .option('--size <bytes>', 'ping payload size (default 56)')
    .option('--rate <n>', 'udp datagrams per second (default 20000)')
    .option('--swaps <n>', 'number of swaps (default 100)')
    .option('--swap-every <ms>', 'time from one swap to the next (default 20)')
    .option('--swap-at <list>', 'explicit swap times in ms after the warm-up, comma-separated')
    .option('--flow <flow>', "the flow to swap (default: the lab's first)")
    .option('--warmup <ms>', 'traffic before the first swap (default 500)')
    .option('--duration <ms>', 'minimum measured time after the warm-up')
    .option('--capture <which>', 'packet captures: servers, all or none (default servers)')
    .option('-o, --out <dir>', 'results directory (default ./flowmig-results/<time>-<lab>)')
    .option('--json', 'print the results summary as JSON')
    .action(
      async (o: {
        file?: string;
        config?: string;
        prefix?: string;
        engine?: EngineName;
        traffic?: string;
        interval?: string;
        size?: string;
        rate?: string;
        swaps?: string;
        swapEvery?: string;
        swapAt?: string;
        flow?: string;
        warmup?: string;
        duration?: string;
        capture?: string;
        out?: string;
        json?: boolean;
      }) => {
        // The lab first: the experiment file's problems, its checks against the lab among them,
        // are then reported at once.
        const lab = await loadLab(o.config, { prefix: o.prefix, engine: o.engine });
        const base = o.file ? await loadExperimentFile(o.file, lab) : parseExperiment({});
        const num = (x: string | undefined) => (x === undefined ? undefined : Number(x));
        const pick = <T>(v: T | undefined, d: T) => (v === undefined ? d : v);
        const options = parseExperiment(
          {
            ...base,
            traffic: o.traffic ? o.traffic.split(',').map((x) => x.trim()) : base.traffic,
            ping: {
              interval: pick(num(o.interval), base.ping.interval),
              size: pick(num(o.size), base.ping.size),
            },
            udp: { ...base.udp, rate: pick(num(o.rate), base.udp.rate) },
            swaps: {
              ...base.swaps,
              count: pick(num(o.swaps), base.swaps.count),
              periodMs: pick(num(o.swapEvery), base.swaps.periodMs),
              ...(o.swapAt ? { atMs: o.swapAt.split(',').map((x) => Number(x)) } : {}),
              ...(o.flow ? { flow: o.flow } : {}),
            },
            warmupMs: pick(num(o.warmup), base.warmupMs),
            durationMs: pick(num(o.duration), base.durationMs),
            capture: pick(o.capture, base.capture),
          },
          'experiment options',
          lab,
        );
        // One stamp for the run's id and its directory's name.
        const id = runId(lab.id);
        const dir = defaultResultsDir(id, o.out);
        const progress = new Progress(process.stderr, !o.json);
        const interrupt = listenForInterrupt(() => progress.update(INTERRUPT_NOTICE));
        try {
          const onProgress = (text: string) => progress.update(text);
          await runExperiment(controller(), lab, options, dir, {
            id,
            onProgress,
            signal: interrupt.signal,
          });
          const results = await finishRun(dir, { signal: interrupt.signal, onProgress });
          progress.done();
          print(o.json, { dir, ...results }, renderExperiment(results, dir));
          if (interrupt.signal.aborted) process.exitCode = INTERRUPTED_EXIT_CODE;
          else if (!results.verdict.ok) process.exitCode = 1;
        } finally {
          progress.done();
          interrupt.dispose();
        }
      },
    );

  program
    .command('report')
    .description(
      "re-render an experiment's report.html, summary.md and plots from its results.json",
    )
    .argument('<dir>', 'results directory')
    .action(async (dir: string) => {
      const r = await renderReportFromDir(dir);
      process.stdout.write(
        `report: ${join(resolve(dir), HTML_FILE)} (${r.plots.length} plot(s)); summary: ${join(resolve(dir), MARKDOWN_FILE)}\n`,
      );
    });

  const bench = program.command('bench').description('benchmarks (see bench/)');
  bench
    .command('swap')
    .description(
      'swap latency per method (reference, iptables, nftables programs and agent) at 1..100k flows',
    )
    .option('--flows <list>', 'installed flow counts', '1,1000,10000,100000')
    .option('--samples <n>', 'samples per fast-path measurement', positiveInt, 1000)
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark lab', 'fmb-')
    .option(
      '--json',
      'print rows as JSON: {method, flows, samples, p50_ms, p99_ms, ratio_p50_vs_reference}',
    )
    .action(async (o: { flows: string; samples: number; prefix: string; json?: boolean }) => {
      const flows = o.flows.split(',').map((x) => positiveInt(x.trim()));
      const progress = new Progress(process.stderr, !o.json);
      const { benchSwap, renderSwapBench } = await import('../../bench/swap.js');
      const r = await benchSwap({
        flows,
        samples: o.samples,
        prefix: o.prefix,
        stateDir: program.opts<Globals>().stateDir,
        onProgress: (text) => progress.update(text),
      });
      progress.done();
      print(o.json, o.json ? { rows: r.rows, load: r.load, bulk: r.bulk } : r, renderSwapBench(r));
    });

  bench
    .command('datapath')
    .description(
      'iperf3 TCP/UDP throughput and ping RTT through the translator, per engine, at 1 and 100k flows, and without NAT',
    )
    .option('--flows <list>', 'installed flow counts', '1,100000')
    .option('--seconds <s>', 'iperf3 run time per measurement', positiveInt, 3)
    .option('-p, --prefix <prefix>', 'namespace prefix of the benchmark lab', 'fmd-')
    .option('--json', 'print rows as JSON')
    .action(async (o: { flows: string; seconds: number; prefix: string; json?: boolean }) => {
      const flows = o.flows.split(',').map((x) => positiveInt(x.trim()));
      const progress = new Progress(process.stderr, !o.json);
      const { benchDatapath, renderDatapath } = await import('../../bench/datapath.js');
      const rows = await benchDatapath({
        flows,
        seconds: o.seconds,
        prefix: o.prefix,
        stateDir: program.opts<Globals>().stateDir,
        onProgress: (text) => progress.update(text),
      });
      progress.done();
      print(o.json, rows, renderDatapath(rows));
    });

  return program;
}

const INTERRUPT_NOTICE =
  'interrupted: stopping the traffic, keeping what was measured, tearing the lab down';

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof FlowmigError) {
      process.stderr.write(`flowmig: ${error.message}\n`);
      return error instanceof InputError ? 2 : error.exitCode;
    }
    process.stderr.write(
      `flowmig: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 70;
  }
}
