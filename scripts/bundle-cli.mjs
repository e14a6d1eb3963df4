#!/usr/bin/env node
// Bundles the modules every flowmig command loads before its action (dist/src/cli/main.js and
// what it imports statically, commander included) into one file, dist/src/cli/main.bundle.js:
// Node 20 loads one module much faster than forty. What a command imports inside its action
// stays in dist/src and loads from there. bin/flowmig.js takes the bundle only when it was made
// after the last compile (`npm run build` makes both), else the compiled modules.
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli');
const outfile = join(cli, 'main.bundle.js');

/**
 * Modules the bundle must share with the modules a command loads later, rather than hold a copy
 * of: errors.js, whose classes main() tells apart with instanceof whichever module threw.
 */
const SHARED = new Set([join(root, 'dist', 'src', 'errors.js')]);

/** Lazy imports and shared modules stay outside, at their path from the bundle. */
const outside = {
  name: 'lazy-and-shared-outside',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (args.kind !== 'dynamic-import' && !SHARED.has(target)) return undefined;
      const path = relative(cli, target);
      return { path: path.startsWith('.') ? path : `./${path}`, external: true };
    });
  },
};

// esbuild is a development dependency: without it the CLI runs from the compiled modules.
const esbuild = await import('esbuild').catch(() => undefined);
if (!esbuild) {
  process.stderr.write('bundle-cli: esbuild is not installed; the CLI runs unbundled\n');
  process.exit(0);
}

await esbuild.build({
  entryPoints: [join(cli, 'main.js')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [outside],
  // commander is CommonJS: its require() of Node's modules needs a require in an ES module.
  banner: {
    js: "import { createRequire as __flowmigRequire } from 'node:module'; const require = __flowmigRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
