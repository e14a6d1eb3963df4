// Which namespaces are a lab's (its mark on `lo`, or recorded and still bare), and deleting
// exactly those: for single-host and cluster labs alike.
import { CommandError } from '../errors.js';
import { execute } from '../exec/execute.js';
import type { Runner } from '../exec/runner.js';
import { ownershipMark } from '../lab/names.js';
import { planDown } from '../plan/build.js';
import { listNamespaces, namespaceLinks } from './kernel.js';

/** Every namespace whose ownership mark names lab `id` (the state file may be lost). */
export async function markedNamespaces(runner: Runner, id: string): Promise<string[]> {
  const mark = ownershipMark(id);
  const found: string[] = [];
  for (const ns of [...(await listNamespaces(runner))].sort()) {
    const links = await namespaceLinks(runner, ns).catch(() => undefined);
    if (links?.mark === mark) found.push(ns);
  }
  return found;
}

/**
 * Deletes those of `names` that are lab `id`'s: marked with its id, or recorded as created by it
 * and still bare (killed between the create and the mark). Anything else is left alone and named
 * in `skipped`. `names` in build order: they go in reverse (a cluster's fabric, built after the
 * hosts, first). A namespace gone meanwhile is no error.
 */
export async function removeOwnNamespaces(
  runner: Runner,
  id: string,
  names: readonly string[],
  recorded: ReadonlySet<string>,
): Promise<{ removed: string[]; skipped: string[] }> {
  const existing = await listNamespaces(runner);
  const mark = ownershipMark(id);
  const ours: string[] = [];
  const skipped: string[] = [];
  for (const ns of new Set(names)) {
    if (!existing.has(ns)) continue;
    const links = await namespaceLinks(runner, ns).catch(() => undefined);
    if (links === undefined) continue; // gone between the list and the look
    const bare = links.mark === undefined && links.others.length === 0;
    if (links.mark === mark || (recorded.has(ns) && bare)) ours.push(ns);
    else skipped.push(ns);
  }
  const removed: string[] = [];
  for (const op of planDown(ours)) {
    try {
      await execute(runner, [op]);
    } catch (error) {
      if (!(error instanceof CommandError && error.isNotFound)) throw error;
    }
    if (op.kind === 'netnsDelete') removed.push(op.netns);
  }
  return { removed, skipped };
}
