// The daemon process: `node main.js --flowmig-daemon LAB --state-dir DIR` (started by
// `flowmig up --detach`, `flowmig daemon --detach`, or a prompt left up with --keep). Its output
// goes to the daemon log next to the lab's state file.
import { parseArgs } from 'node:util';
import { stateDirFrom } from '../state/store.js';
import { serveLab } from './serve.js';

const { values } = parseArgs({
  options: {
    'flowmig-daemon': { type: 'string' },
    'state-dir': { type: 'string' },
    http: { type: 'string' },
    listen: { type: 'string' },
  },
});
const id = values['flowmig-daemon'];
if (id === undefined) {
  process.stderr.write('usage: main.js --flowmig-daemon LAB [--state-dir DIR]\n');
  process.exit(2);
}
const httpPort = values.http === undefined ? undefined : Number(values.http);
if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort >= 0 && httpPort < 65_536)) {
  process.stderr.write(`flowmig daemon: bad --http port '${values.http}'\n`);
  process.exit(2);
}
serveLab(id, stateDirFrom(values['state-dir']), {
  ...(httpPort === undefined ? {} : { httpPort }),
  ...(values.listen === undefined ? {} : { listen: values.listen }),
}).catch((error: unknown) => {
  process.stderr.write(`flowmig daemon: ${(error as Error).message}\n`);
  process.exit(1);
});
