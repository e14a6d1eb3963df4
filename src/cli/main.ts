// The flowmig command line: the program and its global flags, one module per command
// (./commands/), and how a failure becomes one line on stderr and an exit code.
//
// Start-up time is part of every command: the modules loaded before a command's action are only
// commander and small ones (the routing, the parsers, the renderers); a command imports what it
// works with (the controller, the lab schema, experiments, reports, benchmarks) inside its action.
import { Command, CommanderError } from 'commander';
import { FlowmigError, InputError } from '../errors.js';
import { VERSION } from '../version.js';
import * as bench from './commands/bench.js';
import * as daemon from './commands/daemon.js';
import * as dashboard from './commands/dashboard.js';
import * as demo from './commands/demo.js';
import * as down from './commands/down.js';
import * as evacuate from './commands/evacuate.js';
import * as experiment from './commands/experiment.js';
import * as flows from './commands/flows.js';
import * as migrate from './commands/migrate.js';
import * as reconcile from './commands/reconcile.js';
import * as report from './commands/report.js';
import * as serve from './commands/serve.js';
import * as status from './commands/status.js';
import * as swap from './commands/swap.js';
import * as up from './commands/up.js';
import { type Globals, Route } from './route.js';

export { VERSION };

/** In the order `--help` lists them. */
const COMMANDS: readonly { register(program: Command, route: Route): void }[] = [
  up,
  down,
  swap,
  migrate,
  serve,
  evacuate,
  status,
  flows,
  reconcile,
  daemon,
  dashboard,
  demo,
  experiment,
  report,
  bench,
];

export function buildProgram(): Command {
  const program = new Command('flowmig')
    .description(
      'Migrate network flows between Linux network namespaces behind abstract IPv6 addresses',
    )
    .version(VERSION)
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
  const route = new Route(() => program.opts<Globals>());
  for (const command of COMMANDS) command.register(program, route);
  return program;
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
