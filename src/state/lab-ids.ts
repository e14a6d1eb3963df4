// The labs a state directory holds, by their state files' names alone (no file is read or parsed,
// so a command can find its lab before it loads the state schema), and the one a command acts on.
import { readdir } from 'node:fs/promises';
import { FlowmigError, InputError } from '../errors.js';
import { LAB_ID } from '../lab/names.js';

/** The ids of the labs with a state file (`<id>.json`) in `dir`, sorted; none if `dir` is missing. */
export async function labIds(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter((id) => LAB_ID.test(id))
    .sort();
}

/** The lab to act on: the given id, or the only lab that is up. */
export async function pickLab(dir: string, id: string | undefined): Promise<string> {
  if (id !== undefined) return id;
  const ids = await labIds(dir);
  if (ids.length === 1 && ids[0]) return ids[0];
  if (ids.length === 0) throw new FlowmigError("no lab is up (start one with 'flowmig up')");
  throw new InputError('', [`several labs are up (${ids.join(', ')}); name one with --lab ID`]);
}
