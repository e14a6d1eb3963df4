// The dashboard page's files (built into dist/web/dashboard by scripts/bundle-web.mjs), read once
// when the listener starts and served from memory by name: a request can name only these files.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the build puts the page (this module runs from dist/src/daemon). */
export const PAGE_DIR = fileURLToPath(new URL('../../web/dashboard/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export interface PageFile {
  readonly type: string;
  readonly body: Buffer;
}

/** The page's files by name, or why there is no page (not built). */
export type Page = ReadonlyMap<string, PageFile> | { readonly missing: string };

/** A file name the page may be asked for: one path segment, no dot files, no encodings. */
export function pageName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && !name.includes('..');
}

export async function loadPage(dir: string): Promise<Page> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { missing: `the dashboard page is not built (${dir}); run 'npm run build'` };
  }
  const files = new Map<string, PageFile>();
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type || !pageName(name)) continue;
    files.set(name, { type, body: await readFile(join(dir, name)) });
  }
  if (!files.has('index.html')) return { missing: `no index.html in ${dir}; run 'npm run build'` };
  return files;
}
