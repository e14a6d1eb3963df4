// The cluster flow table's own failures: a migration that lost a race, a flow that is not there,
// hosts that did not apply a revision in time.
import { FlowmigError } from '../errors.js';

export interface Conflict {
  readonly address: string;
  /** The mod revision the migration was based on. */
  readonly expected: number;
  /** The flow's mod revision when the txn ran (0: deleted meanwhile). */
  readonly actual: number;
}

/**
 * A compare-and-swap migration found the flow changed since it was read: another migration (or
 * a load) wrote it first. Nothing of this txn was written; read again and decide again.
 */
export class ConflictError extends FlowmigError {
  constructor(
    readonly conflicts: readonly Conflict[],
    /** What migrateMany committed before this chunk (empty for a single migration). */
    readonly committed: readonly { address: string; revision: number }[] = [],
  ) {
    const first = conflicts
      .slice(0, 5)
      .map(
        (c) =>
          `${c.address} (based on mod revision ${c.expected}, ${c.actual === 0 ? 'deleted' : `now ${c.actual}`})`,
      )
      .join(', ');
    const more = conflicts.length > 5 ? ` and ${conflicts.length - 5} more` : '';
    const done =
      committed.length > 0 ? `; ${committed.length} migrations before them committed` : '';
    super(`flow ${first}${more} changed under this migration${done}`);
    this.name = 'ConflictError';
  }
}

/** Flows named by a migration that the cluster's table does not hold (or holds unreadable). */
export class UnknownFlowError extends FlowmigError {
  constructor(readonly problems: readonly string[]) {
    const shown = problems.slice(0, 10).join('; ');
    super(problems.length > 10 ? `${shown}; and ${problems.length - 10} more` : shown, {
      exitCode: 2,
    });
    this.name = 'UnknownFlowError';
  }
}

export interface Lag {
  readonly host: string;
  /** The revision it applied last (undefined: it never wrote one). */
  readonly applied: number | undefined;
}

/** Hosts that had not applied a revision when the wait ended. */
export class LagError extends FlowmigError {
  constructor(
    readonly revision: number,
    readonly lagging: readonly Lag[],
    timeoutMs: number,
  ) {
    const named = lagging
      .map((l) => `${l.host} (${l.applied === undefined ? 'applied none' : `at ${l.applied}`})`)
      .join(', ');
    super(`revision ${revision} not applied within ${timeoutMs} ms by ${named}`);
    this.name = 'LagError';
  }
}
