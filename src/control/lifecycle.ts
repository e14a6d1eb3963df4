// A lab's life: the checks before it, building it (rolled back on failure) and removing
// everything it created, from its recorded state or, when that is lost, from the kernel's marks.
import { readdir, rm } from 'node:fs/promises';
import { engineFor } from '../engines/registry.js';
import { CommandError, FlowmigError } from '../errors.js';
import { execute } from '../exec/execute.js';
import { requirePrograms, requireRoot } from '../exec/preflight.js';
import { type Lab, movesTcp } from '../lab/model.js';
import { ownershipMark } from '../lab/names.js';
import { planUp } from '../plan/build.js';
import { describeOp, type Op } from '../plan/ops.js';
import { DamagedStateError, type LabState } from '../state/store.js';
import { agentPaths, stopAgent, stopAllAgents } from './agent-process.js';
import type { ApplyPaths } from './apply-path.js';
import { daemonPaths, findDaemonsWhere, stopDaemon } from './daemon-process.js';
import { listNamespaces, namespaceLinks, waitForLinks } from './kernel.js';
import { type ControlContext, labOf, toStateFlow } from './lab-state.js';
import { markedNamespaces, removeOwnNamespaces } from './namespaces.js';
import type { DownResult, ProgressHooks } from './results.js';
import { servePaths, stopAllServers } from './serve-process.js';

const BASE_PROGRAMS = ['ip', 'sysctl', 'conntrack'];

/** Checks root and the programs a lab with this engine needs. */
export async function checkHost(lab: Lab, extraPrograms: readonly string[] = []): Promise<void> {
  requireRoot();
  // The hold table's queueing rules are ip6tables rules (see engines/hold.ts).
  const hold = movesTcp(lab) ? ['nft', 'ip6tables-restore'] : [];
  await requirePrograms([
    ...BASE_PROGRAMS,
    ...engineFor(lab.engine).programs,
    ...hold,
    ...extraPrograms,
  ]);
}

/**
 * Builds the lab, with its lock held. Refuses if any of its namespaces exists; rolls back on
 * failure. Starts the lab's agent when it has one (a failure to is recorded, not thrown).
 */
export async function buildLab(
  ctx: ControlContext,
  paths: ApplyPaths,
  lab: Lab,
  hooks: ProgressHooks,
): Promise<void> {
  const { runner, store } = ctx;
  const engine = engineFor(lab.engine);
  const existing = await listNamespaces(runner);
  const old = await store.read(lab.id);
  if (old) {
    const alive = old.created.filter((ns) => existing.has(ns));
    if (alive.length > 0) {
      throw new FlowmigError(
        `lab ${lab.id} is already up (namespaces ${alive.join(', ')}); run 'flowmig down --lab ${lab.id}' first`,
      );
    }
    await store.remove(lab.id); // stale: its namespaces are gone
  }
  const taken = lab.nodes.map((n) => n.netns).filter((ns) => existing.has(ns));
  if (taken.length > 0) {
    const many = taken.length > 1;
    throw new FlowmigError(
      `namespace${many ? 's' : ''} ${taken.join(', ')} already exist${many ? '' : 's'}; ` +
        `flowmig will not touch ${many ? 'them' : 'it'}: run the lab beside ${many ? 'them' : 'it'} with a prefix, e.g. --prefix fm1-`,
    );
  }
  const now = new Date().toISOString();
  const state: LabState = {
    version: 1,
    id: lab.id,
    prefix: lab.prefix,
    description: lab.description,
    phase: 'building',
    pid: process.pid,
    createdAt: now,
    updatedAt: now,
    created: [],
    flows: lab.flows.map(toStateFlow),
    migrations: 0,
  };
  await store.write(state);
  const ops = planUp(lab, engine);
  let current: Op | undefined;
  try {
    await execute(runner, ops, {
      before: async (op) => {
        current = op;
        // Write-ahead: a SIGKILL right after the create still leaves the name on record.
        if (op.kind === 'netnsAdd') {
          state.created.push(op.netns);
          await store.write(state);
        }
      },
      after: (step, i, total) => hooks.onStep?.(describeOp(step.op), i + 1, total),
    });
    current = undefined;
    hooks.onStep?.('waiting for the links to come up', ops.length, ops.length);
    const down = await waitForLinks(runner, labLinks(lab));
    if (down.length > 0) {
      throw new FlowmigError(`links did not come up within 5 s: ${down.join(', ')}`);
    }
  } catch (error) {
    if (current?.kind === 'netnsAdd' && error instanceof CommandError) {
      // The create itself failed: that namespace is not ours.
      state.created = state.created.filter((ns) => ns !== current?.netns);
    }
    if (state.agent) await stopAgent(state.agent, lab.id);
    const removed = await removeOwnNamespaces(
      ctx.runner,
      lab.id,
      state.created,
      new Set(state.created),
    );
    await store.remove(lab.id);
    const what = current ? describeOp(current) : 'waiting for the links';
    const reason = error instanceof Error ? error.message : String(error);
    throw new FlowmigError(
      `up failed at "${what}": ${reason}; rolled back${removed.removed.length ? ` (removed ${removed.removed.join(', ')})` : ''}`,
      { cause: error },
    );
  }
  state.phase = 'up';
  await store.write(state);
  if (paths.wantsAgent(lab)) {
    hooks.onStep?.('starting the translator agent', ops.length, ops.length);
    await paths.startAgent(state, lab).catch(() => {}); // recorded in state.agentError
  }
}

