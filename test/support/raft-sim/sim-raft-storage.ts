// The simulator's twin of the RaftStorage port, over a MemoryStorage that plays the disk and
// survives crashes. Every save completes synchronously (its promise is already resolved), so a
// stepped simulator that drains microtasks after each event runs the production RaftDriver
// deterministically; a crash loses nothing that was saved. Like LevelRaftStorage, an update that
// only moves the commit index writes nothing (commit is re-learned from the leader), and
// `writes` counts the updates that did reach the disk. After `kill()` (the process died) a save
// never completes and changes nothing.
import { assert } from '../../../src/common/index.ts';
import type {
  Entry,
  HardState,
  Index,
  RaftStorage,
  RaftStorageState,
  RaftStorageUpdate,
  Snapshot,
  Term,
} from '../../../src/raft/index.ts';
import type { Durable, MemoryStorage } from './memory-storage.ts';

/** Checks around each write that reaches the disk (the SimChecker's persist hooks). */
export interface SimStorageHooks {
  beforePersist(update: Durable, disk: MemoryStorage): void;
  afterPersist(update: Durable, disk: MemoryStorage): void;
}

export class SimRaftStorage implements RaftStorage {
  readonly #disk: MemoryStorage;
  readonly #hooks: SimStorageHooks | null;
  /** The commit index as the node knows it; on disk only when a later write carries it. */
  #commit: Index = 0;
  #alive = true;
  /** Updates that reached the disk (commit-only updates do not). */
  writes = 0;

  constructor(disk: MemoryStorage, hooks: SimStorageHooks | null = null) {
    this.#disk = disk;
    this.#hooks = hooks;
  }

  /** The process died: nothing more reaches the disk. */
  kill(): void {
    this.#alive = false;
  }

  open(): Promise<RaftStorageState> {
    const restored = this.#disk.restored();
    this.#commit = restored.hardState.commit;
    return Promise.resolve({
      hardState: restored.hardState,
      snapshot: restored.snapshot,
      firstIndex: this.firstIndex(),
      lastIndex: this.lastIndex(),
    });
  }

  close(): Promise<void> {
    this.#alive = false;
    return Promise.resolve();
  }

  save(update: RaftStorageUpdate): Promise<void> {
    if (!this.#alive) return new Promise<void>(() => undefined);
    const disk = this.#disk;
    if (update.hardState !== null) this.#commit = update.hardState.commit;
    const stored = disk.hardState;
    const commitOnly =
      update.snapshot === null &&
      update.entries.length === 0 &&
      (update.hardState === null ||
        (update.hardState.term === stored.term && update.hardState.vote === stored.vote));
    if (commitOnly) return Promise.resolve();
    const written: Durable = { ...update, hardState: update.hardState ?? this.hardState() };
    this.#hooks?.beforePersist(written, disk);
    const snapshot = update.snapshot;
    if (snapshot !== null && this.term(snapshot.meta.index) === snapshot.meta.term) {
      // A local compaction: the entries after the snapshot stay.
      disk.saveSnapshot(snapshot);
      disk.persist({ ...written, snapshot: null });
    } else {
      disk.persist(written);
    }
    this.writes += 1;
    this.#hooks?.afterPersist(written, disk);
    return Promise.resolve();
  }

  entries(lo: Index, hi: Index): Promise<Entry[]> {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1, `entries [${lo}, ${hi})`);
    const base = this.#base();
    return Promise.resolve(this.#disk.entries.slice(lo - base - 1, hi - base - 1));
  }

  term(index: Index): Term | null {
    const snapshot = this.#disk.snapshot;
    if (snapshot !== null && index === snapshot.meta.index) return snapshot.meta.term;
    return this.#disk.entries[index - this.#base() - 1]?.term ?? null;
  }

  firstIndex(): Index {
    return this.#base() + 1;
  }

  lastIndex(): Index {
    return this.#base() + this.#disk.entries.length;
  }

  hardState(): HardState {
    return { ...this.#disk.hardState, commit: Math.max(this.#commit, this.#disk.hardState.commit) };
  }

  snapshot(): Snapshot | null {
    return this.#disk.snapshot;
  }

  #base(): Index {
    return this.#disk.snapshot?.meta.index ?? 0;
  }
}
