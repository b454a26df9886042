// The durable half of a simulated node: what a Ready persisted (hard state, snapshot, entries),
// kept across crashes. Volatile state lives in the RaftCore and dies with it. A `fault` turns it
// into a lying disk for mutation tests: `forget-vote` loses term and vote on restart,
// `lose-tail` loses the last persisted entry above its commit index on restart.
import type { Entry, HardState, Ready, RestoredState, Snapshot } from '../../../src/raft/index.ts';

export type StorageFault = 'none' | 'forget-vote' | 'lose-tail';

/** The durable parts of a Ready (a RaftStorageUpdate has the same shape). */
export type Durable = Pick<Ready, 'hardState' | 'snapshot' | 'entries'>;

export class MemoryStorage {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  readonly #fault: StorageFault;

  constructor(fault: StorageFault = 'none') {
    this.#fault = fault;
  }

  /** Applies a Ready's durable parts in the driver's order: snapshot, entries, hard state. */
  persist(ready: Durable): void {
    if (ready.snapshot !== null) {
      this.snapshot = ready.snapshot;
      this.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const base = this.snapshot?.meta.index ?? 0;
      this.entries.length = Math.max(0, Math.min(this.entries.length, first.index - base - 1));
      this.entries.push(...ready.entries);
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
  }

  /** Local compaction: the snapshot replaces the entries it covers. */
  saveSnapshot(snapshot: Snapshot): void {
    const base = this.snapshot?.meta.index ?? 0;
    this.entries = this.entries.slice(snapshot.meta.index - base);
    this.snapshot = snapshot;
  }

  restored(): RestoredState {
    let entries = this.entries.slice();
    let hardState = this.hardState;
    if (this.#fault === 'forget-vote') {
      const lastTerm = entries.at(-1)?.term ?? this.snapshot?.meta.term ?? 0;
      hardState = { term: lastTerm, vote: null, commit: hardState.commit };
    } else if (this.#fault === 'lose-tail' && (entries.at(-1)?.index ?? 0) > hardState.commit) {
      // An acknowledged but locally uncommitted entry vanishes: an ack sent before its fsync.
      entries = entries.slice(0, -1);
      this.entries = entries;
    }
    return structuredClone({ hardState, snapshot: this.snapshot, entries });
  }
}
