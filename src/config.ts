// Every environment variable flowmig reads, read here and only here, each with its one default
// (docs/environment.md lists them). Read at call time, so a test may set one before a call.

/** Where lab state lives unless `--state-dir` says otherwise. */
export const DEFAULT_STATE_DIR = '/run/flowmig';

export interface Environment {
  /** FLOWMIG_STATE_DIR: the state directory (default /run/flowmig). */
  readonly stateDir: string;
  /**
   * FLOWMIG_IN_PROCESS: `off` makes controllers apply migrations through the agent process (or
   * programs) instead of over netlink from their own process; anything else leaves it on.
   */
  readonly inProcess: boolean;
  /** FLOWMIG_AGENT: `off` starts no translator agent (migrations then run nft and conntrack). */
  readonly agent: boolean;
  /**
   * FLOWMIG_NETLINK: `event-loop` leaves the netlink addon unloaded and talks netlink through
   * Node's event loop instead (the slower path, kept working and tested).
   */
  readonly netlinkOnEventLoop: boolean;
  /** FLOWMIG_NETLINK_ADDON: a path to the netlink addon instead of the built one. */
  readonly netlinkAddon: string | undefined;
  /** FLOWMIG_TCP_REPAIR_ADDON: a path to the TCP repair addon instead of the built one. */
  readonly tcpRepairAddon: string | undefined;
}

/** The environment as flowmig reads it now. */
export function environment(env: NodeJS.ProcessEnv = process.env): Environment {
  return {
    stateDir: nonEmpty(env.FLOWMIG_STATE_DIR) ?? DEFAULT_STATE_DIR,
    inProcess: env.FLOWMIG_IN_PROCESS !== 'off',
    agent: env.FLOWMIG_AGENT !== 'off',
    netlinkOnEventLoop: env.FLOWMIG_NETLINK === 'event-loop',
    netlinkAddon: nonEmpty(env.FLOWMIG_NETLINK_ADDON),
    tcpRepairAddon: nonEmpty(env.FLOWMIG_TCP_REPAIR_ADDON),
  };
}

/** The variables, for `--help` texts and docs: name, default, meaning. */
export const ENVIRONMENT_VARIABLES: readonly (readonly [string, string, string])[] = [
  ['FLOWMIG_STATE_DIR', DEFAULT_STATE_DIR, 'where lab state, sockets and logs live'],
  ['FLOWMIG_IN_PROCESS', 'on', 'off: migrations go through the agent process, not this one'],
  ['FLOWMIG_AGENT', 'on', 'off: no translator agent; migrations run nft and conntrack'],
  ['FLOWMIG_NETLINK', 'addon', 'event-loop: netlink without the native addon (slower)'],
  ['FLOWMIG_NETLINK_ADDON', '(built)', 'path of the netlink addon to load'],
  ['FLOWMIG_TCP_REPAIR_ADDON', '(built)', 'path of the TCP repair addon to load'],
];

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
