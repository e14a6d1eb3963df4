// `flowmig up`: builds a lab, then opens the prompt (this process is the lab's daemon meanwhile),
// or with --detach leaves the lab to a daemon of its own. A cluster lab file (`hosts:`) builds a
// cluster lab, which its host daemons serve; the prompt then acts through them.
import type { Command } from 'commander';
import { startDaemon } from '../../control/daemon-process.js';
import { FlowmigError } from '../../errors.js';
import type { Lab } from '../../lab/model.js';
import type { EngineName } from '../../lab/schema.js';
import { renderClusterDown, renderClusterStatus } from '../cluster.js';
import { indent, print } from '../output.js';
import { engineOption } from '../parse.js';
import { Progress, renderStatus } from '../render.js';
import type { Route } from '../route.js';

interface UpOptions {
  readonly config?: string;
  readonly prefix?: string;
  readonly engine?: EngineName;
  readonly detach?: boolean;
  readonly keep?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

export function register(program: Command, route: Route): void {
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
    .action(async (o: UpOptions) => {
      const { loadLab, readDescription } = await import('../../lab/load.js');
      if (o.config !== undefined) {
        const raw = await readDescription(o.config);
        const { isClusterDescription } = await import('../../lab/cluster-schema.js');
        if (isClusterDescription(raw)) return upCluster(route, raw, o);
      }
      const lab = await loadLab(o.config, { prefix: o.prefix, engine: o.engine });
      if (o.dryRun) {
        await dryRun(lab, o.json);
        return;
      }
      const fm = await route.controller();
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
      const [{ hostLab }, { runPrompt }] = await Promise.all([
        import('../../daemon/host.js'),
        import('../prompt.js'),
      ]);
      const hosted = await hostLab(fm, lab.id, {
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
        await hosted.close();
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
    });
}

/** `up --dry-run`: the commands that would build the lab, recorded instead of run. */
async function dryRun(lab: Lab, json: boolean | undefined): Promise<void> {
  const [{ planUp }, { commandFor }, { engineFor }] = await Promise.all([
    import('../../plan/build.js'),
    import('../../plan/command.js'),
    import('../../engines/registry.js'),
  ]);
  await printCommands(planUp(lab, engineFor(lab.engine)).map(commandFor), json);
}

/** Commands recorded instead of run, printed one a line (their input indented under them). */
async function printCommands(
  commands: readonly { argv: readonly string[]; netns?: string; stdin?: string }[],
  json: boolean | undefined,
): Promise<void> {
  const { RecordingRunner } = await import('../../exec/recording.js');
  const recorder = new RecordingRunner();
  for (const c of commands) await recorder.run(c.argv, { netns: c.netns, stdin: c.stdin });
  print(
    json,
    recorder.calls,
    recorder.calls
      .map((c) => c.full.join(' ') + (c.stdin ? `\n${indent(c.stdin)}` : ''))
      .join('\n'),
  );
}

/** `up -c cluster.yaml`: builds the cluster lab (or prints its commands with --dry-run). */
async function upCluster(route: Route, raw: unknown, o: UpOptions): Promise<void> {
  const { resolveCluster } = await import('../../lab/cluster-resolve.js');
  const cluster = resolveCluster(raw, {
    prefix: o.prefix,
    engine: o.engine,
    source: `lab file ${o.config}`,
  });
  if (o.dryRun) {
    const [{ planClusterUp }, { commandFor }] = await Promise.all([
      import('../../plan/fabric.js'),
      import('../../plan/command.js'),
    ]);
    await printCommands(planClusterUp(cluster).map(commandFor), o.json);
    return;
  }
  const [{ upCluster: up }, { ProcessRunner }] = await Promise.all([
    import('../../control/cluster/up.js'),
    import('../../exec/runner.js'),
  ]);
  // Each op's line only on a terminal; the long steps (etcd, host daemons, flows) always.
  const progress = new Progress(process.stderr, !o.json && process.stderr.isTTY === true);
  const status = await up({ stateDir: route.stateDir, runner: new ProcessRunner() }, cluster, {
    onStep: (text, i, n) => {
      if (n > 0) progress.update(`[${i}/${n}] ${text}`);
      else {
        progress.done();
        process.stderr.write(`${text}\n`);
      }
    },
  });
  progress.done();
  if (o.detach) {
    print(
      o.json,
      status,
      `cluster lab ${cluster.id} is up (detached: its host daemons serve it); act on it with 'flowmig swap', 'flowmig status', 'flowmig down'\n\n${renderClusterStatus(status)}`,
    );
    return;
  }
  // The prompt acts through the host daemons, which serve the lab with or without it.
  const [{ runPromptWith }, { clusterActions }, { downCluster }] = await Promise.all([
    import('../prompt.js'),
    import('../cluster-prompt.js'),
    import('../../control/cluster/down.js'),
  ]);
  print(
    o.json,
    status,
    `cluster lab ${cluster.id} is up; type 'help' for commands${o.keep ? '' : ", 'quit' tears it down"}\n\n${renderClusterStatus(status)}`,
  );
  let end: string;
  try {
    end = await runPromptWith(clusterActions(route.stateDir, cluster.id), {
      input: process.stdin,
      output: process.stdout,
    });
  } finally {
    if (!o.keep) {
      const down = await downCluster(
        { stateDir: route.stateDir, runner: new ProcessRunner() },
        cluster.id,
      );
      process.stdout.write(`${renderClusterDown(down)}\n`);
    }
  }
  if (o.keep)
    process.stdout.write(
      `cluster lab ${cluster.id} left up, served by its host daemons ('flowmig down --lab ${cluster.id}' removes it)\n`,
    );
  if (end === 'interrupt') process.exitCode = 130;
}
