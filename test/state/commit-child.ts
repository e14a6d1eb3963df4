// Fixture for the crash test: commits to a lab's state in a loop and prints each commit's number
// once it resolved ("ready" first), until it is killed. Usage: commit-child.js DIR LAB FLOWS
import { writeSync } from 'node:fs';
import { StateStore } from '../../src/state/store.js';
import { flowAt, touchedBy } from './commit-plan.js';

const [dir, lab, count] = process.argv.slice(2);
if (!dir || !lab || !count) throw new Error('usage: commit-child.js DIR LAB FLOWS');
const flows = Number(count);
const store = new StateStore(dir);
const state = await store.read(lab);
if (!state) throw new Error(`no state for ${lab}`);
// Printed with a synchronous write: once a number is out, the parent may count on it.
writeSync(1, 'ready\n');
for (let k = state.migrations + 1; ; k++) {
  const changed = touchedBy(k, flows).map((i) => {
    const f = flowAt(i, `R${k}`);
    state.flows[i] = f;
    return f;
  });
  state.migrations = k;
  // Now and then a whole write, as the controller does for its other records.
  if (k % 50 === 0) await store.write(state);
  else await store.commit(state, { flows: changed, migrations: k });
  writeSync(1, `${k}\n`);
}
