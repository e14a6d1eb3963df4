// The agent's local protocol: one JSON object per line over a Unix socket, requests carry an id.
import { StringDecoder } from 'node:string_decoder';
import type { MapEdit } from '../engines/engine.js';
import type { ApplyResult, ConntrackTarget } from './agent.js';

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
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Splits a stream into lines, calling `onLine` for each complete one. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let rest = '';
  // A UTF-8 character may be split across chunks: the decoder keeps the partial bytes.
  const decoder = new StringDecoder('utf8');
  return (chunk) => {
    rest += decoder.write(chunk);
    let i = rest.indexOf('\n');
    while (i >= 0) {
      const line = rest.slice(0, i);
      rest = rest.slice(i + 1);
      if (line.trim() !== '') onLine(line);
      i = rest.indexOf('\n');
    }
  };
}
