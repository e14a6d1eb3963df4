// Engine lookup by name.
import type { EngineName } from '../lab/schema.js';
import type { Engine } from './engine.js';
import { iptablesEngine } from './iptables.js';
import { nftablesEngine } from './nftables.js';

const ENGINES: Readonly<Record<EngineName, Engine>> = {
  iptables: iptablesEngine,
  nftables: nftablesEngine,
};

export function engineFor(name: EngineName): Engine {
  return ENGINES[name];
}
