#!/usr/bin/env node
// Builds the native addons (binding.gyp → build/Release/flowmig_tcp_repair.node and
// flowmig_netlink.node) with npm's own node-gyp. Never fails the install: without a compiler
// flowmig still works (live TCP migration is unavailable and the translator's netlink calls go
// through the event loop), so a failed build prints one warning line and exits 0.
// Plain Node.js with no dependencies (it runs as npm's install script).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NPM_NODE_GYP = join('node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');

function warn(reason) {
  process.stderr.write(
    `flowmig: the native addons were not built (${reason}): live TCP migration is unavailable (reset and drain still work) and the translator agent uses its slower netlink path\n`,
  );
  process.exit(0);
}

function onPath(program) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

/** The argv prefix that runs node-gyp: npm's (lifecycle scripts get it), else the one npm bundles. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) {
    return fromNpm.endsWith('.js') ? [process.execPath, fromNpm] : [fromNpm];
  }
  const candidates = [join(dirname(process.execPath), '..', 'lib', NPM_NODE_GYP)];
  const npm = onPath('npm');
  if (npm) candidates.push(join(dirname(realpathSync(npm)), '..', '..', NPM_NODE_GYP));
  const found = candidates.find((c) => existsSync(c));
  if (found) return [process.execPath, found];
  const onThePath = onPath('node-gyp');
  return onThePath ? [onThePath] : undefined;
}

const gyp = nodeGyp();
if (!gyp) warn('node-gyp not found: it comes with npm');
const compiler = process.env.CC ?? 'cc';
if (!onPath(compiler))
  warn(`no C compiler: ${compiler} not found; on Debian: apt-get install build-essential`);

// Headers of the running Node: a distribution's Node has them in <prefix>/include/node, which
// saves node-gyp a download (npm passes its nodedir setting on as npm_config_nodedir).
const args = ['rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}

const [program, ...programArgs] = gyp;
const r = spawnSync(program, [...programArgs, ...args], { cwd: root, encoding: 'utf8' });
const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
const built = ['flowmig_tcp_repair.node', 'flowmig_netlink.node'].every((f) =>
  existsSync(join(root, 'build', 'Release', f)),
);
if (r.status === 0 && built) {
  process.exit(0);
}
const log = join(root, 'build', 'build-native.log');
try {
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, output);
} catch {}
const firstError =
  output
    .split('\n')
    .map((l) => l.trim())
    .find(
      (l) => /error/i.test(l) && !/^gyp (info|ERR! (stack|System|command|cwd|node|not ok))/.test(l),
    ) ?? (r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`);
warn(`${firstError}; full output in ${log}`);