/**
 * Removes everything lab `id` created, with its lock held; idempotent. Works from its state, or,
 * when that is lost or damaged, from `fallback`, the kernel's ownership marks and the processes
 * and files named after the lab.
 */
export async function removeLab(
  ctx: ControlContext,
  id: string,
  fallback: Lab | undefined,
): Promise<DownResult> {
  const { store } = ctx;
  // A damaged state file is no dead end: the lab is removed by its marks, as if it were lost.
  let damagedState: string | undefined;
  const state = await store.read(id).catch((error: unknown) => {
    if (!(error instanceof DamagedStateError)) throw error;
    damagedState = error.path;
    return undefined;
  });
  const lab = state ? labOf(state) : fallback;
  const candidates = new Set<string>([
    ...(state?.created ?? []),
    ...(lab?.nodes.map((n) => n.netns) ?? []),
  ]);
  // State lost: the kernel still shows which namespaces carry this lab's mark.
  if (!state) for (const ns of await markedNamespaces(ctx.runner, id)) candidates.add(ns);
  if (state?.daemon) await stopDaemon(id, state.daemon.pid);
  // With the state lost, a daemon of the lab is found by its command line.
  for (const pid of await findDaemonsWhere((x) => x === id)) await stopDaemon(id, pid);
  await stopAllAgents(id, state?.agent);
  await stopAllServers(id, state?.servers);
  for (const node of lab ? lab.nodes.map((n) => n.name) : await servedNodes(ctx, id)) {
    const files = servePaths(store.dir, id, node);
    await rm(files.socket, { force: true });
    await rm(files.log, { force: true });
  }
  if (lab && state) await uninstall(ctx, lab, state);
  const result = await removeOwnNamespaces(
    ctx.runner,
    id,
    [...candidates],
    new Set(state?.created ?? []),
  );
  await store.remove(id);
  // The agent's files by their fixed paths: a build killed right after spawning the agent may
  // not have recorded it yet.
  const agentFiles = agentPaths(store.dir, id);
  await rm(agentFiles.log, { force: true });
  await rm(agentFiles.socket, { force: true });
  const daemonFiles = daemonPaths(store.dir, id);
  // The daemon's socket (gone with it, unless it was killed) and its log; the daemon doing this
  // `down` itself closes its socket after replying.
  if (state?.daemon?.pid !== process.pid) await rm(daemonFiles.socket, { force: true });
  await rm(daemonFiles.log, { force: true });
  await rm(daemonFiles.token, { force: true });
  return {
    id,
    ...result,
    hadState: state !== undefined,
    ...(damagedState ? { damagedState } : {}),
  };
}

/**
 * Nodes with server-runtime files of lab `id` in the state directory (when the lab's nodes are
 * unknown: its state is lost). Node names hold no '.', so `<id>.serve.<node>.sock` is exact.
 */
async function servedNodes(ctx: ControlContext, id: string): Promise<string[]> {
  const names = await readdir(ctx.store.dir).catch(() => [] as string[]);
  const head = `${id}.serve.`;
  return [
    ...new Set(
      names
        .filter((n) => n.startsWith(head))
        .map((n) => /^([A-Za-z0-9][A-Za-z0-9_]{0,6})\.(?:sock|log)$/.exec(n.slice(head.length)))
        .flatMap((m) => (m?.[1] ? [m[1]] : [])),
    ),
  ];
}

/** Removes the engine's objects from the translator (best effort: the namespace goes next). */
async function uninstall(ctx: ControlContext, lab: Lab, state: LabState): Promise<void> {
  const t = lab.translator.netns;
  const op = engineFor(lab.engine).uninstall(t);
  if (!op || !state.created.includes(t)) return;
  if (!(await listNamespaces(ctx.runner)).has(t)) return;
  const links = await namespaceLinks(ctx.runner, t);
  if (links.mark !== ownershipMark(lab.id)) return;
  await execute(ctx.runner, [op]).catch(() => {});
}

/** Both ends of every link, as (namespace, interface). */
function labLinks(lab: Lab): { netns: string; dev: string }[] {
  return lab.links.flatMap((l) => {
    const node = lab.nodes.find((n) => n.name === l.node);
    return node
      ? [
          { netns: node.netns, dev: l.nodeIf },
          { netns: lab.translator.netns, dev: l.translatorIf },
        ]
      : [];
  });
}
