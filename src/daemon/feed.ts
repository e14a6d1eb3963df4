// The live feed's connections: each `GET /events` response is a server-sent event stream that
// gets the snapshot first and every event after it. A page that stops reading is cut off once its
// backlog passes MAX_BACKLOG, so a stalled browser costs the daemon bounded memory.
import type { ServerResponse } from 'node:http';
import type { LiveEvent } from '../daemon-api/live.js';

/** Bytes a stream may have waiting to be sent before it is closed (the page reconnects). */
export const MAX_BACKLOG = 4 * 1024 * 1024;
/** A comment line this often keeps proxies and the page's reader from timing out. */
const KEEPALIVE_MS = 15_000;

/** One event in the text/event-stream format (JSON has no raw newlines: one data line). */
export function sseFrame(event: LiveEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export class Feed {
  private readonly streams = new Set<ServerResponse>();
  private readonly keepalive: NodeJS.Timeout;

  /** `watched(n)`: told when the number of open streams changes (sampling runs only while > 0). */
  constructor(private readonly watched: (streams: number) => void) {
    this.keepalive = setInterval(() => {
      for (const s of this.streams) s.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  get size(): number {
    return this.streams.size;
  }

  /** Takes over `res` as an event stream that starts with `first` (the snapshot). */
  open(res: ServerResponse, first: LiveEvent): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(sseFrame(first));
    this.streams.add(res);
    const gone = () => {
      if (this.streams.delete(res)) this.watched(this.streams.size);
    };
    res.on('close', gone);
    res.on('error', gone);
    this.watched(this.streams.size);
  }

  send(event: LiveEvent): void {
    if (this.streams.size === 0) return;
    const frame = sseFrame(event);
    for (const s of this.streams) {
      if (s.writableLength > MAX_BACKLOG) {
        s.destroy();
        continue;
      }
      s.write(frame);
    }
  }

  close(): void {
    clearInterval(this.keepalive);
    for (const s of this.streams) s.end();
    this.streams.clear();
  }
}
