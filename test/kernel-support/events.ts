// The daemon's live side as a test uses it: POST /api and GET /events with the token (every event
// kept, the snapshot first), and a poll until a condition holds.
import assert from 'node:assert/strict';
import type { LiveEvent } from '../../src/daemon-api/live.js';
import type { DaemonReply } from '../../src/daemon-api/protocol.js';

/** A caller of POST `base`api with the token: each call gives the HTTP status and the reply. */
export function apiClient(base: string, token: string) {
  return async (body: unknown): Promise<{ status: number; reply: DaemonReply }> => {
    const res = await fetch(`${base}api`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, reply: (await res.json()) as DaemonReply };
  };
}

/** Reads the server-sent event stream at `base`events with the token; keeps every event. */
export function subscribe(base: string, token: string) {
  const events: LiveEvent[] = [];
  const stop = new AbortController();
  const done = (async () => {
    const res = await fetch(`${base}events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: stop.signal,
    });
    assert.equal(res.status, 200);
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) events.push(JSON.parse(data.slice(6)) as LiveEvent);
      }
    }
  })().catch((error: unknown) => {
    if (!stop.signal.aborted) throw error;
  });
  return { events, close: () => stop.abort(), done };
}

/** Waits until `test` gives a value (polling every 20 ms) or fails with `what` after `ms`. */
export async function until<T>(
  what: string,
  ms: number,
  test: () => T | undefined | false,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = test();
    if (got !== undefined && got !== false) return got;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The feed's first event, the snapshot, once it came (fails after `ms`). */
export function firstSnapshot(feed: { readonly events: readonly LiveEvent[] }, ms: number) {
  return until('the snapshot', ms, () =>
    feed.events[0]?.type === 'snapshot' ? feed.events[0] : undefined,
  );
}
