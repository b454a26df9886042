// Ghost state over the whole history of a simulated run, checked incrementally (paper Fig. 3,
// etcd's TLA+ invariants, KRaft's simulation): election safety (term → leader), leader
// append-only, log matching ((index, term) → same entry and same previous term), leader
// completeness, state machine safety (hash of the applied prefix per index), dense in-order
// applies, commit monotonic per incarnation and on disk across restarts, read linearizability.
import type { Entry, RaftCore, RaftNodeId, RaftStatus } from '../../../src/raft/index.ts';
import type { HashStateMachine } from './hash-state-machine.ts';
import type { Durable, MemoryStorage } from './memory-storage.ts';

export class Violation extends Error {
  override name = 'Violation';
}

interface EntryFact {
  readonly dataKey: string;
  readonly prevTerm: number | null;
}

interface LeaderMark {
  readonly term: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

function dataKey(entry: Entry): string {
  return `${entry.kind}:${Buffer.from(entry.data).toString('base64')}`;
}

export class SimChecker {
  readonly #leaderByTerm = new Map<number, RaftNodeId>();
  readonly #entryFacts = new Map<string, EntryFact>();
  /** index → term and data of the entry committed there (observed on a leader or applied). */
  readonly #committed = new Map<number, { term: number; dataKey: string }>();
  #committedMax = 0;
  /** index → hash of the state machine after applying the prefix up to it. */
  readonly #appliedHash = new Map<number, number>();
  readonly #leaderMarks = new Map<RaftNodeId, LeaderMark>();
  readonly #commitSeen = new Map<RaftNodeId, number>();
  readonly #leaderCommitRecorded = new Map<RaftNodeId, number>();
  readonly #durableCommit = new Map<RaftNodeId, number>();

  get committedMax(): number {
    return this.#committedMax;
  }

  committedTermAt(index: number): number | undefined {
    return this.#committed.get(index)?.term;
  }

  /** After every event that touched `id`: roles, terms, commit and the node's own invariants. */
  checkNode(id: RaftNodeId, core: RaftCore): void {
    try {
      core.checkInvariants();
    } catch (error) {
      throw new Violation(`node ${id} invariant: ${(error as Error).message}`);
    }
    const status = core.status();
    const commitSeen = this.#commitSeen.get(id) ?? 0;
    if (status.commitIndex < commitSeen) {
      throw new Violation(
        `node ${id} commit went back from ${commitSeen} to ${status.commitIndex}`,
      );
    }
    this.#commitSeen.set(id, status.commitIndex);
    if (status.role !== 'leader') {
      this.#leaderMarks.delete(id);
      return;
    }
    const known = this.#leaderByTerm.get(status.term);
    if (known === undefined) {
      this.#leaderByTerm.set(status.term, id);
      this.#checkLeaderCompleteness(id, core);
    } else if (known !== id) {
      throw new Violation(
        `election safety: nodes ${known} and ${id} both lead term ${status.term}`,
      );
    }
    this.#checkAppendOnly(id, core, status);
    this.#recordLeaderCommits(id, core, status);
  }

  #checkAppendOnly(id: RaftNodeId, core: RaftCore, status: RaftStatus): void {
    const term = status.term;
    const mark = this.#leaderMarks.get(id);
    if (mark !== undefined && mark.term === term) {
      if (status.lastIndex < mark.lastIndex) {
        throw new Violation(
          `leader ${id} log shrank from ${mark.lastIndex} to ${status.lastIndex}`,
        );
      }
      const termThere = core.termAt(mark.lastIndex);
      if (termThere !== null && termThere !== mark.lastTerm) {
        throw new Violation(`leader ${id} rewrote index ${mark.lastIndex}`);
      }
    }
    this.#leaderMarks.set(id, { term, lastIndex: status.lastIndex, lastTerm: status.lastTerm });
  }

