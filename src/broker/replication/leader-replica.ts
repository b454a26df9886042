// The leader side of one partition in one leader epoch: it answers follower fetches (fenced,
// diverging, out of range or a read), tracks follower progress, moves the high watermark,
// proposes at most one ISR change at a time, and keeps the acks=all waiters. Pure: time comes in
// as nowMs, the log is read through ReplicaLogView, and every decision is returned as data.
// Invariant: the HW never decreases in this epoch and never passes the leader's LEO.
import { assert, type NodeId } from '../../common/index.ts';
import type { IsrChangeErrorCode, ReplicationErrorCode } from './errors.ts';
import {
  initialProgress,
  maximalIsr,
  mayJoinIsr,
  nextHighWatermark,
  outOfSyncFollowers,
  updateProgress,
  type FollowerProgress,
} from './isr.ts';
import {
  checkPartitionState,
  sameMembers,
  type IsrChangeRequest,
  type PartitionState,
} from './partition-state.ts';
import type { ReplicaLogView } from './replica-log.ts';

export interface LeaderReplicaConfig {
  readonly replicaId: NodeId;
  readonly minInsyncReplicas: number; // min.insync.replicas
  readonly replicaLagMsMax: number; // replica.lag.time.max.ms
  readonly ackWaitersMax: number; // acks=all produces waiting for the HW at once
  readonly isrChangeRetryMs: number; // resend an unanswered ISR change after this long
}

export interface FollowerFetchRequest {
  readonly replicaId: NodeId;
  readonly fetchOffset: number;
  /** The epoch of the follower's last batch (its latest epoch-cache entry), null if empty. */
  readonly lastFetchedEpoch: number | null;
  readonly currentLeaderEpoch: number;
}

export type FollowerFetchDecision =
  | { readonly kind: 'error'; readonly code: EpochErrorCode; readonly leaderEpoch: number }
  /** The follower's log diverged: it truncates to this epoch's end (KIP-320) and refetches. */
  | { readonly kind: 'diverging'; readonly epoch: number; readonly endOffset: number }
  | { readonly kind: 'outOfRange'; readonly logStartOffset: number; readonly logEndOffset: number }
  /** Read whole batches from fetchOffset below maxOffsetExclusive (the leader's LEO). */
  | {
      readonly kind: 'read';
      readonly fetchOffset: number;
      readonly maxOffsetExclusive: number;
      readonly highWatermark: number;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
    };

export type EpochErrorCode =
  'FENCED_LEADER_EPOCH' | 'UNKNOWN_LEADER_EPOCH' | 'NOT_LEADER_OR_FOLLOWER';

export type EpochEndOffsetDecision =
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  /** epoch null: the leader has no epoch ≤ the one asked; endOffset is then its log start. */
  | { readonly kind: 'ok'; readonly epoch: number | null; readonly endOffset: number };

export type ConsumerReadDecision =
  | { readonly kind: 'error'; readonly code: ReplicationErrorCode }
  | {
      readonly kind: 'read';
      readonly fetchOffset: number;
      readonly maxOffsetExclusive: number;
      readonly highWatermark: number;
      readonly leaderEpoch: number;
    };

export interface AckWaiter {
  readonly produceId: number;
  readonly lastOffset: number;
  readonly deadlineMs: number;
}

export type AckOutcome =
  | { readonly produceId: number; readonly kind: 'acked'; readonly lastOffset: number }
  | { readonly produceId: number; readonly kind: 'failed'; readonly code: ReplicationErrorCode };

export type IsrChangeResult =
  | { readonly ok: true; readonly state: PartitionState }
  | { readonly ok: false; readonly code: IsrChangeErrorCode };

type PendingIsrChange = {
  readonly request: IsrChangeRequest;
  /** null: never sent. */
  readonly sentAtMs: number | null;
  /** The controller refused on a stale version: wait for metadata instead of resending. */
  readonly awaitingMetadata: boolean;
};

