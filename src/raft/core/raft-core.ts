// The pure Raft state machine of one node (Ongaro's thesis; etcd's RawNode contract). Inputs are
// step(message), tick(), propose(); every effect comes back as data in a Ready, which the driver
// persists (snapshot, entries, hard state) BEFORE sending its messages, then applies, then
// advances. No I/O, timers, clock or ambient randomness: the same seed replays the same run.
import { assert, assertNever, type Random } from '../../common/index.ts';
import { RaftError, notLeaderError } from '../errors.ts';
import type {
  ConfigChange,
  Entry,
  EntryKind,
  HardState,
  Index,
  RaftMessage,
  RaftNodeId,
  Ready,
  Snapshot,
  Term,
} from '../types.ts';
import {
  assertValidMembership,
  configChangeProblem,
  encodeConfigChange,
  isVoter,
  members,
} from './membership.ts';
import { Progress } from './progress.ts';
import {
  assertValidConfig,
  type RaftCoreConfig,
  type RaftCoreDeps,
  type RaftResult,
  type RaftStatus,
} from './raft-config.ts';
import { quorumValue, voteOutcome } from './quorum.ts';
import { RaftLog } from './raft-log.ts';
import { ReadIndexQueue } from './read-index.ts';

// Re-exported so code written against the first API commit (all in this file) keeps compiling.
export {
  emptyRestoredState,
  raftCoreDefaults,
  type ProgressStatus,
  type RaftCoreConfig,
  type RaftCoreDeps,
  type RaftResult,
  type RaftRoleKind,
  type RaftStatus,
  type RestoredState,
} from './raft-config.ts';

interface LeaderState {
  readonly progress: Map<RaftNodeId, Progress>;
  readonly reads: ReadIndexQueue;
  transfer: { readonly target: RaftNodeId; elapsedTicks: number; sent: boolean } | null;
  /** Data bytes of this term's entries above the commit index. */
  uncommittedBytes: number;
  heartbeatElapsedTicks: number;
}

interface VoteTally {
  readonly granted: Set<RaftNodeId>;
  readonly rejected: Set<RaftNodeId>;
}

type Role =
  | { readonly kind: 'follower'; readonly leaderId: RaftNodeId | null }
  | { readonly kind: 'observer'; readonly leaderId: RaftNodeId | null }
  | { readonly kind: 'pre-candidate'; readonly votes: VoteTally }
  | { readonly kind: 'candidate'; readonly votes: VoteTally }
  | { readonly kind: 'leader'; readonly leader: LeaderState };

type VoteRequest = Extract<RaftMessage, { type: 'vote-request' }>;
type VoteResponse = Extract<RaftMessage, { type: 'vote-response' }>;
type AppendRequest = Extract<RaftMessage, { type: 'append-request' }>;
type AppendResponse = Extract<RaftMessage, { type: 'append-response' }>;
type SnapshotRequest = Extract<RaftMessage, { type: 'snapshot-request' }>;
type SnapshotResponse = Extract<RaftMessage, { type: 'snapshot-response' }>;
type ReadIndexRequest = Extract<RaftMessage, { type: 'read-index-request' }>;
type ReadIndexResponse = Extract<RaftMessage, { type: 'read-index-response' }>;

type Outgoing<M extends RaftMessage> = M extends RaftMessage ? Omit<M, 'from' | 'term'> : never;

const emptyData = new Uint8Array(0);

export class RaftCore {
  readonly #config: RaftCoreConfig;
  readonly #random: Random;
  readonly #log: RaftLog;
  #term: Term;
  #vote: RaftNodeId | null;
  #commit: Index;
  #applied: Index;
  #role: Role = { kind: 'follower', leaderId: null };
  #electionElapsedTicks = 0;
  #randomizedElectionTicks = 0;
  #messages: RaftMessage[] = [];
  #readStates: { requestId: number; index: Index }[] = [];
  /** A snapshot from the leader, to persist and restore in the next Ready. */
  #pendingSnapshot: Snapshot | null = null;
  #persistedHardState: HardState;
  /** The Ready handed out and not yet advanced; one at a time. */
  #outstanding: Ready | null = null;
  /** Forwarded ReadIndex requests awaiting the leader's answer: requestId → tick sent. */
  readonly #forwardedReads = new Map<number, number>();
  /** Ticks since this node started; only ages forwarded reads. */
  #ticks = 0;

