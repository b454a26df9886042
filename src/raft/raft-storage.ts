// The storage port of a Raft node: hard state, the log suffix after the latest snapshot, and
// that snapshot. Invariant: the stored log is contiguous, starts at snapshot.index + 1, and
// every `save` is atomic and durable (synced) before its promise resolves, so the driver may
// send messages that depend on it. The real implementation is ./level-raft-storage.ts; the
// simulator keeps its own in-memory twin.
import type { Entry, HardState, Index, Snapshot, Term } from './types.ts';

/** What a node restarts from. */
export interface RaftStorageState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** First index in the log: snapshot.index + 1, or 1 without a snapshot. */
  readonly firstIndex: Index;
  /** Last index in the log; firstIndex - 1 when the log is empty. */
  readonly lastIndex: Index;
}

/** One Ready's worth of durable changes, written as one atomic, synced batch. */
export interface RaftStorageUpdate {
  readonly hardState: HardState | null;
  /**
   * Installed first. If the log holds snapshot.meta.index with the same term, the entries
   * after it are kept (a local compaction); otherwise the whole log is discarded (Raft §7).
   */
  readonly snapshot: Snapshot | null;
  /** Appended after the snapshot; entries[0].index ≤ lastIndex truncates the stored suffix. */
  readonly entries: readonly Entry[];
}

export interface RaftStorage {
  /** Opens (creating if absent) and returns the state to restart from. Call once. */
  open(): Promise<RaftStorageState>;
  close(): Promise<void>;
  /**
   * Persists one update atomically and durably. An update that changes only the commit index
   * need not reach the disk at all (commit is re-learned from the leader). Never overlapping.
   */
  save(update: RaftStorageUpdate): Promise<void>;
  /** Entries in [lo, hi), each index within [firstIndex, lastIndex + 1]. */
  entries(lo: Index, hi: Index): Promise<Entry[]>;
  /** The term at `index`: the snapshot's term at its index, null outside the stored log. */
  term(index: Index): Term | null;
  firstIndex(): Index;
  lastIndex(): Index;
  hardState(): HardState;
  snapshot(): Snapshot | null;
}
