// The live feed: reads `GET /events` (server-sent events) with fetch() and a streaming body, since
// EventSource cannot send the Authorization header; parses its events and reconnects when the
// stream ends, breaks or falls silent. A 401 stops it: a wrong token does not get better by retrying.
import type { LiveEvent } from '../../src/daemon-api/live.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'unauthorized';

export interface FeedHandlers {
  event(e: LiveEvent): void;
  state(s: ConnectionState, detail?: string): void;
}

/**
 * Rates come every 100 ms, status every second and a keep-alive comment every 15 s: this long
 * without a byte means the connection is gone without a close (a daemon killed hard, a suspended
 * laptop), so it is dropped and re-made.
 */
const SILENCE_MS = 20_000;
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 5_000;

/** Splits a server-sent event stream into events (the parts of the SSE format the daemon uses). */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  /** Takes the next piece of the stream; returns the events it completed. */
  push(text: string): { event: string; data: string }[] {
    this.buffer += text;
    const out: { event: string; data: string }[] = [];
    // Lines are cut by position and the rest kept once: a large snapshot is not copied per line.
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.buffer.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        // A blank line ends an event; one without data (a bare `event:`) is dropped, as browsers do.
        if (this.data.length > 0) out.push({ event: this.event, data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // a comment: the daemon's keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }
}

/** The event a parsed SSE message carries; undefined for one that is not an object. */
function toEvent(m: { event: string; data: string }): LiveEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(m.data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type ?? m.event;
  return { ...(value as object), type } as LiveEvent;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Opens the feed and keeps it open until close(); events and state changes go to `on`. */
export function openFeed(token: string, on: FeedHandlers): { close(): void } {
  let closed = false;
  let current: AbortController | undefined;
  const run = async () => {
    let retry = FIRST_RETRY_MS;
    on.state('connecting');
    while (!closed) {
      const abort = new AbortController();
      current = abort;
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const quiet = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => abort.abort(), SILENCE_MS);
      };
      let reason = 'the stream ended';
      try {
        quiet();
        const res = await fetch('/events', {
          headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
          cache: 'no-store',
          signal: abort.signal,
        });
        if (res.status === 401) {
          clearTimeout(watchdog);
          on.state('unauthorized', 'the daemon refused the token (401)');
          return;
        }
        if (!res.ok || res.body === null) throw new Error(`GET /events answered ${res.status}`);
        on.state('connected');
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          quiet();
          // A connection that delivered data was a good one: the next break retries quickly again.
          retry = FIRST_RETRY_MS;
          for (const m of parser.push(value)) {
            const e = toEvent(m);
            if (e === undefined) continue;
            // A panel that fails on one event must not drop the connection (and reconnect, and
            // fail again on the snapshot): it says so on the console and the feed goes on.
            try {
              on.event(e);
            } catch (err) {
              console.error(`dashboard: the ${e.type} event failed:`, err);
            }
          }
        }
      } catch (err) {
        reason = abort.signal.aborted && !closed ? 'no data for 20 s' : String(err);
      } finally {
        clearTimeout(watchdog);
      }
      if (closed) return;
      on.state('reconnecting', reason);
      await sleep(retry);
      retry = Math.min(retry * 2, LAST_RETRY_MS);
    }
  };
  void run();
  return {
    close() {
      closed = true;
      current?.abort();
    },
  };
}