  constructor(config: RaftCoreConfig, deps: RaftCoreDeps) {
    assertValidConfig(config);
    this.#config = config;
    this.#random = deps.random;
    const { hardState, snapshot, entries } = deps.restored;
    const snapshotMeta = snapshot?.meta ?? {
      index: 0,
      term: 0,
      membership: config.initialMembership,
    };
    assertValidMembership(snapshotMeta.membership);
    this.#log = new RaftLog(snapshotMeta, snapshot, entries);
    this.#term = hardState.term;
    this.#vote = hardState.vote;
    this.#commit = Math.max(hardState.commit, snapshotMeta.index);
    assert(this.#commit <= this.#log.lastIndex, `restored commit ${this.#commit} beyond the log`);
    assert(this.#log.lastTerm <= this.#term, 'restored log has a term above the hard state');
    this.#applied = snapshotMeta.index;
    this.#persistedHardState = hardState;
    this.#becomeFollower(this.#term, null);
  }

  // ---- Public API -------------------------------------------------------------------------

  get id(): RaftNodeId {
    return this.#config.id;
  }

  /** Handles one message from a peer. Messages not addressed to this node are a bug. */
  step(message: RaftMessage): void {
    assert(message.to === this.#config.id, `message for ${message.to} stepped into ${this.id}`);
    if (message.from === this.#config.id) return;
    if (message.type === 'read-index-request') return this.#onReadIndexRequest(message);
    if (message.type === 'read-index-response') return this.#onReadIndexResponse(message);
    if (!this.#stepTerm(message)) return;
    switch (message.type) {
      case 'vote-request':
        return this.#onVoteRequest(message);
      case 'vote-response':
        return this.#onVoteResponse(message);
      case 'append-request':
        return this.#onAppendRequest(message);
      case 'append-response':
        return this.#onAppendResponse(message);
      case 'snapshot-request':
        return this.#onSnapshotRequest(message);
      case 'snapshot-response':
        return this.#onSnapshotResponse(message);
      case 'timeout-now':
        return this.#onTimeoutNow();
      default:
        return assertNever(message, 'raft message');
    }
  }

  /** Advances logical time by one tick (the driver converts its clock into ticks). */
  tick(): void {
    this.#ticks += 1;
    if (this.#role.kind === 'leader') return this.#tickLeader(this.#role.leader);
    this.#electionElapsedTicks += 1;
    if (!this.#isPromotable()) return;
    if (this.#electionElapsedTicks >= this.#randomizedElectionTicks) {
      this.#campaign(this.#config.preVote ? 'pre-vote' : 'election');
    }
  }

  /**
   * A definite sign that `peer`'s process is gone (its transport stream ended, its port
   * refused). A follower of that leader forgets it, which ends its lease (it grants pre-votes
   * again), and campaigns within a heartbeat instead of an election timeout. Only timing
   * changes: the vote rules decide as always, so a wrong report costs at most a pre-vote that
   * voters still hearing the leader refuse, and the leader's next heartbeat cancels it.
   */
  peerUnreachable(peer: RaftNodeId): void {
    const role = this.#role;
    if (role.kind !== 'follower' || role.leaderId !== peer) return;
    this.#role = { kind: 'follower', leaderId: null };
    // Staggered: every follower of the dead leader hears the same sign at about the same time.
    const soon = 1 + this.#random.int(this.#config.heartbeatTicks);
    this.#electionElapsedTicks = Math.max(
      this.#electionElapsedTicks,
      this.#randomizedElectionTicks - soon,
    );
  }

  /**
   * How many tick() calls from now the first one that may act is (at least 1): the ticks before
   * it only count, so a driver may sleep through them and deliver them late in one go, before
   * the next message or the acting tick. Any input may change the answer; ask again after it.
   */
  quietTicks(): number {
    const role = this.#role;
    const timeout = this.#config.electionTimeoutTicks;
    if (role.kind === 'leader') {
      const leader = role.leader;
      let ticks = Math.min(
        this.#config.heartbeatTicks - leader.heartbeatElapsedTicks,
        timeout - this.#electionElapsedTicks,
      );
      if (leader.transfer !== null) ticks = Math.min(ticks, timeout - leader.transfer.elapsedTicks);
      return Math.max(1, ticks);
    }
    // A non-voter never campaigns; waking once per election timeout keeps the sleep bounded.
    if (!this.#isPromotable()) return timeout;
    return Math.max(1, this.#randomizedElectionTicks - this.#electionElapsedTicks);
  }

  /**
   * Appends a command on the leader. Returns where it will commit if it does commit; the driver
   * learns the outcome when an entry at that index commits (same term: done; else dropped).
   * Errors: RAFT_NOT_LEADER, RAFT_TRANSFER_IN_PROGRESS, RAFT_BUSY, RAFT_ENTRY_TOO_LARGE.
   */
  propose(data: Uint8Array): RaftResult<{ index: Index; term: Term }> {
    const refused = this.#refuseProposal(data.byteLength);
    if (refused !== null) return { ok: false, error: refused };
    return { ok: true, value: this.#appendAsLeader('command', data) };
  }

  /**
   * Appends one membership change; it takes effect when appended (thesis §4.1). Errors as
   * propose, plus RAFT_CONFIG_CHANGE_PENDING (a change is uncommitted, or no entry of this term
   * is committed yet — Ongaro's fix) and RAFT_INVALID_CONFIG_CHANGE.
   */
  proposeConfigChange(change: ConfigChange): RaftResult<{ index: Index; term: Term }> {
    const data = encodeConfigChange(change);
    const refused = this.#refuseProposal(data.byteLength);
    if (refused !== null) return { ok: false, error: refused };
    if (this.#log.lastConfigIndex > this.#commit || this.#log.termAt(this.#commit) !== this.#term) {
      const error = new RaftError('RAFT_CONFIG_CHANGE_PENDING', 'a membership change is pending');
      return { ok: false, error };
    }
    const problem = configChangeProblem(this.#log.membership, change);
    if (problem !== null) {
      return { ok: false, error: new RaftError('RAFT_INVALID_CONFIG_CHANGE', problem) };
    }
    return { ok: true, value: this.#appendAsLeader('config', data) };
  }

  /**
   * Asks for a linearizable read point. Later a Ready carries { requestId, index }: serve the
   * read once the state machine applied `index`. A request may vanish when leadership changes;
   * the driver times it out. Errors: RAFT_NOT_LEADER (no known leader), RAFT_BUSY.
   */
  readIndex(requestId: number): RaftResult<null> {
    const role = this.#role;
    if (role.kind === 'leader') {
      const error = this.#leaderRead(role.leader, requestId, null);
      return error === null ? { ok: true, value: null } : { ok: false, error };
    }
    const leaderId = this.leaderId;
    if (leaderId === null) return { ok: false, error: notLeaderError(null) };
    if (this.#forwardedReads.size >= this.#config.readIndexPendingMax) this.#expireForwardedReads();
    if (this.#forwardedReads.size >= this.#config.readIndexPendingMax) {
      return { ok: false, error: new RaftError('RAFT_BUSY', 'too many forwarded reads pending') };
    }
    this.#forwardedReads.set(requestId, this.#ticks);
    this.#send({ type: 'read-index-request', to: leaderId, requestId });
    return { ok: true, value: null };
  }

  /**
   * Hands leadership to `target` (thesis §3.10): catch it up, then TimeoutNow. Proposals are
   * refused meanwhile; aborts after an election timeout. Errors: RAFT_NOT_LEADER,
   * RAFT_INVALID_TRANSFER.
   */
  transferLeadership(target: RaftNodeId): RaftResult<null> {
    const role = this.#role;
    if (role.kind !== 'leader') return { ok: false, error: notLeaderError(this.leaderId) };
    if (target === this.id) return { ok: true, value: null };
    const progress = role.leader.progress.get(target);
    if (progress === undefined || !isVoter(this.#log.membership, target)) {
      const error = new RaftError('RAFT_INVALID_TRANSFER', `node ${target} is not a voter`);
      return { ok: false, error };
    }
    role.leader.transfer = { target, elapsedTicks: 0, sent: false };
    this.#maybeSendTimeoutNow(role.leader, target);
    if (role.leader.transfer.sent) return { ok: true, value: null };
    // Catch the target up now: resend from its match rather than wait for lost appends.
    if (progress.flow.kind === 'replicate') progress.becomeReplicate();
    this.#sendAppend(role.leader, target, true);
    return { ok: true, value: null };
  }

  /** True when ready() has work and no Ready is outstanding. */
  hasReady(): boolean {
    if (this.#outstanding !== null) return false;
    return (
      this.#messages.length > 0 ||
      this.#readStates.length > 0 ||
      this.#pendingSnapshot !== null ||
      this.#log.hasUnstable() ||
      this.#commit > this.#appliedFloor() ||
      !sameHardState(this.#hardState(), this.#persistedHardState)
    );
  }

  /** Takes the pending work. Call advance(ready) after persisting, sending and applying it. */
  ready(): Ready {
    assert(this.#outstanding === null, 'ready() called before advance() of the previous Ready');
    const hardState = this.#hardState();
    const from = this.#appliedFloor() + 1;
    const to = Math.min(this.#commit, from + this.#config.committedPerReadyMax - 1);
    const ready: Ready = {
      hardState: sameHardState(hardState, this.#persistedHardState) ? null : hardState,
      entries: this.#log.takeUnstable(),
      snapshot: this.#pendingSnapshot,
      messages: this.#messages,
      committed: to >= from ? this.#log.slice(from, to) : [],
      readStates: this.#readStates,
    };
    this.#pendingSnapshot = null;
    this.#messages = [];
    this.#readStates = [];
    this.#outstanding = ready;
    return ready;
  }

  /** The driver persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    assert(ready === this.#outstanding, 'advance() of a Ready that is not outstanding');
    this.#outstanding = null;
    if (ready.hardState !== null) this.#persistedHardState = ready.hardState;
    if (ready.snapshot !== null) this.#applied = Math.max(this.#applied, ready.snapshot.meta.index);
    this.#log.markStable(ready.entries);
    const lastApplied = ready.committed.at(-1);
    if (lastApplied !== undefined) this.#applied = Math.max(this.#applied, lastApplied.index);
    // The leader counts itself toward a quorum only for entries it has made durable (R56).
    if (this.#role.kind === 'leader') this.#maybeCommit(this.#role.leader);
  }

  /**
   * The state machine's image at `index` (≤ the applied index): the log before it is dropped.
   * Returns the snapshot for the driver to store before it deletes the compacted entries.
   */
  compact(index: Index, data: Uint8Array): Snapshot {
    assert(index <= this.#applied, `compact at ${index} beyond applied ${this.#applied}`);
    return this.#log.compact(index, data);
  }

  get leaderId(): RaftNodeId | null {
    const role = this.#role;
    switch (role.kind) {
      case 'leader':
        return this.id;
      case 'follower':
      case 'observer':
        return role.leaderId;
      case 'pre-candidate':
      case 'candidate':
        return null;
      default:
        return assertNever(role, 'role');
    }
  }

  status(): RaftStatus {
    const role = this.#role;
    const progress =
      role.kind === 'leader'
        ? [...role.leader.progress].map(([id, p]) => ({
            id,
            match: p.match,
            next: p.next,
            state: p.flow.kind,
          }))
        : null;
    return {
      id: this.id,
      role: role.kind,
      term: this.#term,
      vote: this.#vote,
      leaderId: this.leaderId,
      commitIndex: this.#commit,
      appliedIndex: this.#applied,
      firstIndex: this.#log.firstIndex,
      lastIndex: this.#log.lastIndex,
      lastTerm: this.#log.lastTerm,
      stableIndex: this.#log.stableIndex,
      snapshotIndex: this.#log.snapshotMeta.index,
      membership: this.#log.membership,
      transferTarget: role.kind === 'leader' ? (role.leader.transfer?.target ?? null) : null,
      progress,
    };
  }

  /** Entries in [from, to] still in the log (for tests, checkers and the driver's catch-up). */
  entries(from: Index, to: Index): Entry[] {
    return this.#log.slice(Math.max(from, this.#log.firstIndex), to);
  }

  termAt(index: Index): Term | null {
    return this.#log.termAt(index);
  }

  /** Node-local invariants; tests call it after every step. A failure is a bug. */
  checkInvariants(): void {
    this.#log.checkInvariants();
    const role = this.#role;
    assert(this.#applied <= this.#commit, `applied ${this.#applied} above commit ${this.#commit}`);
    assert(this.#commit <= this.#log.lastIndex, `commit ${this.#commit} beyond the log`);
    assert(this.#log.snapshotMeta.index <= this.#commit, 'snapshot beyond the commit index');
    assert(this.#log.lastTerm <= this.#term, 'log term above the current term');
    assert(this.#persistedHardState.term <= this.#term, 'persisted term above the current term');
    if (role.kind === 'candidate')
      assert(this.#vote === this.id, 'candidate did not vote for itself');
    if (role.kind === 'leader') {
      assert(this.#log.lastTerm === this.#term, 'leader without an entry of its term');
      for (const [id, progress] of role.leader.progress) {
        assert(id !== this.id, 'leader tracks its own progress');
        progress.checkInvariants(this.#log.lastIndex);
      }
      const { uncommittedBytes } = role.leader;
      assert(uncommittedBytes >= 0, 'negative uncommitted bytes');
    }
    if (role.kind === 'leader' || role.kind === 'candidate' || role.kind === 'pre-candidate') {
      const leading = role.kind === 'leader' && this.#log.lastConfigIndex > this.#commit;
      assert(leading || isVoter(this.#log.membership, this.id), `${role.kind} is not a voter`);
    }
  }

  // ---- Terms and roles ---------------------------------------------------------------------

  /** Applies the term rules of Fig. 2; returns false when the message is to be ignored. */
  #stepTerm(message: RaftMessage): boolean {
    if (message.term > this.#term) {
      if (message.type === 'vote-request') {
        if (!message.transfer && this.#inLease()) return false;
        if (message.preVote) return true; // A pre-vote never changes our term.
      }
      if (message.type === 'vote-response' && message.preVote && message.granted) return true;
      const fromLeader =
        message.type === 'append-request' ||
        message.type === 'snapshot-request' ||
        message.type === 'timeout-now';
      this.#becomeFollower(message.term, fromLeader ? message.from : null);
      return true;
    }
    if (message.term < this.#term) {
      this.#answerStaleMessage(message);
      return false;
    }
    return true;
  }

  /** A stale leader or pre-candidate learns our term, so it steps down (etcd R35). */
  #answerStaleMessage(message: RaftMessage): void {
    if (message.type === 'append-request') {
      this.#answerAppend(message, { context: 0 });
    } else if (message.type === 'vote-request' && message.preVote) {
      this.#send({ type: 'vote-response', to: message.from, preVote: true, granted: false });
    }
  }

  /** Voters that heard from a leader within the election timeout refuse to elect another. */
  #inLease(): boolean {
    if (!this.#config.checkQuorum) return false;
    if (this.leaderId === null) return false;
    return this.#electionElapsedTicks < this.#config.electionTimeoutTicks;
  }

  #isPromotable(): boolean {
    return isVoter(this.#log.membership, this.id);
  }

  #becomeFollower(term: Term, leaderId: RaftNodeId | null): void {
    if (term > this.#term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#dropLeaderState();
    this.#role = this.#isPromotable()
      ? { kind: 'follower', leaderId }
      : { kind: 'observer', leaderId };
    this.#resetElectionTimer();
  }

  #dropLeaderState(): void {
    if (this.#role.kind === 'leader') {
      // Reads forwarded by followers are refused at once; local ones simply never complete.
      for (const read of this.#role.leader.reads.drain()) {
        if (read.from === null) continue;
        const { requestId } = read;
        this.#send({ type: 'read-index-response', to: read.from, requestId, index: null });
      }
    }
  }

  #resetElectionTimer(): void {
    this.#electionElapsedTicks = 0;
    const timeout = this.#config.electionTimeoutTicks;
    this.#randomizedElectionTicks = timeout + this.#random.int(timeout);
  }

  /** `transfer` skips pre-vote and the voters' lease check (TimeoutNow, thesis §3.10). */
  #campaign(kind: 'pre-vote' | 'election' | 'transfer'): void {
    this.#dropLeaderState();
    this.#resetElectionTimer();
    const votes: VoteTally = { granted: new Set([this.id]), rejected: new Set() };
    const preVote = kind === 'pre-vote';
    const transfer = kind === 'transfer';
    if (preVote) {
      this.#role = { kind: 'pre-candidate', votes };
    } else {
      this.#term += 1;
      this.#vote = this.id;
      this.#role = { kind: 'candidate', votes };
    }
    if (this.#tallyVotes()) return;
    const term = preVote ? this.#term + 1 : this.#term;
    for (const voter of this.#log.membership.voters) {
      if (voter === this.id) continue;
      this.#sendWithTerm(term, {
        type: 'vote-request',
        to: voter,
        preVote,
        lastLogIndex: this.#log.lastIndex,
        lastLogTerm: this.#log.lastTerm,
        transfer,
      });
    }
  }

  /** Acts on the votes so far; returns true when the campaign ended. */
  #tallyVotes(): boolean {
    const role = this.#role;
    if (role.kind !== 'pre-candidate' && role.kind !== 'candidate') return true;
    const outcome = voteOutcome(
      this.#log.membership.voters,
      role.votes.granted,
      role.votes.rejected,
    );
    if (outcome === 'pending') return false;
    if (outcome === 'lost') {
      this.#becomeFollower(this.#term, null);
    } else if (role.kind === 'pre-candidate') {
      this.#campaign('election');
    } else {
      this.#becomeLeader();
    }
    return true;
  }

  #becomeLeader(): void {
    const progress = new Map<RaftNodeId, Progress>();
    const leader: LeaderState = {
      progress,
      reads: new ReadIndexQueue(this.#config.readIndexPendingMax),
      transfer: null,
      uncommittedBytes: 0,
      heartbeatElapsedTicks: 0,
    };
    this.#role = { kind: 'leader', leader };
    this.#electionElapsedTicks = 0;
    this.#syncProgress(leader);
    for (const p of progress.values()) p.recentActive = true;
    // §5.4.2 / §6.4: a noop of the new term commits the previous terms' entries and lets reads go.
    this.#appendAsLeader('noop', emptyData);
  }

  // ---- Elections ---------------------------------------------------------------------------

  #onVoteRequest(message: VoteRequest): void {
    const futurePreVote = message.preVote && message.term > this.#term;
    const canVote =
      this.#vote === message.from ||
      (this.#vote === null && this.leaderId === null) ||
      futurePreVote;
    const granted = canVote && this.#log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    if (granted && !message.preVote) {
      this.#vote = message.from;
      this.#resetElectionTimer();
    }
    const term = granted && message.preVote ? message.term : this.#term;
    this.#sendWithTerm(term, {
      type: 'vote-response',
      to: message.from,
      preVote: message.preVote,
      granted,
    });
  }

  #onVoteResponse(message: VoteResponse): void {
    const role = this.#role;
    if (role.kind === 'pre-candidate' && message.preVote) {
      if (message.granted && message.term !== this.#term + 1) return;
    } else if (role.kind !== 'candidate' || message.preVote) {
      return;
    }
    (message.granted ? role.votes.granted : role.votes.rejected).add(message.from);
    this.#tallyVotes();
  }

  #onTimeoutNow(): void {
    if (this.#role.kind === 'leader' || !this.#isPromotable()) return;
    this.#campaign('transfer');
  }

  // ---- Replication: follower side -----------------------------------------------------------

  #onAppendRequest(message: AppendRequest): void {
    this.#followLeader(message.from);
    const reply = (fields: Partial<Outgoing<AppendResponse>>) =>
      this.#answerAppend(message, fields);
    if (message.prevLogIndex < this.#commit) {
      // Everything up to our commit index already matches the leader (Leader Completeness).
      return reply({ success: true, matchIndex: this.#commit });
    }
    const localTerm = this.#log.termAt(message.prevLogIndex);
    if (localTerm === null) {
      return reply({ conflictIndex: this.#log.lastIndex + 1 });
    }
    if (localTerm !== message.prevLogTerm) {
      const first = this.#log.firstIndexOfTerm(message.prevLogIndex, localTerm);
      return reply({ conflictTerm: localTerm, conflictIndex: Math.max(first, this.#commit + 1) });
    }
    const truncatedAt = this.#log.appendFromLeader(message.entries);
    assert(
      truncatedAt === null || truncatedAt > this.#commit,
      'leader overwrote a committed entry',
    );
    const lastNew = message.prevLogIndex + message.entries.length;
    this.#advanceCommit(Math.min(message.commit, lastNew));
    this.#afterMembershipMayChange();
    reply({ success: true, matchIndex: lastNew });
  }

  /** A refusal that echoes the request's index and context; `fields` turn it into the answer. */
  #answerAppend(message: AppendRequest, fields: Partial<Outgoing<AppendResponse>>): void {
    this.#send({
      type: 'append-response',
      to: message.from,
      success: false,
      matchIndex: 0,
      prevLogIndex: message.prevLogIndex,
      conflictTerm: null,
      conflictIndex: 0,
      lastLogIndex: this.#log.lastIndex,
      context: message.context,
      ...fields,
    });
  }

  #onSnapshotRequest(message: SnapshotRequest): void {
    this.#followLeader(message.from);
    const { meta } = message.snapshot;
    const reply = (matchIndex: Index) =>
      this.#send({ type: 'snapshot-response', to: message.from, matchIndex, success: true });
    if (meta.index <= this.#commit) return reply(this.#commit);
    if (this.#log.termAt(meta.index) === meta.term) {
      // Our log already holds it: commit up to it and apply entries normally.
      this.#advanceCommit(meta.index);
      return reply(meta.index);
    }
    this.#log.restore(message.snapshot);
    this.#pendingSnapshot = message.snapshot;
    this.#commit = meta.index;
    this.#afterMembershipMayChange();
    reply(meta.index);
  }

  #followLeader(leaderId: RaftNodeId): void {
    const role = this.#role;
    assert(role.kind !== 'leader', `two leaders in term ${this.#term}`);
    if (role.kind !== 'follower' && role.kind !== 'observer') {
      this.#becomeFollower(this.#term, leaderId); // A candidate concedes (R31).
    } else if (role.leaderId !== leaderId) {
      this.#role = { kind: role.kind, leaderId };
    }
    this.#electionElapsedTicks = 0;
  }

  #advanceCommit(index: Index): void {
    if (index > this.#commit) this.#commit = index;
  }

  // ---- Replication: leader side -------------------------------------------------------------

  #refuseProposal(bytes: number): RaftError | null {
    const role = this.#role;
    if (role.kind !== 'leader') return notLeaderError(this.leaderId);
    const { leader } = role;
    if (leader.transfer !== null) {
      return new RaftError(
        'RAFT_TRANSFER_IN_PROGRESS',
        `leadership is moving to ${leader.transfer.target}`,
        {
          details: { leaderId: leader.transfer.target },
        },
      );
    }
    if (bytes > this.#config.entryBytesMax) {
      return new RaftError('RAFT_ENTRY_TOO_LARGE', `entry of ${bytes} bytes exceeds entryBytesMax`);
    }
    if (
      leader.uncommittedBytes > 0 &&
      leader.uncommittedBytes + bytes > this.#config.uncommittedBytesMax
    ) {
      return new RaftError('RAFT_BUSY', 'too many uncommitted bytes on the leader');
    }
    return null;
  }

  #appendAsLeader(kind: EntryKind, data: Uint8Array): { index: Index; term: Term } {
    const role = this.#role;
    assert(role.kind === 'leader', 'append as leader on a non-leader');
    const entry: Entry = { term: this.#term, index: this.#log.lastIndex + 1, kind, data };
    this.#log.append(entry);
    role.leader.uncommittedBytes += data.byteLength;
    if (kind === 'config') this.#afterMembershipMayChange();
    this.#broadcastAppend(role.leader);
    this.#maybeCommit(role.leader);
    return { index: entry.index, term: entry.term };
  }

  #broadcastAppend(leader: LeaderState): void {
    for (const id of leader.progress.keys()) this.#sendAppend(leader, id, false);
  }

  /** Sends entries from next (or a snapshot when they are compacted). `force` sends an empty one. */
  #sendAppend(leader: LeaderState, to: RaftNodeId, force: boolean): void {
    const progress = leader.progress.get(to);
    if (progress === undefined || progress.isPaused(this.#config.inflightAppendsMax)) return;
    const prevLogIndex = progress.next - 1;
    const prevLogTerm = this.#log.termAt(prevLogIndex);
    if (prevLogTerm === null) return this.#sendSnapshot(progress, to);
    const entries =
      progress.next <= this.#log.lastIndex
        ? this.#log.slice(progress.next, this.#log.lastIndex, this.#config.appendBytesMax)
        : [];
    if (entries.length === 0 && progress.flow.kind === 'replicate') {
      // Nothing new: an empty append at match carries the commit index without an optimistic
      // prevLogIndex that reordering could turn into a spurious rejection.
      if (force) this.#sendHeartbeat(leader, to, progress);
      return;
    }
    this.#send({
      type: 'append-request',
      to,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.#commit,
      context: leader.reads.round,
    });
    const last = entries.at(-1);
    if (progress.flow.kind === 'replicate' && last !== undefined) {
      progress.flow.inflight.push(last.index);
      progress.next = last.index + 1;
    } else if (progress.flow.kind === 'probe') {
      progress.flow.paused = true;
    }
  }

  #sendSnapshot(progress: Progress, to: RaftNodeId): void {
    const snapshot = this.#log.snapshot;
    assert(snapshot !== null, 'entries compacted without a snapshot');
    progress.becomeSnapshot(snapshot.meta.index);
    this.#send({ type: 'snapshot-request', to, snapshot });
  }

  /** An empty append at the follower's match index: commit news, liveness and ReadIndex acks. */
  #sendHeartbeat(leader: LeaderState, to: RaftNodeId, progress: Progress): void {
    const prevLogTerm = this.#log.termAt(progress.match);
    if (prevLogTerm === null) {
      // The follower's match was compacted away: only a snapshot can help it now.
      if (progress.flow.kind === 'snapshot') return;
      progress.next = progress.match + 1;
      progress.becomeProbe();
      return this.#sendAppend(leader, to, true);
    }
    this.#send({
      type: 'append-request',
      to,
      prevLogIndex: progress.match,
      prevLogTerm,
      entries: [],
      commit: this.#commit,
      context: leader.reads.round,
    });
  }

  #broadcastHeartbeat(leader: LeaderState): void {
    for (const [id, progress] of leader.progress) {
      switch (progress.flow.kind) {
        case 'probe':
          progress.flow.paused = false;
          this.#sendAppend(leader, id, true);
          break;
        case 'replicate':
          progress.stalledTicks += this.#config.heartbeatTicks;
          if (
            progress.next - 1 > progress.match &&
            progress.stalledTicks >= this.#config.electionTimeoutTicks
          ) {
            // An append in flight for an election timeout was lost: resend from match.
            progress.stalledTicks = 0;
            progress.becomeReplicate();
            this.#sendAppend(leader, id, true);
          } else {
            this.#sendHeartbeat(leader, id, progress);
          }
          break;
        case 'snapshot':
          progress.flow.waitedTicks += this.#config.heartbeatTicks;
          if (progress.flow.waitedTicks >= this.#config.electionTimeoutTicks) {
            // The snapshot or its answer was lost: probe again, which resends it if needed.
            progress.becomeProbe();
            this.#sendAppend(leader, id, true);
          } else {
            this.#sendHeartbeat(leader, id, progress);
          }
          break;
        default:
          assertNever(progress.flow, 'progress flow');
      }
    }
  }

  #onAppendResponse(message: AppendResponse): void {
    const role = this.#role;
    if (role.kind !== 'leader') return;
    const { leader } = role;
    const progress = leader.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    this.#ackReadRound(leader, progress, message.context);
    if (!message.success) return this.#onAppendRejected(leader, progress, message);
    const moved = progress.maybeUpdate(message.matchIndex);
    if (progress.flow.kind === 'probe' && (moved || message.matchIndex >= progress.match)) {
      progress.becomeReplicate();
    } else if (progress.flow.kind === 'snapshot' && progress.match >= progress.flow.snapshotIndex) {
      progress.becomeReplicate();
    } else if (
      !moved &&
      progress.flow.kind === 'replicate' &&
      progress.isPaused(this.#config.inflightAppendsMax)
    ) {
      // A heartbeat answered without progress: free a slot so a lost append is retried (etcd).
      progress.flow.inflight.shift();
    }
    if (moved) this.#maybeCommit(leader);
    this.#maybeSendTimeoutNow(leader, message.from);
    if (this.#role.kind === 'leader') this.#sendAppend(leader, message.from, false);
  }

  #onAppendRejected(leader: LeaderState, progress: Progress, message: AppendResponse): void {
    const flow = progress.flow;
    if (flow.kind === 'snapshot') return;
    if (flow.kind === 'replicate' && message.prevLogIndex <= progress.match) return; // Stale.
    if (flow.kind === 'probe' && message.prevLogIndex !== progress.next - 1) return; // Stale.
    let next = message.conflictIndex;
    if (message.conflictTerm !== null) {
      const last = this.#log.lastIndexOfTerm(message.conflictTerm);
      if (last !== null) next = last + 1;
    }
    const before = progress.next;
    progress.next = Math.max(progress.match + 1, Math.min(next, message.prevLogIndex));
    progress.becomeProbe();
    // No step back (only a follower that lost acknowledged entries answers so): wait for the
    // heartbeat instead of answering at once, so duplicated rejections cannot multiply.
    if (progress.next === before && progress.flow.kind === 'probe') progress.flow.paused = true;
    else this.#sendAppend(leader, message.from, true);
  }

  #onSnapshotResponse(message: SnapshotResponse): void {
    const role = this.#role;
    if (role.kind !== 'leader') return;
    const progress = role.leader.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.maybeUpdate(message.matchIndex);
    if (progress.flow.kind === 'snapshot') progress.becomeProbe();
    this.#maybeCommit(role.leader);
    if (this.#role.kind === 'leader') this.#sendAppend(role.leader, message.from, true);
  }

  /** §5.4.2 (Fig. 8): commit only by counting replicas of an entry of the current term. */
  #maybeCommit(leader: LeaderState): void {
    const membership = this.#log.membership;
    const candidate = quorumValue(membership.voters, (id) =>
      id === this.id ? this.#log.stableIndex : (leader.progress.get(id)?.match ?? 0),
    );
    if (candidate <= this.#commit || this.#log.termAt(candidate) !== this.#term) return;
    for (const entry of this.#log.slice(this.#commit + 1, candidate)) {
      if (entry.term === this.#term) leader.uncommittedBytes -= entry.data.byteLength;
    }
    this.#commit = candidate;
    if (leader.reads.hasUnstarted()) this.#startReadRound(leader);
    for (const id of leader.progress.keys()) this.#sendAppend(leader, id, true);
    if (!isVoter(this.#log.membership, this.id) && this.#log.lastConfigIndex <= this.#commit) {
      this.#stepDownRemovedLeader(leader);
    }
  }

  /** Thesis §4.2.2: a leader removed from the voters steps down once the removal commits. */
  #stepDownRemovedLeader(leader: LeaderState): void {
    let best: RaftNodeId | null = null;
    for (const [id, progress] of leader.progress) {
      if (!isVoter(this.#log.membership, id)) continue;
      if (progress.match === this.#log.lastIndex) best = id;
    }
    if (best !== null) this.#send({ type: 'timeout-now', to: best });
    this.#becomeFollower(this.#term, null);
  }

  #tickLeader(leader: LeaderState): void {
    this.#electionElapsedTicks += 1;
    leader.heartbeatElapsedTicks += 1;
    if (this.#electionElapsedTicks >= this.#config.electionTimeoutTicks) {
      this.#electionElapsedTicks = 0;
      if (this.#config.checkQuorum && !this.#quorumActive(leader)) {
        return this.#becomeFollower(this.#term, null);
      }
      for (const progress of leader.progress.values()) progress.recentActive = false;
    }
    if (leader.transfer !== null) {
      leader.transfer.elapsedTicks += 1;
      if (leader.transfer.elapsedTicks >= this.#config.electionTimeoutTicks) leader.transfer = null;
    }
    if (leader.heartbeatElapsedTicks >= this.#config.heartbeatTicks) {
      leader.heartbeatElapsedTicks = 0;
      this.#broadcastHeartbeat(leader);
    }
  }

  #quorumActive(leader: LeaderState): boolean {
    const voters = this.#log.membership.voters;
    const active = quorumValue(voters, (id) =>
      id === this.id || leader.progress.get(id)?.recentActive === true ? 1 : 0,
    );
    return active === 1;
  }

  #maybeSendTimeoutNow(leader: LeaderState, from: RaftNodeId): void {
    const transfer = leader.transfer;
    if (transfer === null || transfer.target !== from || transfer.sent) return;
    if (leader.progress.get(from)?.match !== this.#log.lastIndex) return;
    transfer.sent = true;
    this.#send({ type: 'timeout-now', to: from });
  }

  // ---- Membership ---------------------------------------------------------------------------

  /** Config takes effect when appended (thesis §4.1): align role and progress with it. */
  #afterMembershipMayChange(): void {
    const role = this.#role;
    const voter = this.#isPromotable();
    if (role.kind === 'leader') {
      this.#syncProgress(role.leader);
      return;
    }
    if (!voter && role.kind !== 'observer') {
      this.#role = { kind: 'observer', leaderId: this.leaderId };
    } else if (voter && role.kind === 'observer') {
      this.#role = { kind: 'follower', leaderId: role.leaderId };
    }
  }

  #syncProgress(leader: LeaderState): void {
    const wanted = new Set(members(this.#log.membership).filter((id) => id !== this.id));
    for (const id of leader.progress.keys()) if (!wanted.has(id)) leader.progress.delete(id);
    for (const id of wanted) {
      if (leader.progress.has(id)) continue;
      const progress = new Progress(this.#log.lastIndex + 1);
      progress.recentActive = true;
      leader.progress.set(id, progress);
    }
    if (leader.transfer !== null && !wanted.has(leader.transfer.target)) leader.transfer = null;
  }

  // ---- ReadIndex ----------------------------------------------------------------------------

  #leaderRead(leader: LeaderState, requestId: number, from: RaftNodeId | null): RaftError | null {
    const read = leader.reads.tryAdd(requestId, from);
    if (read === null) return new RaftError('RAFT_BUSY', 'too many reads pending on the leader');
    // §6.4: until an entry of its term commits, the leader does not know the commit index.
    if (this.#log.termAt(this.#commit) === this.#term) this.#startReadRound(leader);
    return null;
  }

  #startReadRound(leader: LeaderState): void {
    leader.reads.startRound(this.#commit);
    if (this.#log.membership.voters.length === 1 || leader.progress.size === 0) {
      this.#releaseReads(leader);
      return;
    }
    for (const [id, progress] of leader.progress) this.#sendHeartbeat(leader, id, progress);
  }

  #ackReadRound(leader: LeaderState, progress: Progress, round: number): void {
    if (round <= progress.readRoundAcked) return;
    progress.readRoundAcked = round;
    this.#releaseReads(leader);
  }

  #releaseReads(leader: LeaderState): void {
    const confirmed = quorumValue(this.#log.membership.voters, (id) =>
      id === this.id ? leader.reads.round : (leader.progress.get(id)?.readRoundAcked ?? 0),
    );
    for (const read of leader.reads.release(confirmed)) {
      const { requestId, index, from } = read;
      assert(index !== null, 'released a read without an index');
      if (from === null) this.#readStates.push({ requestId, index });
      else this.#send({ type: 'read-index-response', to: from, requestId, index });
    }
  }

  #onReadIndexRequest(message: ReadIndexRequest): void {
    const role = this.#role;
    const { from, requestId } = message;
    const refuse = () =>
      this.#send({ type: 'read-index-response', to: from, requestId, index: null });
    if (role.kind !== 'leader' || message.term !== this.#term) return refuse();
    if (this.#leaderRead(role.leader, message.requestId, message.from) !== null) refuse();
  }

  /** A forwarded read unanswered for two election timeouts was lost; its caller timed out. */
  #expireForwardedReads(): void {
    const oldest = this.#ticks - 2 * this.#config.electionTimeoutTicks;
    for (const [requestId, sentAt] of this.#forwardedReads) {
      if (sentAt < oldest) this.#forwardedReads.delete(requestId);
    }
  }

  #onReadIndexResponse(message: ReadIndexResponse): void {
    const { requestId, index } = message;
    if (!this.#forwardedReads.delete(requestId) || index === null) return;
    this.#readStates.push({ requestId, index });
  }

  // ---- Output -------------------------------------------------------------------------------

  #send(message: Outgoing<RaftMessage>): void {
    this.#sendWithTerm(this.#term, message);
  }

  #sendWithTerm(term: Term, message: Outgoing<RaftMessage>): void {
    this.#messages.push({ ...message, from: this.id, term } as RaftMessage);
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.#commit };
  }

  /** Entries up to here were applied or are covered by a snapshot awaiting restore. */
  #appliedFloor(): Index {
    return Math.max(this.#applied, this.#log.snapshotMeta.index);
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
