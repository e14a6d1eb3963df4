// The host daemon process: `node main.js --flowmig-hostd LAB --host HOST --state-dir DIR`, run in
// the host's translator namespace (`ip netns exec`) by `flowmig up` of a cluster lab. Its output
// goes to the host's log next to the lab's state file.
import { parseArgs } from 'node:util';
import { HOSTD_MARKER } from '../hostd-api/protocol.js';
import { stateDirFrom } from '../state/store.js';
import { serveHost } from './serve.js';

const { values } = parseArgs({
  options: {
    [HOSTD_MARKER.slice(2)]: { type: 'string' },
    host: { type: 'string' },
    'state-dir': { type: 'string' },
  },
});
const lab = values[HOSTD_MARKER.slice(2)];
const host = values.host;
if (typeof lab !== 'string' || typeof host !== 'string') {
  process.stderr.write(`usage: main.js ${HOSTD_MARKER} LAB --host HOST [--state-dir DIR]\n`);
  process.exit(2);
}
serveHost(lab, host, stateDirFrom(values['state-dir'])).catch((error: unknown) => {
  process.stderr.write(`flowmig host daemon: ${(error as Error).message}\n`);
  process.exit(1);
});
