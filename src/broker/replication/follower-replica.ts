// The follower side of one partition: a state machine that reconciles the local log with the
// leader by leader epoch (KIP-101, iterated as KIP-279 says), then fetches. Pure: inputs are
// metadata and responses, outputs are requests to send and log commands to perform in order.
// Invariant: it fetches only once its log matches the leader's up to its own LEO (rule a), and
// a response to any request but the one in flight is ignored (KIP-320, P8).
import { assert, assertNever, type NodeId } from '../../common/index.ts';
import type { EpochErrorCode } from './leader-replica.ts';
import type { ReplicaLogCommand, ReplicaLogView } from './replica-log.ts';

export interface FollowerReplicaConfig {
  readonly replicaId: NodeId;
  /** An unanswered request is presumed lost after this long and sent again. */
  readonly requestTimeoutMs: number;
  /** After an epoch error, wait this long (from the failed send) before retrying. */
  readonly retryBackoffMs: number; // replica.fetch.backoff.ms
}

export interface LeaderChange {
  readonly leaderId: NodeId | null;
  readonly leaderEpoch: number;
}

export type FollowerRequest =
  /** OffsetsForLeaderEpoch: where does `epoch` end in the leader's log? */
  | {
      readonly kind: 'epochEndOffset';
      readonly requestId: number;
      readonly leaderId: NodeId;
      readonly currentLeaderEpoch: number;
      readonly epoch: number;
    }
  | {
      readonly kind: 'fetch';
      readonly requestId: number;
      readonly leaderId: NodeId;
      readonly fetchOffset: number;
      readonly lastFetchedEpoch: number | null;
      readonly currentLeaderEpoch: number;
    };

export type EpochEndOffsetResponse =
  | { readonly requestId: number; readonly kind: 'error'; readonly code: EpochErrorCode }
  /** epoch null: the leader has no epoch ≤ the one asked; endOffset is its log start. */
  | {
      readonly requestId: number;
      readonly kind: 'ok';
      readonly epoch: number | null;
      readonly endOffset: number;
    };

export type FetchResponse<R> =
  | { readonly requestId: number; readonly kind: 'error'; readonly code: EpochErrorCode }
  | {
      readonly requestId: number;
      readonly kind: 'diverging';
      readonly epoch: number;
      readonly endOffset: number;
    }
  | {
      readonly requestId: number;
      readonly kind: 'outOfRange';
      readonly logStartOffset: number;
      readonly logEndOffset: number;
    }
  | {
      readonly requestId: number;
      readonly kind: 'records';
      /** Whole batches starting at the requested offset (possibly none). */
      readonly records: R;
      /** The offset after the last record returned; the request's offset when none. */
      readonly nextOffset: number;
      readonly highWatermark: number;
      readonly logEndOffset: number;
    };

type InFlight = { readonly requestId: number; readonly sentAtMs: number } | null;

export type FollowerState =
  | { readonly kind: 'offline'; readonly leaderEpoch: number }
  | {
      readonly kind: 'truncating';
      readonly leaderId: NodeId;
      readonly leaderEpoch: number;
      readonly inFlight: InFlight;
    }
  | {
      readonly kind: 'fetching';
      readonly leaderId: NodeId;
      readonly leaderEpoch: number;
      readonly inFlight: InFlight;
    }
  /** The leader says our epoch is stale: wait for newer metadata. */
  | { readonly kind: 'fenced'; readonly leaderId: NodeId; readonly leaderEpoch: number };

export type FollowerCommands<R> = readonly ReplicaLogCommand<R>[];

export class FollowerReplica<R> {
  readonly #config: FollowerReplicaConfig;
  readonly #log: ReplicaLogView;
  #state: FollowerState;
  #highWatermark: number;
  #nextRequestId = 1;
  /** After a CRC failure: not eligible for leadership until caught up with the leader. */
  #mustCatchUp = false;
  /** No request before this time: the backoff after an epoch error. */
  #notBeforeMs = 0;

  constructor(config: FollowerReplicaConfig, log: ReplicaLogView, highWatermark: number) {
    assert(config.requestTimeoutMs > 0, 'requestTimeoutMs must be positive');
    assert(config.retryBackoffMs >= 0, 'retryBackoffMs must not be negative');
    this.#config = config;
    this.#log = log;
    this.#state = { kind: 'offline', leaderEpoch: -1 };
    this.#highWatermark = Math.min(highWatermark, log.logEndOffset);
  }

  get state(): FollowerState {
    return this.#state;
  }
  get highWatermark(): number {
    return this.#highWatermark;
  }
  /** The broker reports this to the controller; an ineligible replica is never elected. */
  get eligibleForLeadership(): boolean {
    return !this.#mustCatchUp;
  }

