// The dashboard's event stream read by a plain process instead of a browser: what the daemon
// serves a page costs the same, without the page's drawing on the daemon's machine.
import { FlowmigError } from '../errors.js';
import { Background } from '../experiment/process.js';
import type { PageView } from './dashboard-browser.js';

/**
 * The reader, run by `node -e`: GET /events with the token (both from its first line of input,
 * not its command line), and after each chunk one line on stdout: `<rates events> <last rate time>`.
 */
const READER = `
import { createInterface } from 'node:readline';
const lines = createInterface({ input: process.stdin });
const [events, token] = JSON.parse((await lines[Symbol.asyncIterator]().next()).value);
const res = await fetch(events, { headers: { authorization: 'Bearer ' + token } });
if (res.status !== 200) { console.log('status ' + res.status); process.exit(1); }
const decoder = new TextDecoder();
let text = '', rates = 0, last = '';
for await (const chunk of res.body) {
  text += decoder.decode(chunk, { stream: true });
  for (let end = text.indexOf('\\n\\n'); end >= 0; end = text.indexOf('\\n\\n')) {
    const frame = text.slice(0, end);
    text = text.slice(end + 2);
    if (frame.startsWith('event: rates')) {
      rates++;
      last = /"t":(\\d+)/.exec(frame)?.[1] ?? last;
    }
  }
  console.log(rates + ' ' + last);
}
`;

export const VIEWER_MARKER = '--flowmig-bench-viewer';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StreamViewer {
  private latest = '';
  private partial = '';

  private constructor(
    private readonly child: Background,
    readonly pid: number,
  ) {
    child.onStdout((text) => {
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      this.latest = lines[lines.length - 1] ?? this.latest;
    });
  }

  /**
   * Starts the reader on `base` (http://host:port/) and waits until rate samples arrive. Its
   * command line ends with VIEWER_MARKER and `lab`, so it can be told from other processes.
   */
  static async open(
    base: string,
    token: string,
    lab: string,
    timeoutMs = 15_000,
  ): Promise<StreamViewer> {
    // After `--`, node leaves the arguments to the script (else it takes the marker as its option).
    const argv = [process.execPath, '--input-type=module', '-e', READER, '--', VIEWER_MARKER, lab];
    const child = Background.start(argv, { stdin: true });
    child.write(`${JSON.stringify([`${base}events`, token])}\n`);
    const viewer = new StreamViewer(child, child.pid);
    for (const deadline = Date.now() + timeoutMs; ; await sleep(100)) {
      const v = await viewer.view();
      if (v.points > 1) return viewer;
      if (!child.running || Date.now() > deadline) {
        await viewer.close();
        throw new FlowmigError(
          `the event stream did not deliver rates${!child.running ? ` (its reader ended: ${child.stderr.trim() || 'no output'})` : ` within ${timeoutMs} ms`}: ${viewer.latest || 'nothing'}`,
        );
      }
    }
  }

  /** As a page would show it: connected while the reader runs, its rate samples and the newest. */
  async view(): Promise<PageView> {
    const [count = '0', last = ''] = this.latest.split(' ');
    return {
      connection: this.child.running ? 'connected' : 'closed',
      points: Number(count),
      last,
    };
  }

  async close(): Promise<void> {
    await this.child.stop('SIGTERM', 2_000);
  }
}
