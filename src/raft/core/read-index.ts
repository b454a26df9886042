// The leader's pending linearizable reads (ReadIndex, thesis §6.4). A read waits until the leader
// has committed an entry of its term, then takes the commit index and a heartbeat round; it is
// released once a quorum acknowledged that round. Bounded by readIndexPendingMax.
import type { Index, RaftNodeId } from '../types.ts';

export interface PendingRead {
  readonly requestId: number;
  /** null for a read asked on this node; else the follower that forwarded it. */
  readonly from: RaftNodeId | null;
  /** null while the leader has not committed an entry of its term. */
  index: Index | null;
  round: number;
}

export class ReadIndexQueue {
  readonly #pendingMax: number;
  #pending: PendingRead[] = [];
  /** The latest heartbeat round; appends carry it as `context`. */
  round = 0;

  constructor(pendingMax: number) {
    this.#pendingMax = pendingMax;
  }

  get size(): number {
    return this.#pending.length;
  }

  /** Returns false when full (the caller answers RAFT_BUSY). */
  tryAdd(requestId: number, from: RaftNodeId | null): PendingRead | null {
    if (this.#pending.length >= this.#pendingMax) return null;
    const read: PendingRead = { requestId, from, index: null, round: 0 };
    this.#pending.push(read);
    return read;
  }

  /** Gives every read still waiting for a term commit its index and a new round. */
  startRound(commitIndex: Index): number {
    this.round += 1;
    for (const read of this.#pending) {
      if (read.index !== null) continue;
      read.index = commitIndex;
      read.round = this.round;
    }
    return this.round;
  }

  hasUnstarted(): boolean {
    return this.#pending.some((read) => read.index === null);
  }

  /** Removes and returns the reads whose round a quorum acknowledged. */
  release(confirmedRound: number): PendingRead[] {
    const done = this.#pending.filter((r) => r.index !== null && r.round <= confirmedRound);
    this.#pending = this.#pending.filter((r) => !(r.index !== null && r.round <= confirmedRound));
    return done;
  }

  /** Empties the queue (leadership lost); returns what was pending. */
  drain(): PendingRead[] {
    const all = this.#pending;
    this.#pending = [];
    return all;
  }
}
