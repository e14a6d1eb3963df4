// Engine lookup by name.
import type { EngineName } from '../lab/schema.js';
import type { Engine } from './engine.js';
import { iptablesEngine } from './iptables.js';

const ENGINES: Readonly<Record<EngineName, Engine>> = { iptables: iptablesEngine };

export function engineFor(name: EngineName): Engine {
  return ENGINES[name];
}
