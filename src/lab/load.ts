// Reads a lab description file (YAML or JSON; JSON is YAML) and resolves it.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { InputError } from '../errors.js';
import { REFERENCE_LAB } from './default.js';
import type { Lab } from './model.js';
import { type ResolveOptions, resolveLab } from './resolve.js';

/** Loads `path`, or the reference lab when `path` is undefined. */
export async function loadLab(
  path: string | undefined,
  options: Omit<ResolveOptions, 'source'> = {},
): Promise<Lab> {
  if (path === undefined) return resolveLab(REFERENCE_LAB, { ...options, source: 'default lab' });
  return resolveLab(await readDescription(path), { ...options, source: `lab file ${path}` });
}

/** The parsed content of a lab file (single-host or cluster), unchecked. */
export async function readDescription(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InputError(`lab file ${path}`, [`cannot read it (${code})`]);
  }
  try {
    return parse(text);
  } catch (error) {
    const first = String((error as Error).message).split('\n')[0];
    throw new InputError(`lab file ${path}`, [`not valid YAML/JSON: ${first}`]);
  }
}
