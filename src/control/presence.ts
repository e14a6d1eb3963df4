// Which labs are up, found three ways: state files, the kernel's ownership marks on namespaces,
// and flowmig's marked processes. A lab whose state file is gone or damaged is still found; a
// cluster lab is told by its own state file, host daemons or etcd members.
import { ETCD_MARKER } from '../etcd/member.js';
import type { Runner } from '../exec/runner.js';
import { HOSTD_MARKER } from '../hostd-api/protocol.js';
import { ownershipMark } from '../lab/names.js';
import { findMarked } from '../procs/find.js';
import { clusterLabIds } from '../state/lab-ids.js';
import { DamagedStateError, type StateStore } from '../state/store.js';
import { AGENT_MARKER } from './agent-process.js';
import { clusterStatePath, readClusterState } from './cluster/state.js';
import { DAEMON_MARKER } from './daemon-process.js';
import { listNamespaces, namespaceLinks } from './kernel.js';
import { SERVE_MARKER } from './serve-process.js';

/** What is left of a lab: `ok` has a readable state file, `damaged` an unreadable one, `lost` none. */
export interface LabPresence {
  readonly id: string;
  readonly state: 'ok' | 'damaged' | 'lost';
  readonly stateFile: string;
  /** Namespaces carrying the lab's ownership mark. */
  readonly namespaces: readonly string[];
  /** Running processes of the lab, by kind (daemon, agent, server runtime). */
  readonly processes: readonly { readonly kind: ProcessKind; readonly pid: number }[];
  /**
   * The lab belongs to this state directory: it has a state file here, or a process of it names
   * the directory. A lab seen only by its namespaces' marks may be another directory's.
   */
  readonly here: boolean;
  /** A cluster lab (its state file is `<id>.cluster.json`); absent for a single-host lab. */
  readonly kind?: 'cluster';
}

export type ProcessKind = 'daemon' | 'agent' | 'server' | 'hostd' | 'etcd';

const MARKERS: readonly [ProcessKind, string][] = [
  ['daemon', DAEMON_MARKER],
  ['agent', AGENT_MARKER],
  ['server', SERVE_MARKER],
  ['hostd', HOSTD_MARKER],
  // A cluster's etcd members carry its lab id as their token (see etcd/member.ts).
  ['etcd', ETCD_MARKER],
];
/** Processes that make a lab a cluster lab. */
const CLUSTER_KINDS: ReadonlySet<ProcessKind> = new Set(['hostd', 'etcd']);
const MARK_PREFIX = ownershipMark('');

/** Every lab with a state file, a marked namespace or a marked process, sorted by id. */
export async function labsPresent(store: StateStore, runner: Runner): Promise<LabPresence[]> {
  const namespaces = new Map<string, string[]>();
  for (const ns of [...(await listNamespaces(runner))].sort()) {
    const mark = (await namespaceLinks(runner, ns).catch(() => undefined))?.mark;
    if (!mark?.startsWith(MARK_PREFIX)) continue;
    const id = mark.slice(MARK_PREFIX.length);
    namespaces.set(id, [...(namespaces.get(id) ?? []), ns]);
  }
  const processes = new Map<string, { kind: ProcessKind; pid: number }[]>();
  /** Labs with a process of this state directory; labs with processes of another one. */
  const ours = new Set<string>();
  const elsewhere = new Set<string>();
  const inDir = (arg: string) => arg === store.dir || arg.startsWith(`${store.dir}/`);
  for (const [kind, marker] of MARKERS) {
    for (const { pid, value, argv } of await findMarked(marker)) {
      if (kind === 'etcd' && !argv[0]?.endsWith('etcd')) continue; // only etcd itself
      if (!argv.some(inDir)) {
        elsewhere.add(value);
        continue;
      }
      ours.add(value);
      processes.set(value, [...(processes.get(value) ?? []), { kind, pid }]);
    }
  }
  const files = new Set(await store.list());
  const clusterFiles = new Set(await clusterLabIds(store.dir));
  const ids = new Set([...files, ...clusterFiles, ...namespaces.keys(), ...ours]);
  const labs: LabPresence[] = [];
  for (const id of [...ids].sort()) {
    const here = files.has(id) || clusterFiles.has(id) || ours.has(id);
    // Namespaces only, and processes of the lab serve another state directory: it is that one's.
    if (!here && elsewhere.has(id)) continue;
    const procs = processes.get(id) ?? [];
    const cluster =
      !files.has(id) && (clusterFiles.has(id) || procs.some((p) => CLUSTER_KINDS.has(p.kind)));
    labs.push({
      id,
      state: cluster
        ? clusterFiles.has(id)
          ? await clusterStateOf(store.dir, id)
          : 'lost'
        : files.has(id)
          ? await stateOf(store, id)
          : 'lost',
      stateFile: cluster ? clusterStatePath(store.dir, id) : store.path(id),
      namespaces: namespaces.get(id) ?? [],
      processes: procs,
      here,
      ...(cluster ? { kind: 'cluster' as const } : {}),
    });
  }
  return labs;
}

/**
 * The labs `status` without `--lab` shows: those of this state directory, or, when it has none,
 * those found only by their marks (their state is lost, or kept in another directory).
 */
export function candidateLabs(labs: readonly LabPresence[]): readonly LabPresence[] {
  const here = labs.filter((l) => l.here);
  return here.length > 0 ? here : labs;
}

async function clusterStateOf(dir: string, id: string): Promise<LabPresence['state']> {
  try {
    return (await readClusterState(dir, id)) ? 'ok' : 'lost';
  } catch (error) {
    if (error instanceof DamagedStateError) return 'damaged';
    throw error;
  }
}

async function stateOf(store: StateStore, id: string): Promise<LabPresence['state']> {
  try {
    return (await store.read(id)) ? 'ok' : 'lost';
  } catch (error) {
    if (error instanceof DamagedStateError) return 'damaged';
    throw error;
  }
}
