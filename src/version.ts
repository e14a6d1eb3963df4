// flowmig's version, as `--version`, the daemon's build info metric and the dashboard show it.
export const VERSION = '0.1.0';
