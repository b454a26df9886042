// One simulated broker for one partition: the driver around the pure replication core, as the
// real broker will be. It applies controller metadata (switching between LeaderReplica and a
// follower), answers follower and client requests, and performs the core's log commands on a
// MemoryReplicaLog in order, then asks the core for its next request (the Ready loop). Stamped
// (idempotent) produces go through the broker's own producer-state table as
// producer-state-replica.ts drives it: checked before the leader's append, recorded by
// followers, cut by truncation, rebuilt from the log after a crash.
import { assert, assertNever, type NodeId } from '../../../src/common/index.ts';
import {
  FollowerReplica,
  LeaderReplica,
  isNewerState,
  type AckOutcome,
  type EpochEndOffsetResponse,
  type FollowerReplicaConfig,
  type FollowerRequest,
  type LeaderReplicaConfig,
  type PartitionState,
  type ReplicaLogCommand,
} from '../../../src/broker/replication/index.ts';
import { ProducerStateTable, type BatchIdentity } from '../../../src/broker/producer-state.ts';
import {
  answerFollowerFetch,
  MemoryReplicaLog,
  type SimFlush,
  type SimRecord,
  type SimStamp,
} from './memory-replica-log.ts';
import type { Message, Payload, ProducerRefusalCode, SimBatch } from './messages.ts';

/** The follower surface the driver uses; mutants in this folder implement it too. */
export type FollowerLike = Pick<
  FollowerReplica<SimBatch>,
  | 'state'
  | 'highWatermark'
  | 'eligibleForLeadership'
  | 'onLeaderChange'
  | 'nextRequest'
  | 'onEpochEndOffset'
  | 'onFetchResponse'
  | 'onLogCorruption'
  | 'checkInvariants'
>;

export type FollowerFactory = (
  config: FollowerReplicaConfig,
  log: MemoryReplicaLog,
  highWatermark: number,
) => FollowerLike;

export const realFollower: FollowerFactory = (config, log, hw) =>
  new FollowerReplica(config, log, hw);

export interface SimNodeConfig {
  readonly minInsyncReplicas: number;
  readonly replicaLagMsMax: number;
  readonly ackWaitersMax: number;
  readonly isrChangeRetryMs: number;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
  /** Open the leader epoch in the epoch cache at election (Kafka) or at the first append. */
  readonly assignEpochOnElection: boolean;
  readonly produceTimeoutMs: number;
  readonly fetchRecordsMax: number;
  readonly flush: SimFlush;
  readonly followerFactory: FollowerFactory;
  /**
   * A deliberately broken leader (issue 10: the checker must catch it): `serve-above-hw` answers
   * consumers up to its log end and claims that as the HW; `ack-on-append` acknowledges
   * acks=all after its own append, as acks=1.
   */
  readonly unsafe?: 'serve-above-hw' | 'ack-on-append' | 'no-dedup';
}

/** A one-record stamped batch as the producer-state table sees it. */
function identityOf(stamp: SimStamp): BatchIdentity {
  return {
    producerId: stamp.producerId,
    producerEpoch: stamp.producerEpoch,
    baseSequence: stamp.sequence,
    recordCount: 1,
  };
}

export interface NodeEnv {
  readonly controllerId: NodeId;
  send(message: Message): void;
  /** Called before a truncation so the cluster can check the truncation floor. */
  onTruncate(node: SimNode, offset: number): void;
}

type Role =
  | { readonly kind: 'none' }
  | { readonly kind: 'leader'; readonly replica: LeaderReplica; readonly instance: number }
  | { readonly kind: 'follower'; readonly replica: FollowerLike; readonly instance: number };

export class SimNode {
  readonly id: NodeId;
  readonly #config: SimNodeConfig;
  readonly #env: NodeEnv;
  readonly log: MemoryReplicaLog;
  alive = true;
  incarnation = 1;
  registered = false;
  applied: PartitionState | null = null;
  role: Role = { kind: 'none' };
  #instances = 0;
  /** Who asked for each acks=all produce still waiting: (client, incarnation). */
  readonly #produceClients = new Map<number, NodeId>();
  /** Idempotent producers' state for the batches in `log` (the broker's own table). */
  readonly producers = new ProducerStateTable();

  constructor(id: NodeId, config: SimNodeConfig, env: NodeEnv) {
    this.id = id;
    this.#config = config;
    this.#env = env;
    this.log = new MemoryReplicaLog(config.flush);
  }

