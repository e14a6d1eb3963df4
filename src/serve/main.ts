// The serve process, run inside a server namespace: an app behind a migratable server plus its
// control socket. Prints `ready <pid>` on stdout once both listen; logs to stderr; exits on
// SIGTERM, SIGINT or a `shutdown` request.
// Usage: node main.js --address fc01::1 --port 5555 --mode echo|stream --control PATH [--node C]
//        [--send-buffer BYTES (default 262144; 0: the kernel's autotuning)]
import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { tcpRepairUnavailable } from '../tcp-repair/index.js';
import { APPS, type AppName } from './apps.js';
import { ControlServer } from './control.js';
import { MigratableServer } from './runtime.js';

const usage = (why: string): never => {
  process.stderr.write(`flowmig serve: ${why}\n`);
  process.exit(2);
};

let values: Record<string, string | undefined> = {};
try {
  ({ values } = parseArgs({
    options: {
      address: { type: 'string' },
      port: { type: 'string' },
      mode: { type: 'string' },
      control: { type: 'string' },
      node: { type: 'string' },
      // The lab id, so flowmig finds (and stops) the runtimes of a lab by their command lines.
      'flowmig-serve': { type: 'string' },
      'send-buffer': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  usage((e as Error).message.split('\n')[0] ?? 'bad arguments');
}
const address = values.address ?? usage('--address ADDRESS is required');
if (!isIPv6(address)) usage(`--address '${address}' is not an IPv6 address`);
const port = Number(values.port ?? usage('--port PORT is required'));
if (!Number.isInteger(port) || port < 1 || port > 65_535) usage(`bad port '${values.port}'`);
const mode = values.mode ?? usage(`--mode is required (${Object.keys(APPS).join('|')})`);
if (!Object.hasOwn(APPS, mode)) usage(`unknown mode '${mode}' (${Object.keys(APPS).join('|')})`);
const controlPath = values.control ?? usage('--control PATH is required');
if (controlPath === '') usage('--control PATH is empty');
const label = values.node ?? `[${address}]:${port}`;

const log = (message: string): void => {
  process.stderr.write(`${new Date().toISOString()} serve ${label}: ${message}\n`);
};

// Errors of one connection are handled where they happen; anything that still escapes is
// logged, not allowed to take every other connection down with the process.
process.on('uncaughtException', (e) => log(`unexpected error: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log(`unexpected rejection: ${String(e)}`));

const unavailable = tcpRepairUnavailable();
if (unavailable) log(`TCP repair unavailable, connections cannot migrate: ${unavailable}`);

// A bounded send buffer keeps what a connection has queued when it moves small (see
// ServerOptions.sendBufferBytes); 256 KiB is plenty for the lab's sub-millisecond round trips.
const sendBuffer = Number(values['send-buffer'] ?? 256 * 1024);
if (!Number.isInteger(sendBuffer) || sendBuffer < 0 || sendBuffer > 1 << 30)
  usage(`bad send buffer '${values['send-buffer']}'`);
const server = new MigratableServer({
  address,
  port,
  app: APPS[mode as AppName],
  log,
  ...(sendBuffer > 0 ? { sendBufferBytes: sendBuffer } : {}),
});
let control: ControlServer | undefined;
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await control?.close();
  await Promise.race([server.close(), new Promise((r) => setTimeout(r, 1_000))]);
  process.exit(0);
}

try {
  await server.listen();
  control = await ControlServer.start({
    path: controlPath,
    target: server,
    mode,
    onShutdown: () => void stop(),
    log,
  });
} catch (e) {
  process.stderr.write(`flowmig serve: ${(e as Error).message}\n`);
  process.exit(1);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
log(`listening on [${address}]:${port} (${mode}), control ${controlPath}`);
process.stdout.write(`ready ${process.pid}\n`);
