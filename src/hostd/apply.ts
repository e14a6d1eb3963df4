// Where a host daemon's plans reach the kernel: NAT changes over netlink from this process (the
// in-process agent, as a single-host lab's controller migrates), or by the programs when the
// engine has no netlink path or it failed; routes by one `ip -batch` per plan.

import { InProcessAgents } from '../control/in-process.js';
import { netlinkChange } from '../control/netlink-request.js';
import type { StepRecord } from '../exec/execute.js';
import { execute } from '../exec/execute.js';
import type { Runner } from '../exec/runner.js';
import type { Op } from '../plan/ops.js';
import type { RouteEdit } from './plan.js';
import { parseRoutes, ROUTE_PROTO, routeBatch } from './routes.js';
import type { HostView } from './view.js';

export interface Applied {
  readonly path: 'in-process' | 'programs' | 'none';
  /** Conntrack entries deleted (the flows' own). */
  readonly deleted: number;
  readonly ruleMs?: number;
  readonly conntrackMs?: number;
  /** Why the in-process path was not used, when it was tried. */
  readonly note?: string;
}

export class HostApplier {
  private readonly local = new InProcessAgents();

  constructor(
    private readonly view: HostView,
    private readonly runner: Runner,
  ) {}

  /** Applies planned NAT ops: one netlink request when they allow it, else the programs. */
  async apply(ops: readonly Op[]): Promise<Applied> {
    if (ops.length === 0) return { path: 'none', deleted: 0 };
    const change = netlinkChange(this.view.engine, ops);
    let note: string | undefined;
    if (change) {
      const why = this.local.unavailable();
      if (why) note = why;
      else {
        try {
          const agent = await this.local.get(this.view.lab, this.view.netns);
          const r = await agent.apply(change.request);
          return {
            path: 'in-process',
            deleted: r.deleted,
            ruleMs: r.ruleMs,
            conntrackMs: r.conntrackMs,
          };
        } catch (error) {
          // A failed batch leaves the kernel as it was (one transaction): the programs go next.
          this.local.drop(this.view.lab);
          note = `in-process path failed (${(error as Error).message})`;
        }
      }
    }
    const steps: StepRecord[] = await execute(this.runner, ops);
    const deleted = steps.reduce((n, s) => n + (s.deleted ?? 0), 0);
    return { path: 'programs', deleted, ...(note ? { note } : {}) };
  }

  /** Replaces and deletes routes of abstract addresses, in one `ip -batch`. */
  async routes(edits: readonly RouteEdit[]): Promise<void> {
    if (edits.length === 0) return;
    // -force: a delete of a route already gone does not stop the batch; other errors are thrown.
    const r = await this.runner.run(['ip', '-6', '-force', '-batch', '-'], {
      netns: this.view.netns,
      stdin: routeBatch(edits, this.view.self.fabricIf),
      okExitCodes: [0, 1],
    });
    const errors = r.stderr
      .split('\n')
      .filter((l) => l.trim() && !/No such process|Command failed -:\d+/.test(l));
    if (r.exitCode !== 0 && errors.length > 0)
      throw new Error(
        `route changes failed in ${this.view.netns}: ${errors.slice(0, 3).join('; ')}`,
      );
  }

  /** The routes this host's daemons wrote (by their protocol number). */
  async readRoutes(): Promise<Map<string, string>> {
    const r = await this.runner.run(['ip', '-6', '-j', 'route', 'show', 'proto', ROUTE_PROTO], {
      netns: this.view.netns,
    });
    return parseRoutes(r.stdout);
  }

  close(): void {
    this.local.closeAll();
  }
}
