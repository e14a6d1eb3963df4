#!/usr/bin/env node
// Installs what flowmig needs on a Debian machine, idempotently: Debian packages for the programs
// it runs (apt-get, only those missing), npm packages from the lockfile, then the TypeScript build.
// Plain Node.js with no dependencies, so it runs on a fresh clone before `npm ci`.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Program → Debian package. */
const PROGRAMS = {
  ip: 'iproute2',
  sysctl: 'procps',
  nft: 'nftables',
  'ip6tables-restore': 'iptables',
  conntrack: 'conntrack',
  ping: 'iputils-ping',
  tcpdump: 'tcpdump',
  ncat: 'ncat',
  iperf3: 'iperf3',
  setpriv: 'util-linux',
  // The report's browser test opens report.html in Debian's Chromium (playwright-core drives it).
  chromium: 'chromium',
  // Multi-host clusters keep their flow table in etcd 3.4 (src/etcd): the server and its client.
  etcd: 'etcd-server',
  etcdctl: 'etcd-client',
  // The daemon's GET /metrics is checked with promtool and scraped by a real Prometheus server
  // (test/daemon/metrics.test.ts, prometheus.kernel.test.ts); the package holds both. Debian
  // starts its service on :9090 when installed; the tests run their own on a free port.
  promtool: 'prometheus',
};

function say(text) {
  process.stderr.write(`setup: ${text}\n`);
}

function onPath(program) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

function run(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: options.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    cwd: root,
    env: { ...process.env, ...options.env },
  });
  if (r.status !== 0) {
    if (options.quiet) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    say(`failed: ${argv.join(' ')} (exit ${r.status ?? r.signal ?? r.error?.message})`);
    process.exit(1);
  }
}

// 1. Debian packages.
const missing = [
  ...new Set(
    Object.entries(PROGRAMS)
      .filter(([p]) => !onPath(p))
      .map(([, pkg]) => pkg),
  ),
];
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    say(`missing Debian packages ${missing.join(' ')}; run this as root to install them`);
    process.exit(1);
  }
  if (!onPath('apt-get')) {
    say(`missing Debian packages ${missing.join(' ')} and no apt-get to install them`);
    process.exit(1);
  }
  say(`installing ${missing.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run(['apt-get', 'update', '-qq'], { env, quiet: true });
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing], {
    env,
    quiet: true,
  });
}

// 2. npm packages, exactly as locked, when node_modules is missing or older than the lockfile.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing npm packages (npm ci)');
  run(['npm', 'ci', '--no-audit', '--no-fund', '--loglevel=error'], { quiet: true });
}

// 2b. The native addons, TCP repair and netlink (npm ci builds them; a checkout whose node_modules
// were already in place, or whose native sources changed since, builds them here). Its script
// never fails: without a compiler, live TCP migration is unavailable and says so.
const addons = ['flowmig_tcp_repair.node', 'flowmig_netlink.node'].map((f) =>
  join(root, 'build', 'Release', f),
);
const nativeSources = Math.max(
  newest(join(root, 'native')),
  statSync(join(root, 'binding.gyp')).mtimeMs,
);
if (addons.some((a) => !existsSync(a) || statSync(a).mtimeMs < nativeSources)) {
  say('building the native addons (node-gyp)');
  run([process.execPath, join(root, 'scripts', 'build-native.mjs')]);
}

// 3. Build when any TypeScript source is newer than the last build.
function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}
const stamp = join(root, 'dist', '.built');
const sources = Math.max(
  newest(join(root, 'src')),
  newest(join(root, 'test')),
  newest(join(root, 'web')),
  statSync(join(root, 'tsconfig.json')).mtimeMs,
);
if (!existsSync(stamp) || statSync(stamp).mtimeMs < sources) {
  say('building (tsc)');
  run([
    process.execPath,
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    'tsconfig.json',
  ]);
  // The CLI's start-up modules in one file (bin/flowmig.js uses it while it is newer than tsc's).
  run([process.execPath, join(root, 'scripts', 'bundle-cli.mjs')]);
  // The dashboard page: its browser TypeScript checked, then bundled into dist/web/dashboard.
  say('building the dashboard page');
  run([
    process.execPath,
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join('web', 'tsconfig.json'),
  ]);
  run([process.execPath, join(root, 'scripts', 'bundle-web.mjs')]);
  run(['touch', stamp]);
}
