// Argument parsers for the command line: numbers, ports, lists, the engine option, and the
// experiment flags laid over an experiment file's options.
import { isIP } from 'node:net';
import { InvalidArgumentError, Option } from 'commander';
import { InputError } from '../errors.js';
import type { ExperimentOptions } from '../experiment/options.js';

/**
 * The words some options accept, spelled here so that registering the commands loads no schema
 * (the schemas' modules load zod, which alone takes about as long as starting Node);
 * test/cli/parse.test.ts checks they are the library's (ENGINE_NAMES, SERVE_MODES, TRAFFIC_KINDS).
 */
export const ENGINE_CHOICES = ['nftables', 'iptables'] as const;
export const SERVE_MODE_CHOICES = ['echo', 'stream'] as const;
export const TRAFFIC_KIND_CHOICES = ['ping', 'udp', 'ncat-udp', 'tcp'] as const;

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** `demo --hosts`: a cluster of 2 to 16 hosts (a cluster lab's limit). */
export function hostCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 16)
    throw new InvalidArgumentError('must be a number of hosts from 2 to 16');
  return n;
}

export function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError('must be a port (0-65535)');
  return n;
}

/** An IP address to listen on (a literal: a host name could resolve to anything). */
export function listenAddress(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError('must be an IP address such as 127.0.0.1');
  return value;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

/** A comma-separated list of positive integers (`--flows 1,1000`). */
export function positiveInts(list: string): number[] {
  return list.split(',').map((x) => positiveInt(x.trim()));
}

/** `serve --port`: a TCP port a server can listen on (1-65535); bad input is exit code 2. */
export function servePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw new InputError('serve', [`bad port '${value}'`]);
  return port;
}

export const engineOption = () =>
  new Option('--engine <name>', 'netfilter engine (overrides the lab file)').choices(
    ENGINE_CHOICES,
  );

/** `flowmig experiment`'s flags, as commander hands them over (strings: the schema checks them). */
export interface ExperimentFlags {
  readonly traffic?: string | undefined;
  readonly interval?: string | undefined;
  readonly size?: string | undefined;
  readonly rate?: string | undefined;
  readonly swaps?: string | undefined;
  readonly swapEvery?: string | undefined;
  readonly swapAt?: string | undefined;
  readonly flow?: string | undefined;
  readonly warmup?: string | undefined;
  readonly duration?: string | undefined;
  readonly capture?: string | undefined;
}

/**
 * The experiment's options before they are checked: `base` (the experiment file's, or the
 * defaults) with every flag given laid over it. Numbers stay as typed (`Number('x')` is NaN), so
 * parseExperiment reports a bad one with the file's problems, at once.
 */
export function experimentInput(base: ExperimentOptions, flags: ExperimentFlags): unknown {
  const num = (x: string | undefined) => (x === undefined ? undefined : Number(x));
  const pick = <T>(v: T | undefined, d: T) => (v === undefined ? d : v);
  return {
    ...base,
    traffic: flags.traffic ? flags.traffic.split(',').map((x) => x.trim()) : base.traffic,
    ping: {
      interval: pick(num(flags.interval), base.ping.interval),
      size: pick(num(flags.size), base.ping.size),
    },
    udp: { ...base.udp, rate: pick(num(flags.rate), base.udp.rate) },
    swaps: {
      ...base.swaps,
      count: pick(num(flags.swaps), base.swaps.count),
      periodMs: pick(num(flags.swapEvery), base.swaps.periodMs),
      ...(flags.swapAt ? { atMs: flags.swapAt.split(',').map((x) => Number(x)) } : {}),
      ...(flags.flow ? { flow: flags.flow } : {}),
    },
    warmupMs: pick(num(flags.warmup), base.warmupMs),
    durationMs: pick(num(flags.duration), base.durationMs),
    capture: pick(flags.capture, base.capture),
  };
}
