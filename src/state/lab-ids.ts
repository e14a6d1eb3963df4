// The labs a state directory holds, by their state files' names alone (no file is read or parsed,
// so a command can find its lab before it loads the state schema), and the one a command acts on.
import { readdir } from 'node:fs/promises';
import { FlowmigError, InputError } from '../errors.js';
import { LAB_ID } from '../lab/names.js';

/** A cluster lab's state file ends so (control/cluster/state.ts): it is no single-host lab's. */
export const CLUSTER_STATE_SUFFIX = '.cluster.json';

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Ids of the files in `names` ending in `suffix`, sorted. */
function idsOf(files: readonly string[], suffix: string): string[] {
  return files
    .filter((n) => n.endsWith(suffix))
    .map((n) => n.slice(0, -suffix.length))
    .filter((id) => LAB_ID.test(id))
    .sort();
}

/**
 * The ids of the single-host labs with a state file (`<id>.json`) in `dir`, sorted; none if `dir`
 * is missing. A cluster lab's `<id>.cluster.json` is not one (a lab id may hold dots, so that
 * file would otherwise read as lab `<id>.cluster`).
 */
export async function labIds(dir: string): Promise<string[]> {
  return idsOf(
    (await names(dir)).filter((n) => !n.endsWith(CLUSTER_STATE_SUFFIX)),
    '.json',
  );
}

/** The ids of the cluster labs with a state file (`<id>.cluster.json`) in `dir`, sorted. */
export async function clusterLabIds(dir: string): Promise<string[]> {
  return idsOf(await names(dir), CLUSTER_STATE_SUFFIX);
}

/** The lab to act on: the given id, or the only lab (single-host or cluster) that is up. */
export async function pickLab(dir: string, id: string | undefined): Promise<string> {
  if (id !== undefined) return id;
  const ids = [...(await labIds(dir)), ...(await clusterLabIds(dir))].sort();
  if (ids.length === 1 && ids[0]) return ids[0];
  if (ids.length === 0) throw new FlowmigError("no lab is up (start one with 'flowmig up')");
  throw new InputError('', [`several labs are up (${ids.join(', ')}); name one with --lab ID`]);
}
