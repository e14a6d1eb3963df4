// An etcd member described as data, and the etcd 3.4 command line that runs it (pure, no I/O).
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { canonicalAddress } from '../net/ipv6.js';

/**
 * The flag whose value marks a cluster's members: `findMarked(ETCD_MARKER)` finds every member
 * with its cluster token (the lab id), since etcd accepts no flag of flowmig's own. The token is
 * also what keeps two clusters' peers apart: a member refuses peers of another token.
 */
export const ETCD_MARKER = '--initial-cluster-token';

/**
 * Raft timing. etcd's defaults (heartbeat 100 ms, election 1,000 ms) are for members across a
 * data centre; ours sit on one machine or a lab fabric (round trips well under 1 ms), so a
 * follower that hears no heartbeat for 500 ms (randomised by etcd up to twice that) starts an
 * election: a SIGKILLed leader is replaced in about 0.5-1 s, inside the 1.2 s a client call waits
 * (src/etcd/client.ts), instead of 1-2 s. Ten heartbeats per election timeout, as etcd's tuning
 * guide asks, so a heartbeat delayed by a busy 2-core machine does not start an election.
 */
export const FAST_TIMING = { heartbeatMs: 50, electionMs: 500 } as const;

export interface MemberTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

export interface PeerSpec {
  readonly name: string;
  /** e.g. `http://[fd00:fab::1]:2380` (see `etcdUrl`). */
  readonly peerUrl: string;
}

export interface EtcdMember extends PeerSpec {
  /** Holds the member's data dir and log (startMember creates it 0700). */
  readonly dir: string;
  /** Where clients reach it, e.g. the fabric address and 127.0.0.1 inside its namespace. */
  readonly clientUrls: readonly string[];
  /** Every member of the cluster as it is first formed (this one included). */
  readonly cluster: readonly PeerSpec[];
  /** `new` forms a cluster; `existing` joins one (a member added with `member add`). */
  readonly state: 'new' | 'existing';
  /** The cluster token: the lab id, so members of two labs never join each other. */
  readonly token: string;
  /** Run it in this network namespace (`ip netns exec`); default this one. */
  readonly netns?: string;
  readonly timing?: MemberTiming;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `http://host:port` for an IPv4 or IPv6 address (the latter in brackets, canonical). */
export function etcdUrl(address: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InputError('etcd URL', [`port ${port} is not 1-65535`]);
  }
  const v6 = canonicalAddress(address);
  if (v6 !== undefined) return `http://[${v6}]:${port}`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return `http://${address}:${port}`;
  throw new InputError('etcd URL', [`${JSON.stringify(address)} is not an IP address`]);
}

/** The member's data directory (etcd creates it 0700 and refuses a wider one). */
export function dataDirOf(m: Pick<EtcdMember, 'dir' | 'name'>): string {
  return join(m.dir, `${m.name}.etcd`);
}

/** The member's log file (0600, written by spawnDetached). */
export function logFileOf(m: Pick<EtcdMember, 'dir' | 'name'>): string {
  return join(m.dir, `${m.name}.log`);
}

/** What identifies the member's process in /proc (checked before any signal). */
export function markersOf(m: Pick<EtcdMember, 'name' | 'token'>): string[] {
  return [ETCD_MARKER, m.token, '--name', m.name];
}

/** Every problem of a member description at once ([] when it is sound). */
export function memberProblems(m: EtcdMember): string[] {
  const problems: string[] = [];
  if (!NAME.test(m.name)) problems.push(`member name ${JSON.stringify(m.name)} is not a name`);
  if (!NAME.test(m.token)) problems.push(`cluster token ${JSON.stringify(m.token)} is not a name`);
  if (m.clientUrls.length === 0) problems.push('no client URL');
  for (const url of [m.peerUrl, ...m.clientUrls, ...m.cluster.map((p) => p.peerUrl)]) {
    if (!/^http:\/\/(\[[0-9a-f:]+\]|\d{1,3}(\.\d{1,3}){3}):\d{1,5}$/.test(url)) {
      problems.push(`${JSON.stringify(url)} is not an http://address:port URL`);
    }
  }
  const self = m.cluster.find((p) => p.name === m.name);
  if (self === undefined) problems.push(`the initial cluster does not name ${m.name}`);
  else if (self.peerUrl !== m.peerUrl) {
    problems.push(`the initial cluster gives ${m.name} peer URL ${self.peerUrl}, not ${m.peerUrl}`);
  }
  const names = m.cluster.map((p) => p.name);
  for (const n of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
    problems.push(`the initial cluster names ${n} twice`);
  }
  const t = m.timing ?? FAST_TIMING;
  if (!(t.heartbeatMs >= 10 && t.electionMs >= 5 * t.heartbeatMs && t.electionMs <= 50_000)) {
    problems.push(
      `election timeout ${t.electionMs} ms must be at least 5 heartbeats (${t.heartbeatMs} ms)`,
    );
  }
  return problems;
}

/**
 * The command line of an etcd 3.4 member (flags as separate words, so the marker and its token
 * are argv entries). Throws an InputError naming every problem of the description.
 */
export function memberArgv(m: EtcdMember): string[] {
  const problems = memberProblems(m);
  if (problems.length > 0) throw new InputError(`etcd member ${m.name}`, problems);
  const t = m.timing ?? FAST_TIMING;
  const clients = m.clientUrls.join(',');
  return [
    'etcd',
    '--name',
    m.name,
    ETCD_MARKER,
    m.token,
    '--data-dir',
    dataDirOf(m),
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--listen-client-urls',
    clients,
    '--advertise-client-urls',
    clients,
    '--initial-cluster',
    m.cluster.map((p) => `${p.name}=${p.peerUrl}`).join(','),
    '--initial-cluster-state',
    m.state,
    '--heartbeat-interval',
    String(t.heartbeatMs),
    '--election-timeout',
    String(t.electionMs),
    // A member that was cut off (or restarted) first asks whether it could win before it starts an
    // election, so its return does not depose a healthy leader (Raft's pre-vote; off in 3.4).
    '--pre-vote',
    // Clients ping their streams every second (src/etcd/client.ts) so a watch or lease stream to a
    // member cut off by the fabric (packets dropped, no RST) fails over within ~2 s; etcd's default
    // refuses pings more often than every 5 s (GOAWAY too_many_pings).
    '--grpc-keepalive-min-time',
    '1s',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
  ];
}