function sameRequest(a: IsrChangeRequest, b: IsrChangeRequest): boolean {
  return (
    a.leaderEpoch === b.leaderEpoch &&
    a.partitionEpoch === b.partitionEpoch &&
    sameMembers(a.newIsr, b.newIsr)
  );
}

export class LeaderReplica {
  #config: LeaderReplicaConfig;
  readonly #log: ReplicaLogView;
  #state: PartitionState;
  readonly #progress = new Map<NodeId, FollowerProgress>();
  #highWatermark: number;
  #pending: PendingIsrChange | null = null;
  readonly #waiters: AckWaiter[] = [];
  readonly #outcomes: AckOutcome[] = [];
  #resigned = false;
  /** The leader's LEO when it was elected: the start offset of its epoch (rule d, P14). */
  readonly epochStartOffset: number;

  constructor(
    config: LeaderReplicaConfig,
    log: ReplicaLogView,
    state: PartitionState,
    initialHighWatermark: number,
    nowMs: number,
  ) {
    checkPartitionState(state);
    assert(state.leader === config.replicaId, 'a LeaderReplica must be the partition leader');
    assert(config.minInsyncReplicas >= 1, 'min.insync.replicas must be ≥ 1');
    assert(config.ackWaitersMax >= 1, 'ackWaitersMax must be ≥ 1');
    this.#config = config;
    this.#log = log;
    this.#state = state;
    this.epochStartOffset = log.logEndOffset;
    this.#highWatermark = Math.min(
      Math.max(initialHighWatermark, log.logStartOffset),
      log.logEndOffset,
    );
    for (const id of state.replicas) {
      if (id !== config.replicaId) this.#progress.set(id, initialProgress(id, nowMs));
    }
  }

  get leaderEpoch(): number {
    return this.#state.leaderEpoch;
  }
  get partitionState(): PartitionState {
    return this.#state;
  }
  /** The HW as computed; followers receive it. Clients see it only once settled (P14). */
  get highWatermark(): number {
    return this.#highWatermark;
  }
  /** A new leader's HW has caught up with the log it was elected with. */
  get isHighWatermarkSettled(): boolean {
    return this.#highWatermark >= this.epochStartOffset;
  }
  get maximalIsr(): readonly NodeId[] {
    return maximalIsr(this.#state.isr, this.#pending?.request ?? null);
  }
  get pendingIsrChange(): IsrChangeRequest | null {
    return this.#pending?.request ?? null;
  }
  get ackWaiterCount(): number {
    return this.#waiters.length;
  }
  followerProgress(id: NodeId): FollowerProgress | undefined {
    return this.#progress.get(id);
  }

  /**
   * A follower's fetch. Codes: FENCED_LEADER_EPOCH (its epoch is older), UNKNOWN_LEADER_EPOCH
   * (newer), NOT_LEADER_OR_FOLLOWER (not a replica). Only a read updates its progress.
   */
  onFollowerFetch(request: FollowerFetchRequest, nowMs: number): FollowerFetchDecision {
    const epochError = this.#checkEpoch(request.currentLeaderEpoch, request.replicaId);
    if (epochError !== null) {
      return { kind: 'error', code: epochError, leaderEpoch: this.#state.leaderEpoch };
    }
    const divergence = this.#divergence(request);
    if (divergence !== null) return divergence;
    const leaderEnd = this.#log.logEndOffset;
    const start = this.#log.logStartOffset;
    if (request.fetchOffset < start || request.fetchOffset > leaderEnd) {
      return { kind: 'outOfRange', logStartOffset: start, logEndOffset: leaderEnd };
    }
    const previous = this.#progress.get(request.replicaId);
    assert(previous !== undefined, 'progress exists for every replica');
    const next = updateProgress(previous, request.fetchOffset, leaderEnd, nowMs);
    this.#progress.set(request.replicaId, next);
    this.#maybeAdvanceHighWatermark(nowMs);
    return {
      kind: 'read',
      fetchOffset: request.fetchOffset,
      maxOffsetExclusive: leaderEnd,
      highWatermark: this.#highWatermark,
      logStartOffset: start,
      logEndOffset: leaderEnd,
    };
  }

  /**
   * KIP-227: the follower's live fetch session left this partition out, so as of `asOfMs` it
   * still fetched at `fetchOffset` in `currentLeaderEpoch`. The caller vouches that this
   * leader's log end has not moved since that follower's last fetch here (a session looks again
   * at every partition whose log end moved), so it counts as a fetch against the log end of
   * that fetch: it keeps lastCaughtUpMs fresh without a visit per idle round. Any other epoch
   * or position, or an older time, is ignored. The HW cannot move (no follower moved).
   */
  onFollowerStillAt(
    replicaId: NodeId,
    fetchOffset: number,
    currentLeaderEpoch: number,
    asOfMs: number,
  ): void {
    if (this.#resigned || currentLeaderEpoch !== this.#state.leaderEpoch) return;
    const previous = this.#progress.get(replicaId);
    if (previous === undefined || previous.logEndOffset !== fetchOffset) return;
    if (asOfMs <= previous.lastFetchMs) return;
    const leaderEnd = previous.lastFetchLeaderEndOffset;
    this.#progress.set(replicaId, updateProgress(previous, fetchOffset, leaderEnd, asOfMs));
  }

  /**
   * Nothing this core decides can change with time alone: no acks=all waiter or undelivered
   * outcome, no ISR change pending, every ISR follower holds the leader's log end (none can
   * fall out of sync), and no follower outside the ISR does (none is left to join, e.g. after
   * a refusal). A quiet leader needs no timer until its next event (append, fetch, metadata).
   */
  get isQuiet(): boolean {
    if (this.#waiters.length > 0 || this.#outcomes.length > 0) return false;
    if (this.#pending !== null) return false;
    const leaderEnd = this.#log.logEndOffset;
    for (const id of this.#state.replicas) {
      if (id === this.#config.replicaId) continue;
      const caughtUp = this.#progress.get(id)?.logEndOffset === leaderEnd;
      if (caughtUp !== this.#state.isr.includes(id)) return false;
    }
    return true;
  }

  /** OffsetsForLeaderEpoch from a follower (KIP-101, KIP-279), fenced as KIP-320 says. */
  onEpochEndOffsetRequest(
    replicaId: NodeId,
    currentLeaderEpoch: number,
    epoch: number,
  ): EpochEndOffsetDecision {
    const epochError = this.#checkEpoch(currentLeaderEpoch, replicaId);
    if (epochError !== null) return { kind: 'error', code: epochError };
    const found = this.#log.endOffsetForEpoch(epoch);
    if (found === null) return { kind: 'ok', epoch: null, endOffset: this.#log.logStartOffset };
    return { kind: 'ok', epoch: found.epoch, endOffset: found.endOffset };
  }

  /**
   * A consumer's fetch. Codes: OFFSET_NOT_AVAILABLE (a new leader whose HW has not reached its
   * epoch start, or an offset between the HW and the LEO), OFFSET_OUT_OF_RANGE,
   * FENCED/UNKNOWN_LEADER_EPOCH. Until settled every read is refused, even below the HW:
   * any answer would carry a HW that may be below one the old leader showed. The price is
   * that reads wait while the ISR is below min.insync.replicas after a failover.
   */
  onConsumerRead(fetchOffset: number, currentLeaderEpoch: number | null): ConsumerReadDecision {
    if (currentLeaderEpoch !== null) {
      const epochError = this.#checkEpoch(currentLeaderEpoch, null);
      if (epochError !== null) return { kind: 'error', code: epochError };
    }
    if (!this.isHighWatermarkSettled) return { kind: 'error', code: 'OFFSET_NOT_AVAILABLE' };
    if (fetchOffset < this.#log.logStartOffset || fetchOffset > this.#log.logEndOffset) {
      return { kind: 'error', code: 'OFFSET_OUT_OF_RANGE' };
    }
    if (fetchOffset > this.#highWatermark) return { kind: 'error', code: 'OFFSET_NOT_AVAILABLE' };
    return {
      kind: 'read',
      fetchOffset,
      maxOffsetExclusive: this.#highWatermark,
      highWatermark: this.#highWatermark,
      leaderEpoch: this.#state.leaderEpoch,
    };
  }

  /** ListOffsets "latest": the HW, or OFFSET_NOT_AVAILABLE while it is not settled. */
  latestOffset():
    | { readonly kind: 'ok'; readonly offset: number }
    | { readonly kind: 'error'; readonly code: 'OFFSET_NOT_AVAILABLE' } {
    if (!this.isHighWatermarkSettled) return { kind: 'error', code: 'OFFSET_NOT_AVAILABLE' };
    return { kind: 'ok', offset: this.#highWatermark };
  }

  /** Produce admission, before anything is appended. Codes: NOT_ENOUGH_REPLICAS. */
  admitProduce(acks: 0 | 1 | 'all'): ReplicationErrorCode | null {
    assert(!this.#resigned, 'a resigned leader admits nothing');
    if (acks === 'all' && this.#state.isr.length < this.#config.minInsyncReplicas) {
      return 'NOT_ENOUGH_REPLICAS';
    }
    return null;
  }

  /**
   * The topic's min.insync.replicas changed: admission and the ack waiters follow the new value
   * at once (a waiter under the new minimum fails NOT_ENOUGH_REPLICAS_AFTER_APPEND).
   */
  onMinInsyncReplicasChange(minInsyncReplicas: number, nowMs: number): void {
    assert(minInsyncReplicas >= 1, 'min.insync.replicas must be ≥ 1');
    if (minInsyncReplicas === this.#config.minInsyncReplicas) return;
    this.#config = { ...this.#config, minInsyncReplicas };
    this.#maybeAdvanceHighWatermark(nowMs);
  }

  /** The leader's log has appended up to lastOffset (its LEO moved). */
  onAppend(lastOffset: number, nowMs: number): void {
    assert(lastOffset < this.#log.logEndOffset, 'onAppend after the append, not before');
    this.#maybeAdvanceHighWatermark(nowMs);
  }

  /**
   * An acks=all produce whose batch ends at lastOffset waits for HW > lastOffset. Returns
   * BROKER_BUSY when ackWaitersMax are already waiting. Outcomes come from takeAckOutcomes().
   */
  awaitHighWatermark(waiter: AckWaiter, nowMs: number): 'BROKER_BUSY' | null {
    assert(waiter.lastOffset < this.#log.logEndOffset, 'wait only for appended offsets');
    if (this.#waiters.length >= this.#config.ackWaitersMax) return 'BROKER_BUSY';
    this.#waiters.push(waiter);
    this.#settleWaiters(nowMs);
    return null;
  }

  /** The produce's client went away: its waiter leaves without an outcome. */
  cancelAckWaiter(produceId: number): void {
    const index = this.#waiters.findIndex((waiter) => waiter.produceId === produceId);
    if (index >= 0) this.#waiters.splice(index, 1);
  }

  /** Expires waiters at their deadline and returns every outcome decided since the last call. */
  takeAckOutcomes(nowMs: number): AckOutcome[] {
    this.#settleWaiters(nowMs);
    return this.#outcomes.splice(0, this.#outcomes.length);
  }

  /**
   * The ISR change to send to the controller now, or null: a resend of the pending one after
   * isrChangeRetryMs, else a shrink of out-of-sync followers, else one follower that may join.
   */
  pollIsrChange(nowMs: number): IsrChangeRequest | null {
    if (this.#resigned) return null;
    const pending = this.#pending;
    if (pending !== null) {
      if (pending.awaitingMetadata) return null;
      const due =
        pending.sentAtMs === null || nowMs - pending.sentAtMs >= this.#config.isrChangeRetryMs;
      if (!due) return null;
      this.#pending = { ...pending, sentAtMs: nowMs };
      return pending.request;
    }
    const newIsr = this.#shrunkIsr(nowMs) ?? this.#expandedIsr(nowMs);
    if (newIsr === null) return null;
    const request: IsrChangeRequest = {
      leaderId: this.#config.replicaId,
      leaderEpoch: this.#state.leaderEpoch,
      partitionEpoch: this.#state.partitionEpoch,
      newIsr,
    };
    this.#pending = { request, sentAtMs: nowMs, awaitingMetadata: false };
    return request;
  }

  /**
   * The controller's answer to `request`. An answer to an earlier send of a different request
   * (a late reply) is ignored for the pending change, but a committed state is still applied.
   */
  onIsrChangeResult(request: IsrChangeRequest, result: IsrChangeResult, nowMs: number): void {
    if (result.ok) {
      if (result.state.leaderEpoch === this.#state.leaderEpoch)
        this.onPartitionState(result.state, nowMs);
      return;
    }
    if (this.#pending === null || !sameRequest(this.#pending.request, request)) return;
    switch (result.code) {
      case 'INVALID_UPDATE_VERSION':
      case 'FENCED_LEADER_EPOCH':
        // The change may have been committed after all (P16): only metadata can tell.
        this.#pending = { ...this.#pending, awaitingMetadata: true };
        return;
      case 'INELIGIBLE_REPLICA':
      case 'INVALID_REQUEST':
        // Refused and not committed: it is safe to forget the expansion it carried.
        this.#pending = null;
        return;
    }
  }

  /**
   * A committed partition record for this leader epoch (from metadata or an ISR-change reply).
   * Older versions are ignored. The caller builds a new replica when the leader or epoch changed.
   */
  onPartitionState(state: PartitionState, nowMs: number): void {
    checkPartitionState(state);
    assert(state.leaderEpoch === this.#state.leaderEpoch, 'a new leader epoch needs a new replica');
    assert(state.leader === this.#config.replicaId, 'a new leader needs a new replica');
    if (state.partitionEpoch <= this.#state.partitionEpoch) return;
    this.#state = state;
    if (this.#pending !== null && state.partitionEpoch > this.#pending.request.partitionEpoch) {
      this.#pending = null;
    }
    for (const id of state.replicas) {
      if (id !== this.#config.replicaId && !this.#progress.has(id)) {
        this.#progress.set(id, initialProgress(id, nowMs));
      }
    }
    for (const id of [...this.#progress.keys()]) {
      if (!state.replicas.includes(id)) this.#progress.delete(id);
    }
    this.#maybeAdvanceHighWatermark(nowMs);
  }

  /** Leadership moved on: every waiter fails with NOT_LEADER_OR_FOLLOWER (indeterminate). */
  resign(): AckOutcome[] {
    this.#resigned = true;
    for (const waiter of this.#waiters.splice(0, this.#waiters.length)) {
      this.#outcomes.push({
        produceId: waiter.produceId,
        kind: 'failed',
        code: 'NOT_LEADER_OR_FOLLOWER',
      });
    }
    return this.#outcomes.splice(0, this.#outcomes.length);
  }

  checkInvariants(): void {
    checkPartitionState(this.#state);
    assert(this.#state.isr.includes(this.#config.replicaId), 'leader ∈ its committed ISR');
    assert(this.#highWatermark <= this.#log.logEndOffset, 'HW ≤ leader LEO');
    assert(this.#highWatermark >= this.#log.logStartOffset, 'HW ≥ log start');
    assert(this.#waiters.length <= this.#config.ackWaitersMax, 'ack waiters bounded');
    const pending = this.#pending?.request;
    if (pending !== undefined) {
      assert(pending.newIsr.includes(this.#config.replicaId), 'pending ISR keeps the leader');
      assert(pending.leaderEpoch === this.#state.leaderEpoch, 'pending change is for this epoch');
    }
    for (const waiter of this.#waiters) {
      assert(waiter.lastOffset >= this.#highWatermark, 'a waiter below the HW was not acked');
    }
  }

  #checkEpoch(requestEpoch: number, replicaId: NodeId | null): EpochErrorCode | null {
    if (this.#resigned) return 'NOT_LEADER_OR_FOLLOWER';
    if (requestEpoch < this.#state.leaderEpoch) return 'FENCED_LEADER_EPOCH';
    if (requestEpoch > this.#state.leaderEpoch) return 'UNKNOWN_LEADER_EPOCH';
    if (replicaId === null) return null;
    if (replicaId === this.#config.replicaId || !this.#state.replicas.includes(replicaId)) {
      return 'NOT_LEADER_OR_FOLLOWER';
    }
    return null;
  }

  /** KIP-320: the follower's last epoch must end where the leader's does, or later. */
  #divergence(request: FollowerFetchRequest): FollowerFetchDecision | null {
    if (request.lastFetchedEpoch === null) return null;
    const found = this.#log.endOffsetForEpoch(request.lastFetchedEpoch);
    if (found === null) {
      return { kind: 'diverging', epoch: -1, endOffset: this.#log.logStartOffset };
    }
    if (found.epoch === request.lastFetchedEpoch && found.endOffset >= request.fetchOffset) {
      return null;
    }
    return { kind: 'diverging', epoch: found.epoch, endOffset: found.endOffset };
  }

  #maybeAdvanceHighWatermark(nowMs: number): void {
    this.#highWatermark = nextHighWatermark({
      current: this.#highWatermark,
      leaderId: this.#config.replicaId,
      leaderEndOffset: this.#log.logEndOffset,
      maximalIsr: this.maximalIsr,
      committedIsrSize: this.#state.isr.length,
      minInsyncReplicas: this.#config.minInsyncReplicas,
      progress: this.#progress,
    });
    this.#settleWaiters(nowMs);
  }

  #settleWaiters(nowMs: number): void {
    const underMin = this.#state.isr.length < this.#config.minInsyncReplicas;
    let kept = 0;
    for (const waiter of this.#waiters) {
      const id = waiter.produceId;
      if (this.#highWatermark > waiter.lastOffset) {
        this.#outcomes.push({ produceId: id, kind: 'acked', lastOffset: waiter.lastOffset });
      } else if (underMin) {
        this.#outcomes.push({
          produceId: id,
          kind: 'failed',
          code: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
        });
      } else if (nowMs >= waiter.deadlineMs) {
        this.#outcomes.push({ produceId: id, kind: 'failed', code: 'REQUEST_TIMED_OUT' });
      } else {
        this.#waiters[kept] = waiter;
        kept += 1;
      }
    }
    this.#waiters.length = kept;
  }

  #shrunkIsr(nowMs: number): NodeId[] | null {
    const out = outOfSyncFollowers(
      this.#state.isr,
      this.#config.replicaId,
      this.#progress,
      this.#log.logEndOffset,
      nowMs,
      this.#config.replicaLagMsMax,
    );
    if (out.length === 0) return null;
    return this.#state.isr.filter((id) => !out.includes(id));
  }

  #expandedIsr(nowMs: number): NodeId[] | null {
    const lagMsMax = this.#config.replicaLagMsMax;
    for (const id of this.#state.replicas) {
      if (this.#state.isr.includes(id)) continue;
      const progress = this.#progress.get(id);
      if (mayJoinIsr(progress, this.#highWatermark, this.epochStartOffset, nowMs, lagMsMax)) {
        const newIsr = [...this.#state.isr, id];
        assert(!sameMembers(newIsr, this.#state.isr), 'an expansion adds a member');
        return newIsr;
      }
    }
    return null;
  }
}
