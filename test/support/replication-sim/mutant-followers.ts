// Deliberately broken followers, to prove the simulator's checks can fail (the mutation gate of
// research/raft-test-anchors.md §3.4). They wrap the real FollowerReplica and live only here;
// product code has no flag for them.
//
// - hwTruncatingFollower: Kafka before KIP-101. On every leader change it truncates to its
//   high watermark instead of asking the leader, and fetches without lastFetchedEpoch, so the
//   leader cannot detect divergence either. P5 (lost acked write) and P6 (divergence) catch it.
// - kip101OnlyFollower: KIP-101 without KIP-279. It takes the leader's epoch end offset as the
//   end of its own epoch even when the leader answered for an older epoch, and fetches without
//   lastFetchedEpoch. P7 (fast double failover) catches it.
import {
  FollowerReplica,
  type EpochEndOffsetResponse,
  type FollowerRequest,
  type LeaderChange,
  type ReplicaLogCommand,
} from '../../../src/broker/replication/index.ts';
import type { MemoryReplicaLog } from './memory-replica-log.ts';
import type { SimBatch } from './messages.ts';
import type { FollowerFactory, FollowerLike } from './sim-node.ts';

type Commands = readonly ReplicaLogCommand<SimBatch>[];

/** Performs commands the wrapper must run itself (it answers some requests locally). */
function performLocally(log: MemoryReplicaLog, commands: Commands): void {
  for (const command of commands) {
    if (command.kind === 'truncateTo') log.truncateTo(command.offset);
    else if (command.kind === 'setHighWatermark') log.highWatermarkCheckpoint = command.offset;
    else throw new Error(`mutant cannot perform ${command.kind} locally`);
  }
}

abstract class WrappedFollower implements FollowerLike {
  protected readonly inner: FollowerReplica<SimBatch>;
  protected readonly log: MemoryReplicaLog;
  constructor(inner: FollowerReplica<SimBatch>, log: MemoryReplicaLog) {
    this.inner = inner;
    this.log = log;
  }
  get state() {
    return this.inner.state;
  }
  get highWatermark(): number {
    return this.inner.highWatermark;
  }
  get eligibleForLeadership(): boolean {
    return this.inner.eligibleForLeadership;
  }
  onLeaderChange(change: LeaderChange): Commands {
    return this.inner.onLeaderChange(change);
  }
  nextRequest(nowMs: number): FollowerRequest | null {
    const request = this.inner.nextRequest(nowMs);
    // Pre-KIP-320 fetches carry no epoch: the leader cannot see the follower diverge.
    if (request?.kind === 'fetch') return { ...request, lastFetchedEpoch: null };
    return request;
  }
  onEpochEndOffset(response: EpochEndOffsetResponse): Commands {
    return this.inner.onEpochEndOffset(response);
  }
  onFetchResponse(response: Parameters<FollowerReplica<SimBatch>['onFetchResponse']>[0]): Commands {
    return this.inner.onFetchResponse(response);
  }
  onLogCorruption(lastGoodOffset: number): Commands {
    return this.inner.onLogCorruption(lastGoodOffset);
  }
  checkInvariants(): void {
    this.inner.checkInvariants();
  }
}

class HwTruncatingFollower extends WrappedFollower {
  #leaderChanged = false;
  override onLeaderChange(change: LeaderChange): Commands {
    const before = this.inner.state.leaderEpoch;
    const commands = this.inner.onLeaderChange(change);
    if (this.inner.state.leaderEpoch === before || change.leaderId === null) return commands;
    this.#leaderChanged = true;
    return [{ kind: 'truncateTo', offset: this.inner.highWatermark }, ...commands];
  }
  override nextRequest(nowMs: number): FollowerRequest | null {
    const request = super.nextRequest(nowMs);
    if (request?.kind !== 'epochEndOffset' || !this.#leaderChanged) return request;
    // Skip the leader-epoch step: pretend the leader agrees with everything we kept.
    this.#leaderChanged = false;
    const agree = {
      requestId: request.requestId,
      kind: 'ok' as const,
      epoch: request.epoch,
      endOffset: this.log.logEndOffset,
    };
    performLocally(this.log, this.inner.onEpochEndOffset(agree));
    return super.nextRequest(nowMs);
  }
}

class Kip101OnlyFollower extends WrappedFollower {
  readonly #asked = new Map<number, number>();
  override nextRequest(nowMs: number): FollowerRequest | null {
    const request = super.nextRequest(nowMs);
    if (request?.kind === 'epochEndOffset') this.#asked.set(request.requestId, request.epoch);
    return request;
  }
  override onEpochEndOffset(response: EpochEndOffsetResponse): Commands {
    const asked = this.#asked.get(response.requestId);
    this.#asked.delete(response.requestId);
    if (response.kind !== 'ok' || asked === undefined || response.epoch === null) {
      return this.inner.onEpochEndOffset(response);
    }
    // KIP-101: "the end offset of your epoch is the start of the leader's next one".
    return this.inner.onEpochEndOffset({ ...response, epoch: asked });
  }
}

export const hwTruncatingFollower: FollowerFactory = (config, log, hw) =>
  new HwTruncatingFollower(new FollowerReplica(config, log, hw), log);

export const kip101OnlyFollower: FollowerFactory = (config, log, hw) =>
  new Kip101OnlyFollower(new FollowerReplica(config, log, hw), log);
