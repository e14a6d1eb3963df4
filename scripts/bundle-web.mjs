#!/usr/bin/env node
// Bundles the dashboard page (web/dashboard/main.ts, the modules it imports, uPlot and the CSS)
// into dist/web/dashboard/app.js and app.css, and copies index.html and favicon.svg beside them:
// the daemon serves that directory as `GET /` and `GET /assets/<file>`. Everything the page needs
// is in these four files; it fetches nothing from elsewhere.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'web', 'dashboard');
const out = join(root, 'dist', 'web', 'dashboard');

// esbuild is a development dependency; an installed package carries dist/web already built.
const esbuild = await import('esbuild').catch(() => undefined);
if (!esbuild) {
  process.stderr.write('bundle-web: esbuild is not installed; the dashboard page is not built\n');
  process.exit(0);
}

await mkdir(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(source, 'main.ts')],
  // The CSS main.ts imports lands in app.css, next to app.js.
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  logLevel: 'warning',
});
for (const f of ['index.html', 'favicon.svg']) await copyFile(join(source, f), join(out, f));
