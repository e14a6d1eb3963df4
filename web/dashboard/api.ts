// The page's requests to the daemon: one `POST /api` each with the bearer token, and the line that
// tells the user how it went, in the daemon's own words.
import type { LoadInfo } from '../../src/daemon-api/live.js';

export type Answer =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string; readonly code: string | undefined };

/** The requests the controls send (src/daemon-api/protocol.ts, plus load and unload). */
export type PageRequest =
  | { verb: 'swap'; flow?: string }
  | { verb: 'migrate'; flow: string; node: string }
  | { verb: 'evacuate'; from: string; to: string }
  | { verb: 'load'; kind: 'ping' | 'udp'; from?: string; flow?: string }
  | { verb: 'unload'; load: number };

/** Sends one request; never throws (a network failure is an answer with an error too). */
export async function post(token: string, request: PageRequest): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch('/api', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
      cache: 'no-store',
    });
  } catch (err) {
    return { ok: false, error: `the daemon did not answer: ${String(err)}`, code: 'network' };
  }
  let reply: unknown;
  try {
    reply = await res.json();
  } catch {
    return { ok: false, error: `HTTP ${res.status} without a JSON reply`, code: undefined };
  }
  const r = reply as { ok?: unknown; result?: unknown; error?: unknown; code?: unknown };
  if (r.ok === true) return { ok: true, result: r.result };
  return {
    ok: false,
    error: typeof r.error === 'string' ? r.error : `HTTP ${res.status}`,
    code: typeof r.code === 'string' ? r.code : undefined,
  };
}

interface Moved {
  flow?: string;
  from?: string;
  to?: string;
  changed?: boolean;
  totalMs?: number;
  /** A cluster lab's answer: the flows that moved, the etcd revision, commit and apply times. */
  moves?: { flow: string; from: string; to: string }[];
  revision?: number;
  commitMs?: number;
  appliedMs?: number;
  moved?: unknown;
}

/** One line saying what an accepted request did. */
export function describe(request: PageRequest, result: unknown): string {
  const r = (result ?? {}) as Moved;
  const took = typeof r.totalMs === 'number' ? ` in ${r.totalMs.toFixed(2)} ms` : '';
  switch (request.verb) {
    case 'swap':
    case 'migrate':
      if (Array.isArray(r.moves)) {
        const m = r.moves[0];
        if (r.changed === false || !m) return 'nothing moved: the flow was there already';
        const times =
          typeof r.commitMs === 'number' && typeof r.appliedMs === 'number'
            ? `: revision ${r.revision ?? '?'} committed in ${r.commitMs.toFixed(1)} ms, applied by every host ${r.appliedMs.toFixed(1)} ms later`
            : '';
        return `${m.flow} moved ${m.from} → ${m.to}${times}`;
      }
      return r.changed === false
        ? `${r.flow ?? 'the flow'} was already at ${r.to ?? '?'}`
        : `${r.flow ?? 'the flow'} moved ${r.from ?? '?'} → ${r.to ?? '?'}${took}`;
    case 'evacuate': {
      const n = Array.isArray(r.moves)
        ? r.moves.length
        : Array.isArray(r.moved)
          ? r.moved.length
          : Number(r.moved ?? 0);
      return `evacuated ${request.from} → ${request.to}: ${n} flow${n === 1 ? '' : 's'} moved${took}`;
    }
    case 'load':
    case 'unload': {
      const l = result as Partial<LoadInfo>;
      const what = `${l.kind ?? request.verb} load ${l.id ?? '?'} from ${l.from ?? '?'} to ${l.flow ?? '?'}`;
      return request.verb === 'load' ? `${what} started` : `${what} stopped`;
    }
  }
}
