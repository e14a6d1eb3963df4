#!/usr/bin/env node
// flowmig command entry point: runs the compiled CLI (`npm run setup` builds it), from its one-file
// bundle when that was made after the last compile (it starts faster: scripts/bundle-cli.mjs),
// else from the compiled modules. `--version` alone is answered before anything else loads.
import { readFileSync, statSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const cli = new URL('../dist/src/cli/', import.meta.url);
  const mtime = (file) => statSync(new URL(file, cli), { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const bundle = mtime('main.bundle.js');
  const entry = bundle >= 0 && bundle >= mtime('main.js') ? 'main.bundle.js' : 'main.js';
  const { main } = await import(new URL(entry, cli).href);
  process.exitCode = await main(args);
}
