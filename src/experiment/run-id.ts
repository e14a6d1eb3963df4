// A run's id, stamped once before the lab is built, and the results directory named with it.
import { join, resolve } from 'node:path';

/**
 * A run's id: the time the run was started (to the second, UTC) and the lab, with `kind` between
 * them (`demo`). Taken once, before the lab is built: the default results directory has its name.
 */
export function runId(lab: string, at: Date = new Date(), kind?: string): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return [stamp, ...(kind ? [kind] : []), lab].join('-');
}

/** The results directory: `out` when given, else `./flowmig-results/<run id>`. */
export function defaultResultsDir(id: string, out?: string): string {
  return resolve(out ?? join('flowmig-results', id));
}