  /** A CRC failure found on read: the follower truncates to the last good batch. */
  onLogCorruption(lastGoodOffset: number): void {
    const role = this.role;
    assert(role.kind === 'follower', 'the simulator corrupts followers only');
    this.#perform(role.replica.onLogCorruption(lastGoodOffset));
  }

  crash(): void {
    this.alive = false;
    this.registered = false;
    this.applied = null;
    this.role = { kind: 'none' };
    this.#produceClients.clear();
    this.log.crash();
    // A restart rebuilds the state from what the log kept (no snapshot: the whole log).
    this.producers.clear();
    this.#recordStamped(this.log.records);
  }

  #recordStamped(records: readonly SimRecord[]): void {
    for (const record of records) {
      if (record.producer === undefined) continue;
      this.producers.record(identityOf(record.producer), record.offset, record.offset, 0);
    }
  }

  restart(keepSession: boolean): void {
    this.alive = true;
    if (!keepSession) this.incarnation += 1;
  }

  get eligibleForLeadership(): boolean {
    return this.role.kind !== 'follower' || this.role.replica.eligibleForLeadership;
  }

  onTick(nowMs: number, heartbeat: boolean): void {
    if (heartbeat)
      this.#sendTo(this.#env.controllerId, {
        kind: 'heartbeat',
        eligible: this.eligibleForLeadership,
      });
    this.#pump(nowMs);
  }

  onMessage(message: Message, nowMs: number): void {
    const payload = message.payload;
    switch (payload.kind) {
      case 'metadata':
        if (payload.registered) this.registered = true;
        if (this.registered) this.#onMetadata(payload.state, nowMs);
        break;
      case 'isrChangeResult':
        if (this.#isCurrent(message) && this.role.kind === 'leader') {
          const result = payload.result;
          if (result.ok && !this.#acceptsState(result.state)) break;
          if (result.ok) this.applied = result.state;
          this.role.replica.onIsrChangeResult(payload.request, result, nowMs);
        }
        break;
      case 'followerRequest':
        this.#onFollowerRequest(message, payload.request, nowMs);
        break;
      case 'epochEndOffsetResponse':
        if (this.#isCurrent(message) && this.role.kind === 'follower') {
          this.#perform(this.role.replica.onEpochEndOffset(payload.response));
        }
        break;
      case 'fetchResponse':
        if (this.#isCurrent(message) && this.role.kind === 'follower') {
          this.#perform(this.role.replica.onFetchResponse(payload.response));
        }
        break;
      case 'produce':
        this.#onProduce(message, payload, nowMs);
        break;
      case 'consumerFetch':
        this.#onConsumerFetch(message, payload.offset, payload.knownEpoch);
        break;
      case 'heartbeat':
      case 'isrChange':
      case 'produceResponse':
      case 'consumerFetchResponse':
        throw new Error(`node ${this.id} got ${payload.kind}`);
      default:
        assertNever(payload, 'payload');
    }
    this.#pump(nowMs);
  }

  checkInvariants(): void {
    this.log.checkInvariants();
    if (this.role.kind !== 'none') this.role.replica.checkInvariants();
  }

  #isCurrent(message: Message): boolean {
    return (
      message.toIncarnation === this.incarnation && message.toInstance === this.#currentInstance()
    );
  }

  #currentInstance(): number | null {
    return this.role.kind === 'none' ? null : this.role.instance;
  }

  #acceptsState(state: PartitionState): boolean {
    return this.applied === null || isNewerState(state, this.applied);
  }

  #onMetadata(state: PartitionState, nowMs: number): void {
    if (!this.#acceptsState(state)) return;
    this.applied = state;
    const role = this.role;
    if (state.leader === this.id) {
      if (role.kind === 'leader' && role.replica.leaderEpoch === state.leaderEpoch) {
        role.replica.onPartitionState(state, nowMs);
        return;
      }
      const hw = this.#resign();
      // Kafka's makeLeader records where the new epoch starts before serving anything; the
      // core must also be correct when the first append does it (src/log's PartitionLog).
      if (this.#config.assignEpochOnElection) {
        this.log.assignEpoch(state.leaderEpoch, this.log.logEndOffset);
      }
      const replica = new LeaderReplica(this.#leaderConfig(), this.log, state, hw, nowMs);
      this.role = { kind: 'leader', replica, instance: this.#nextInstance() };
      return;
    }
    if (!state.replicas.includes(this.id)) {
      this.#resign();
      this.role = { kind: 'none' };
      return;
    }
    if (role.kind !== 'follower') {
      const hw = this.#resign();
      const config = {
        replicaId: this.id,
        requestTimeoutMs: this.#config.requestTimeoutMs,
        retryBackoffMs: this.#config.retryBackoffMs,
      };
      const replica = this.#config.followerFactory(config, this.log, hw);
      this.role = { kind: 'follower', replica, instance: this.#nextInstance() };
    }
    const follower = this.role;
    if (follower.kind !== 'follower') return;
    this.#perform(
      follower.replica.onLeaderChange({ leaderId: state.leader, leaderEpoch: state.leaderEpoch }),
    );
  }

  /** Leaves the current role; returns the HW the next role starts from. */
  #resign(): number {
    const role = this.role;
    if (role.kind === 'leader') this.#replyAcks(role.replica.resign(), role.replica.leaderEpoch);
    if (role.kind === 'none') return this.log.highWatermarkCheckpoint;
    return role.replica.highWatermark;
  }

  #nextInstance(): number {
    this.#instances += 1;
    return this.#instances;
  }

  #leaderConfig(): LeaderReplicaConfig {
    return {
      replicaId: this.id,
      minInsyncReplicas: this.#config.minInsyncReplicas,
      replicaLagMsMax: this.#config.replicaLagMsMax,
      ackWaitersMax: this.#config.ackWaitersMax,
      isrChangeRetryMs: this.#config.isrChangeRetryMs,
    };
  }

  #perform(commands: readonly ReplicaLogCommand<SimBatch>[]): void {
    for (const command of commands) {
      switch (command.kind) {
        case 'truncateTo':
          this.#env.onTruncate(this, command.offset);
          this.log.truncateTo(command.offset);
          this.producers.truncateTo(command.offset);
          break;
        case 'truncateFullyAndStartAt':
          this.#env.onTruncate(this, command.offset);
          this.log.truncateFullyAndStartAt(command.offset);
          this.producers.clear();
          break;
        case 'append':
          this.log.appendAsFollower(command.records);
          this.#recordStamped(command.records);
          break;
        case 'setHighWatermark':
          this.log.highWatermarkCheckpoint = command.offset;
          break;
        default:
          assertNever(command, 'log command');
      }
    }
  }

  /** The driver loop after any input: send what the core asks for, deliver decided acks. */
  #pump(nowMs: number): void {
    if (!this.alive) return;
    const role = this.role;
    if (role.kind === 'follower') {
      const request = role.replica.nextRequest(nowMs);
      if (request !== null)
        this.#sendTo(request.leaderId, { kind: 'followerRequest', request }, null, null);
    }
    if (role.kind === 'leader') {
      const change = role.replica.pollIsrChange(nowMs);
      if (change !== null)
        this.#sendTo(this.#env.controllerId, { kind: 'isrChange', request: change });
      this.#replyAcks(role.replica.takeAckOutcomes(nowMs), role.replica.leaderEpoch);
      this.log.highWatermarkCheckpoint = role.replica.highWatermark;
    }
  }

  #replyAcks(outcomes: readonly AckOutcome[], leaderEpoch: number): void {
    for (const outcome of outcomes) {
      const client = this.#produceClients.get(outcome.produceId);
      if (client === undefined) continue;
      this.#produceClients.delete(outcome.produceId);
      const result =
        outcome.kind === 'acked'
          ? { ok: true as const, offset: outcome.lastOffset, leaderEpoch }
          : { ok: false as const, code: outcome.code };
      this.#sendTo(client, { kind: 'produceResponse', produceId: outcome.produceId, result });
    }
  }

  #onFollowerRequest(message: Message, request: FollowerRequest, nowMs: number): void {
    const reply = (payload: Payload): void =>
      this.#sendTo(message.from, payload, message.fromIncarnation, message.fromInstance);
    const role = this.role;
    if (role.kind !== 'leader') {
      const known = this.applied?.leaderEpoch ?? -1;
      const code =
        request.currentLeaderEpoch < known
          ? ('FENCED_LEADER_EPOCH' as const)
          : request.currentLeaderEpoch > known
            ? ('UNKNOWN_LEADER_EPOCH' as const)
            : ('NOT_LEADER_OR_FOLLOWER' as const);
      const requestId = request.requestId;
      if (request.kind === 'fetch')
        reply({ kind: 'fetchResponse', response: { requestId, kind: 'error', code } });
      else reply({ kind: 'epochEndOffsetResponse', response: { requestId, kind: 'error', code } });
      return;
    }
    if (request.kind === 'epochEndOffset') {
      const decision = role.replica.onEpochEndOffsetRequest(
        message.from,
        request.currentLeaderEpoch,
        request.epoch,
      );
      const response: EpochEndOffsetResponse = { requestId: request.requestId, ...decision };
      reply({ kind: 'epochEndOffsetResponse', response });
      return;
    }
    const decision = role.replica.onFollowerFetch({ replicaId: message.from, ...request }, nowMs);
    const response = answerFollowerFetch(
      request.requestId,
      decision,
      this.log,
      this.#config.fetchRecordsMax,
    );
    reply({ kind: 'fetchResponse', response });
  }

  #onProduce(message: Message, payload: Payload & { kind: 'produce' }, nowMs: number): void {
    const reply = (
      result:
        | { ok: true; offset: number; leaderEpoch: number }
        | { ok: false; code: 'NOT_LEADER_OR_FOLLOWER' | 'NOT_ENOUGH_REPLICAS' | 'BROKER_BUSY' }
        | { ok: false; code: ProducerRefusalCode },
    ): void =>
      this.#sendTo(message.from, { kind: 'produceResponse', produceId: payload.produceId, result });
    const role = this.role;
    if (role.kind !== 'leader') return reply({ ok: false, code: 'NOT_LEADER_OR_FOLLOWER' });
    const leader = role.replica;
    const refused = leader.admitProduce(payload.acks);
    if (refused !== null) return reply({ ok: false, code: 'NOT_ENOUGH_REPLICAS' });
    const stamp = this.#config.unsafe === 'no-dedup' ? undefined : payload.producer;
    const decided = stamp === undefined ? null : this.producers.check(identityOf(stamp), 0);
    if (decided?.kind === 'refused') return reply({ ok: false, code: decided.code });
    let lastOffset: number;
    if (decided?.kind === 'duplicate') {
      lastOffset = decided.lastOffset; // A retry: its original offset, once the HW passes it.
    } else {
      lastOffset = this.log.appendAsLeader(leader.leaderEpoch, [payload.value], payload.producer);
      if (stamp !== undefined) {
        this.producers.record(identityOf(stamp), lastOffset, lastOffset, 0);
      }
      leader.onAppend(lastOffset, nowMs);
    }
    if (payload.acks === 1 || this.#config.unsafe === 'ack-on-append') {
      return reply({ ok: true, offset: lastOffset, leaderEpoch: leader.leaderEpoch });
    }
    const waiter = {
      produceId: payload.produceId,
      lastOffset,
      deadlineMs: nowMs + this.#config.produceTimeoutMs,
    };
    this.#produceClients.set(payload.produceId, message.from);
    if (leader.awaitHighWatermark(waiter, nowMs) !== null) {
      this.#produceClients.delete(payload.produceId);
      reply({ ok: false, code: 'BROKER_BUSY' });
    }
  }

  #onConsumerFetch(message: Message, offset: number, knownEpoch: number | null): void {
    const reply = (result: (Payload & { kind: 'consumerFetchResponse' })['result']): void =>
      this.#sendTo(message.from, { kind: 'consumerFetchResponse', offset, result });
    const role = this.role;
    if (role.kind !== 'leader') return reply({ ok: false, code: 'NOT_LEADER_OR_FOLLOWER' });
    const decision = role.replica.onConsumerRead(offset, knownEpoch);
    if (decision.kind === 'error') return reply({ ok: false, code: decision.code });
    const aboveHw = this.#config.unsafe === 'serve-above-hw';
    const end = aboveHw ? this.log.logEndOffset : decision.maxOffsetExclusive;
    const records = this.log.read(offset, end, this.#config.fetchRecordsMax);
    reply({
      ok: true,
      records,
      highWatermark: aboveHw ? end : decision.highWatermark,
      leaderEpoch: decision.leaderEpoch,
    });
  }

  #sendTo(
    to: NodeId,
    payload: Payload,
    toIncarnation: number | null = null,
    toInstance: number | null = null,
  ): void {
    this.#env.send({
      from: this.id,
      to,
      fromIncarnation: this.incarnation,
      toIncarnation,
      toInstance,
      fromInstance: this.#currentInstance(),
      payload,
    });
  }
}
