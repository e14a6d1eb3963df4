// Finds and loads flowmig's native addons (native/*.c, built by node-gyp into build/Release);
// says why one is unavailable instead of throwing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LoadResult<T> =
  | { readonly ok: true; readonly addon: T }
  | { readonly ok: false; readonly reason: string };

/** `override` when set (an environment variable's value), else build/Release/<file> in the package. */
export function addonPathFor(file: string, override: string | undefined): string {
  if (override !== undefined && override !== '') return resolve(override);
  // This file runs as dist/src/native/addon.js: the package root is three levels up.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return join(root, 'build', 'Release', file);
}

/** Loads the addon at `path` and checks it has every function in `functions`; never throws. */
export function loadAddonAt<T>(path: string, functions: readonly string[]): LoadResult<T> {
  if (!existsSync(path)) return { ok: false, reason: `${path} is missing` };
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    return { ok: false, reason: `${path} does not load: ${first}` };
  }
  const missing = functions.filter(
    (f) => typeof (loaded as Record<string, unknown> | null)?.[f] !== 'function',
  );
  if (missing.length > 0) {
    return { ok: false, reason: `${path} is out of date (no ${missing.join(', ')})` };
  }
  return { ok: true, addon: loaded as T };
}