  /** Every entry observed committed is in the log of every later leader (Fig. 3). */
  #checkLeaderCompleteness(id: RaftNodeId, core: RaftCore): void {
    const status = core.status();
    if (status.lastIndex < this.#committedMax) {
      throw new Violation(
        `leader ${id} (term ${status.term}) lacks committed ${this.#committedMax}`,
      );
    }
    for (const [index, fact] of this.#committed) {
      if (index < status.firstIndex) continue;
      const termThere = core.termAt(index);
      if (termThere !== fact.term) {
        throw new Violation(`leader ${id} (term ${status.term}) lacks committed entry ${index}`);
      }
    }
  }

  #recordLeaderCommits(id: RaftNodeId, core: RaftCore, status: RaftStatus): void {
    const commit = status.commitIndex;
    const from = Math.max(this.#leaderCommitRecorded.get(id) ?? 0, status.firstIndex - 1) + 1;
    if (from > commit) return;
    for (const entry of core.entries(from, commit)) this.#recordCommitted(entry, `leader ${id}`);
    this.#leaderCommitRecorded.set(id, commit);
  }

  #recordCommitted(entry: Entry, where: string): void {
    const key = dataKey(entry);
    const known = this.#committed.get(entry.index);
    if (known === undefined) {
      this.#committed.set(entry.index, { term: entry.term, dataKey: key });
      this.#committedMax = Math.max(this.#committedMax, entry.index);
    } else if (known.term !== entry.term || known.dataKey !== key) {
      throw new Violation(
        `state machine safety: ${where} has entry ${entry.index} term ${entry.term}, ` +
          `committed was term ${known.term}`,
      );
    }
  }

  /**
   * Before the driver persists a Ready on `id`: a stored entry that is committed may never be
   * replaced or truncated. (A lagging node may still hold a stale entry at a committed index;
   * only removing the committed one is a violation.)
   */
  beforePersist(id: RaftNodeId, ready: Durable, storage: MemoryStorage): void {
    const first = ready.entries[0];
    if (first === undefined) return;
    const base = storage.snapshot?.meta.index ?? 0;
    for (let i = Math.max(0, first.index - base - 1); i < storage.entries.length; i += 1) {
      const old = storage.entries[i];
      if (old === undefined || this.#committed.get(old.index)?.term !== old.term) continue;
      const replacement = ready.entries[old.index - first.index];
      if (replacement?.term !== old.term) {
        throw new Violation(`node ${id} removed committed entry ${old.index} (term ${old.term})`);
      }
    }
  }

  /** After the driver persisted a Ready on `id` (storage already holds it). */
  onPersist(id: RaftNodeId, ready: Durable, storage: MemoryStorage): void {
    const base = storage.snapshot?.meta.index ?? 0;
    for (const entry of ready.entries) {
      const previous = entry.index - 1 === base ? (storage.snapshot?.meta.term ?? 0) : null;
      const prevTerm = storage.entries[entry.index - 2 - base]?.term ?? previous;
      this.#checkEntryFact(id, entry, prevTerm);
      const committed = this.#committed.get(entry.index);
      if (committed !== undefined && committed.term < entry.term) {
        throw new Violation(`node ${id} overwrote committed entry ${entry.index}`);
      }
    }
    if (ready.hardState !== null) {
      const durable = this.#durableCommit.get(id) ?? 0;
      if (ready.hardState.commit < durable) {
        throw new Violation(`node ${id} durable commit went back to ${ready.hardState.commit}`);
      }
      this.#durableCommit.set(id, ready.hardState.commit);
    }
  }

  /** Log Matching: the same (index, term) is the same entry after the same previous term. */
  #checkEntryFact(id: RaftNodeId, entry: Entry, prevTerm: number | null): void {
    const key = `${entry.index}:${entry.term}`;
    const fact = this.#entryFacts.get(key);
    const data = dataKey(entry);
    if (fact === undefined) {
      this.#entryFacts.set(key, { dataKey: data, prevTerm });
      return;
    }
    if (fact.dataKey !== data) throw new Violation(`log matching: node ${id} entry ${key} differs`);
    if (fact.prevTerm !== null && prevTerm !== null && fact.prevTerm !== prevTerm) {
      throw new Violation(`log matching: node ${id} entry ${key} follows a different term`);
    }
  }

  /** After a restart: the durable commit must not be below what was durable before. */
  onRestart(id: RaftNodeId, core: RaftCore): void {
    const durable = this.#durableCommit.get(id) ?? 0;
    const restored = core.status().commitIndex;
    if (restored < durable) {
      throw new Violation(`node ${id} restarted with commit ${restored} below durable ${durable}`);
    }
    this.#commitSeen.set(id, restored);
    this.#leaderMarks.delete(id);
    this.#leaderCommitRecorded.delete(id);
  }

  /** After applying: dense and in order, and the applied prefix hash agrees everywhere. */
  onApply(id: RaftNodeId, entry: Entry, previousApplied: number, machine: HashStateMachine): void {
    if (entry.index !== previousApplied + 1) {
      throw new Violation(`node ${id} applied ${entry.index} after ${previousApplied}`);
    }
    this.#recordCommitted(entry, `node ${id} applied`);
    this.#checkHash(id, entry.index, machine.hash);
  }

  onRestore(id: RaftNodeId, machine: HashStateMachine): void {
    this.#checkHash(id, machine.appliedIndex, machine.hash);
  }

  #checkHash(id: RaftNodeId, index: number, hash: number): void {
    const known = this.#appliedHash.get(index);
    if (known === undefined) this.#appliedHash.set(index, hash);
    else if (known !== hash)
      throw new Violation(`state machine safety: node ${id} differs at ${index}`);
  }

  /** A read started after `committedBefore` was committed must not read below it. */
  onReadState(id: RaftNodeId, index: number, committedBefore: number): void {
    if (index < committedBefore) {
      throw new Violation(
        `stale read on node ${id}: index ${index} < committed ${committedBefore}`,
      );
    }
  }
}