  /** New metadata. An older leader epoch is ignored; a new one restarts reconciliation. */
  onLeaderChange(change: LeaderChange): FollowerCommands<R> {
    assert(change.leaderId !== this.#config.replicaId, 'the leader runs a LeaderReplica');
    if (change.leaderEpoch < this.#state.leaderEpoch) return [];
    if (change.leaderEpoch === this.#state.leaderEpoch && this.#state.kind !== 'offline') return [];
    if (change.leaderId === null) {
      this.#state = { kind: 'offline', leaderEpoch: change.leaderEpoch };
      return [];
    }
    this.#state = {
      kind: 'truncating',
      leaderId: change.leaderId,
      leaderEpoch: change.leaderEpoch,
      inFlight: null,
    };
    this.#notBeforeMs = 0; // A new leader is worth asking at once.
    return [];
  }

  /** The request to send now, or null (one request in flight at a time). */
  nextRequest(nowMs: number): FollowerRequest | null {
    const state = this.#state;
    if (state.kind === 'offline' || state.kind === 'fenced') return null;
    if (nowMs < this.#notBeforeMs) return null;
    if (
      state.inFlight !== null &&
      nowMs - state.inFlight.sentAtMs < this.#config.requestTimeoutMs
    ) {
      return null;
    }
    const requestId = this.#nextRequestId;
    this.#nextRequestId += 1;
    const inFlight = { requestId, sentAtMs: nowMs };
    const lastEpoch = this.#log.latestEpoch();
    if (state.kind === 'truncating' && lastEpoch !== null) {
      this.#state = { ...state, inFlight };
      const { leaderId, leaderEpoch } = state;
      return {
        kind: 'epochEndOffset',
        requestId,
        leaderId,
        currentLeaderEpoch: leaderEpoch,
        epoch: lastEpoch,
      };
    }
    // An empty epoch cache has nothing that could diverge: fetch at once.
    this.#state = {
      kind: 'fetching',
      leaderId: state.leaderId,
      leaderEpoch: state.leaderEpoch,
      inFlight,
    };
    return {
      kind: 'fetch',
      requestId,
      leaderId: state.leaderId,
      fetchOffset: this.#log.logEndOffset,
      lastFetchedEpoch: lastEpoch,
      currentLeaderEpoch: state.leaderEpoch,
    };
  }

  /**
   * KIP-279: the leader answers (largest epoch E ≤ ours, its end). Truncate to
   * min(that end, our own end for E); if we hold E itself the logs now match, else ask again
   * with our new latest epoch. Each round strictly lowers the epoch asked, so it terminates.
   */
  onEpochEndOffset(response: EpochEndOffsetResponse): FollowerCommands<R> {
    const state = this.#state;
    if (state.kind !== 'truncating' || state.inFlight?.requestId !== response.requestId) return [];
    if (response.kind === 'error')
      return this.#onEpochError(response.code, state.inFlight.sentAtMs);
    // Truncate even at the LEO: that drops an epoch entry starting there (one a leader opened
    // but never wrote to), so an unmatched round asks about an older epoch next time.
    const target = this.#reconcile(response.epoch, response.endOffset);
    this.#state = target.matched
      ? {
          kind: 'fetching',
          leaderId: state.leaderId,
          leaderEpoch: state.leaderEpoch,
          inFlight: null,
        }
      : { ...state, inFlight: null };
    return [target.command];
  }

  onFetchResponse(response: FetchResponse<R>): FollowerCommands<R> {
    const state = this.#state;
    if (state.kind !== 'fetching' || state.inFlight?.requestId !== response.requestId) return [];
    this.#state = { ...state, inFlight: null };
    switch (response.kind) {
      case 'error':
        return this.#onEpochError(response.code, state.inFlight.sentAtMs);
      case 'diverging': {
        const epoch = response.epoch < 0 ? null : response.epoch;
        // Always truncate: at the LEO it still drops the epoch entry the leader disagrees with.
        return [this.#reconcile(epoch, response.endOffset).command];
      }
      case 'outOfRange':
        return this.#onOutOfRange(response.logStartOffset, response.logEndOffset);
      case 'records':
        return this.#onRecords(response);
      default:
        return assertNever(response, 'fetch response');
    }
  }

  /**
   * The request `requestId` got no answer (the transport failed): the follower may ask again
   * once retryBackoffMs from its send has passed, instead of waiting out requestTimeoutMs. An
   * id other than the one in flight is ignored.
   */
  onRequestFailed(requestId: number): void {
    const state = this.#state;
    if (state.kind !== 'truncating' && state.kind !== 'fetching') return;
    if (state.inFlight?.requestId !== requestId) return;
    this.#notBeforeMs = state.inFlight.sentAtMs + this.#config.retryBackoffMs;
    this.#state = { ...state, inFlight: null };
  }

  /**
   * The local log failed its CRC check at a batch starting after lastGoodOffset - 1: drop it
   * and everything after, reconcile again, and stay ineligible for leadership until caught up.
   */
  onLogCorruption(lastGoodOffset: number): FollowerCommands<R> {
    assert(lastGoodOffset <= this.#log.logEndOffset, 'corruption inside the log');
    this.#mustCatchUp = true;
    const state = this.#state;
    if (state.kind === 'truncating' || state.kind === 'fetching') {
      this.#state = {
        kind: 'truncating',
        leaderId: state.leaderId,
        leaderEpoch: state.leaderEpoch,
        inFlight: null,
      };
    }
    return [this.#truncate(lastGoodOffset)];
  }

  checkInvariants(): void {
    assert(this.#highWatermark <= this.#log.logEndOffset, 'follower HW ≤ its LEO');
    const state = this.#state;
    if (state.kind === 'truncating' || state.kind === 'fetching') {
      assert(state.leaderId !== this.#config.replicaId, 'a follower never follows itself');
      if (state.inFlight !== null)
        assert(state.inFlight.requestId < this.#nextRequestId, 'request id');
    }
  }

  #onEpochError(code: EpochErrorCode, sentAtMs: number): FollowerCommands<R> {
    const state = this.#state;
    assert(state.kind === 'truncating' || state.kind === 'fetching', 'error while reconciling');
    this.#notBeforeMs = sentAtMs + this.#config.retryBackoffMs;
    // FENCED: our metadata is stale, so only newer metadata helps. UNKNOWN or NOT_LEADER: the
    // leader has not caught up with the metadata yet; the next request is a retry.
    if (code === 'FENCED_LEADER_EPOCH') {
      this.#state = { kind: 'fenced', leaderId: state.leaderId, leaderEpoch: state.leaderEpoch };
    } else this.#state = { ...state, inFlight: null };
    return [];
  }

  /**
   * The log command that reconciles with the leader's (epoch, end), and whether the logs then
   * match. A leader with no epoch ≤ ours shares no history we can check: start over at its log
   * start. We lacking the leader's epoch: truncate to where our older epoch ends, ask again.
   */
  #reconcile(
    leaderEpoch: number | null,
    leaderEnd: number,
  ): { command: ReplicaLogCommand<R>; matched: boolean } {
    const end = this.#log.logEndOffset;
    if (leaderEpoch === null) {
      this.#highWatermark = Math.min(this.#highWatermark, leaderEnd);
      return { command: { kind: 'truncateFullyAndStartAt', offset: leaderEnd }, matched: true };
    }
    const own = this.#log.endOffsetForEpoch(leaderEpoch);
    if (own === null) {
      return { command: this.#truncate(this.#log.logStartOffset), matched: false };
    }
    const offset = Math.min(end, leaderEnd, own.endOffset);
    return { command: this.#truncate(offset), matched: own.epoch === leaderEpoch };
  }

  #truncate(offset: number): ReplicaLogCommand<R> {
    if (offset < this.#highWatermark) this.#highWatermark = offset;
    return { kind: 'truncateTo', offset };
  }

  #onOutOfRange(leaderStart: number, leaderEnd: number): FollowerCommands<R> {
    const state = this.#state;
    assert(state.kind === 'fetching', 'out of range while fetching');
    const end = this.#log.logEndOffset;
    if (end > leaderEnd) {
      // P10 high: the leader's log is shorter without an epoch change; reconcile by epoch again.
      this.#state = {
        kind: 'truncating',
        leaderId: state.leaderId,
        leaderEpoch: state.leaderEpoch,
        inFlight: null,
      };
      return [this.#truncate(leaderEnd)];
    }
    if (end < leaderStart) {
      // P10 low: retention moved the leader's start past our end; nothing of ours is needed.
      this.#highWatermark = leaderStart;
      return [{ kind: 'truncateFullyAndStartAt', offset: leaderStart }];
    }
    return [];
  }

  #onRecords(response: FetchResponse<R> & { kind: 'records' }): FollowerCommands<R> {
    const commands: ReplicaLogCommand<R>[] = [];
    const end = this.#log.logEndOffset;
    assert(response.nextOffset >= end, 'records never end before our LEO');
    if (response.nextOffset > end) commands.push({ kind: 'append', records: response.records });
    if (response.nextOffset >= response.logEndOffset) this.#mustCatchUp = false;
    // Rule (c): the follower's HW is min(leader HW, own LEO).
    const hw = Math.min(response.highWatermark, response.nextOffset);
    if (hw !== this.#highWatermark) {
      this.#highWatermark = hw;
      commands.push({ kind: 'setHighWatermark', offset: hw });
    }
    return commands;
  }
}
