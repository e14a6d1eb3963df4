// A cluster lab's state file, <state dir>/<id>.cluster.json: its description as written, the
// namespaces it created (recorded before each is made) and the processes it started.
import { readFile, rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { clusterDescriptionSchema } from '../../lab/cluster-schema.js';
import { LAB_ID } from '../../lab/names.js';
import { ifMissing, writePrivateFile } from '../../state/files.js';
import { CLUSTER_STATE_SUFFIX } from '../../state/lab-ids.js';
import { DamagedStateError } from '../../state/store.js';

const pid = z.number().int().positive();

export const clusterStateSchema = z.strictObject({
  kind: z.literal('cluster'),
  id: z.string().regex(LAB_ID),
  prefix: z.string(),
  /** Validated, defaults filled in: resolveCluster(description, { prefix }) gives the lab again. */
  description: clusterDescriptionSchema,
  createdAt: z.string(),
  /** Namespaces, each recorded before it is made (write-ahead), in the order they were. */
  created: z.array(z.string()),
  /** etcd members, each recorded right after its spawn. */
  members: z.array(z.strictObject({ name: z.string(), pid })),
  /** Host daemons, each recorded right after its spawn. */
  hostds: z.array(z.strictObject({ host: z.string(), pid })),
});

export type ClusterState = z.infer<typeof clusterStateSchema>;

/** The state file of cluster lab `id`. */
export function clusterStatePath(dir: string, id: string): string {
  return `${dir}/${id}${CLUSTER_STATE_SUFFIX}`;
}

/** Where a write goes before it replaces the file (not `*.json`: never read as a lab). */
function tempPath(dir: string, id: string): string {
  return `${clusterStatePath(dir, id)}.tmp`;
}

/** The state of cluster lab `id`; undefined with no file; DamagedStateError when it does not parse. */
export async function readClusterState(dir: string, id: string): Promise<ClusterState | undefined> {
  const path = clusterStatePath(dir, id);
  const text = await readFile(path, 'utf8').catch(ifMissing(undefined));
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DamagedStateError(id, path);
  }
  const parsed = clusterStateSchema.safeParse(value);
  if (!parsed.success || parsed.data.id !== id) throw new DamagedStateError(id, path);
  return parsed.data;
}

/**
 * Writes the state whole (0600): to a temporary file, then renamed over the old one, so a process
 * killed mid-write leaves the previous version rather than half a file.
 */
export async function writeClusterState(dir: string, state: ClusterState): Promise<void> {
  const temp = tempPath(dir, state.id);
  await writePrivateFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, clusterStatePath(dir, state.id));
}

export async function removeClusterState(dir: string, id: string): Promise<void> {
  await rm(clusterStatePath(dir, id), { force: true });
  await rm(tempPath(dir, id), { force: true });
}

/**
 * Serialises the writes of one state object: members and host daemons start side by side and
 * each records its PID as soon as it is spawned; each write takes the state as it is by then.
 */
export class StateWriter {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    readonly state: ClusterState,
  ) {}

  save(): Promise<void> {
    const next = this.chain.then(() => writeClusterState(this.dir, this.state));
    this.chain = next.catch(() => {});
    return next;
  }
}
