// The agent's local protocol: one JSON object per line over a Unix socket (rpc/), requests carry
// an id.
import type { MapEdit } from '../engines/engine.js';
import type { ApplyResult, ConntrackTarget } from './agent.js';

/** Longest request line accepted (an apply for every flow of a large lab fits many times over). */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

export type AgentRequest =
  | { readonly id: number; readonly op: 'hello' }
  | {
      readonly id: number;
      readonly op: 'apply';
      readonly table: string;
      readonly edits: readonly MapEdit[];
      readonly conntrack: readonly ConntrackTarget[];
      readonly after?: readonly MapEdit[];
    }
  /** Start holding packets (the queue is bound first), then commit the edits (the hold set). */
  | {
      readonly id: number;
      readonly op: 'hold';
      readonly table: string;
      readonly edits: readonly MapEdit[];
    }
  /** Commit the edits (out of the hold set), then let every held packet go on. */
  | {
      readonly id: number;
      readonly op: 'release';
      readonly table: string;
      readonly edits: readonly MapEdit[];
    }
  /** Stop indexing conntrack until the next migration (another path migrates meanwhile). */
  | { readonly id: number; readonly op: 'standby' }
  | { readonly id: number; readonly op: 'shutdown' };

export interface HoldResult {
  readonly holdMs: number;
}

export interface ReleaseResult {
  readonly releaseMs: number;
  /** Packets that were held and went on. */
  readonly released: number;
}

export interface HelloReply {
  readonly pid: number;
  readonly lab: string;
  readonly entries: number;
  readonly dirty: boolean;
  readonly events: number;
  /** Whether the agent follows conntrack events now (it starts on its first migration). */
  readonly indexing: boolean;
  /** How the agent's netlink calls reach the kernel (see NetfilterSocket). */
  readonly netlink: 'native' | 'event-loop';
}

export type AgentReply =
  | ({ readonly id: number; readonly ok: true } & Partial<
      HelloReply & ApplyResult & HoldResult & ReleaseResult
    >)
  /** `id` is null when the request could not be read (not JSON, too long). */
  | { readonly id: number | null; readonly ok: false; readonly error: string };
