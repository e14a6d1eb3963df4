// The labs' states a long-lived controller (the daemon) holds in memory between changes, read
// again only when another process changed the state files (`--direct`, `down`).
import type { LabFlow } from '../lab/model.js';
import { type FlowSource, findIn } from '../plan/batch.js';
import type { LabState, StateStore } from '../state/store.js';
import { fromStateFlow, requireUp, toStateFlow } from './lab-state.js';

/**
 * A lab's state with its flows indexed by address and name: planning and recording a batch costs
 * what its moves cost, not what the lab's size does. Only its holder changes `state`, with the
 * lab's lock held.
 */
export class HeldLab implements FlowSource {
  private readonly byAddress = new Map<string, number>();
  private readonly byName = new Map<string, number>();

  constructor(readonly state: LabState) {
    for (const [i, f] of state.flows.entries()) {
      this.byAddress.set(f.address, i);
      if (f.name !== undefined && !this.byName.has(f.name)) this.byName.set(f.name, i);
    }
  }

  find(ref: string): LabFlow | undefined {
    const i = findIn(this.byAddress, this.byName, ref);
    const f = i === undefined ? undefined : this.state.flows[i];
    return f && fromStateFlow(f);
  }

  all(): LabFlow[] {
    return this.state.flows.map(fromStateFlow);
  }

  /** Records a flow's new ends (a flow of this lab: a move never adds one). */
  set(flow: LabFlow): void {
    const i = this.byAddress.get(flow.address);
    if (i === undefined)
      throw new Error(`flow ${flow.address} is not one of lab ${this.state.id}'s`);
    this.state.flows[i] = toStateFlow(flow);
  }
}

/** A held lab, and the version of the store's state it is (see StateStore.version). */
interface Entry {
  readonly lab: HeldLab;
  version: string | undefined;
}

export class HeldLabs {
  private readonly held = new Map<string, Entry>();

  constructor(private readonly store: StateStore) {}

  /**
   * Runs `fn` on lab `id`'s held state (lock held), read first when none is held or another
   * process changed the files since this store last read or committed them. When `fn` fails the
   * held state (which it may have changed) is dropped: the next change reads the files again.
   */
  async using<T>(id: string, fn: (held: HeldLab) => Promise<T>): Promise<T> {
    try {
      const entry = await this.get(id);
      const result = await fn(entry.lab);
      // With the lock held, the only changes to the files since were fn's own commits.
      entry.version = this.store.version(id);
      return result;
    } catch (error) {
      this.held.delete(id);
      throw error;
    }
  }

  /**
   * The held entry when it is still the files' state: the files are as this store last saw them,
   * and the store's state is the version the entry was made from or committed. (A read of this
   * store — status, a drain check — may have caught up with another process's commit: the files
   * then look unchanged to the store while the held copy is behind.)
   */
  private current(id: string): Entry | undefined {
    const kept = this.held.get(id);
    return kept && this.store.unchangedSince(id) && this.store.version(id) === kept.version
      ? kept
      : undefined;
  }

  private async get(id: string): Promise<Entry> {
    const kept = this.current(id);
    if (kept) return kept;
    this.held.delete(id);
    const lab = new HeldLab(await requireUp(this.store, id));
    const entry: Entry = { lab, version: this.store.version(id) };
    this.held.set(id, entry);
    return entry;
  }

  /** The held state of lab `id` if it is still the files' (to read, not to change). */
  peek(id: string): LabState | undefined {
    return this.current(id)?.lab.state;
  }

  /** Drops lab `id`'s held state (a verb that reads and writes the state files itself ran). */
  forget(id: string): void {
    this.held.delete(id);
  }
}
