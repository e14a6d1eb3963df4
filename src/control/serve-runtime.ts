// Adapts a serve control connection (ServeClient) to the orchestration's ServerRuntime port.
import type { ServeClient } from '../serve/client.js';
import type { ServerRuntime } from './live-tcp.js';

export function serverRuntime(c: ServeClient): ServerRuntime {
  return {
    prepare: (peerAddress, timeoutMs) => c.prepare({ peerAddress }, timeoutMs),
    prepareIds: (ids, timeoutMs) => c.prepare({ ids }, timeoutMs),
    checkpoint: (ids) => c.checkpoint(ids),
    restore: (connections, localAddress) => c.restore(connections, { localAddress }),
    resume: async (ids) => (await c.resume(ids)).failed,
    abort: async (ids) => {
      await c.abort(ids);
    },
  };
}
