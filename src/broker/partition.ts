// One local replica of a partition: its log, its role from the metadata image, and the
// replication core that role runs — a LeaderReplica (follower progress, HW, ISR changes) or a
// FollowerReplica (leader-epoch truncation, fetch state). Invariant: the HW a leader computes
// never counts bytes that are not durable here, never goes backwards within an epoch, and is
// shown to clients only once settled (the core's rule for a new leader, P14).
import {
  BATCH_HEADER_BYTES,
  LogError,
  batchSize,
  checkRecords,
  compressionFromAttributes,
  scanBatches,
  validateBatchRecords,
  type BatchHeader,
  type Compression,
  type LogReadResult,
  type PartitionLogApi,
} from '../log/index.ts';
import { toNodeId, type NodeId } from '../common/index.ts';
import { BrokerError } from './errors.ts';
import type { PartitionImage } from './metadata-image.ts';
import { toPartitionState } from './partition-record.ts';
import { defaultProducerStateConfig, type BatchIdentity } from './producer-state.ts';
import {
  ReplicaProducerState,
  producerIdentityOf,
  type GapWait,
} from './producer-state-replica.ts';
import type { ProducerStateFiles } from './producer-state-store.ts';
import {
  FollowerReplica,
  LeaderReplica,
  isNewerState,
  type AckOutcome,
  type ConsumerReadDecision,
  type EpochEndOffsetDecision,
  type FollowerCommands,
  type FollowerFetchDecision,
  type FollowerFetchRequest,
  type IsrChangeRequest,
  type IsrChangeResult,
  type PartitionState,
  type ReplicaLogView,
} from './replication/index.ts';
import type { TopicConfig } from './topic-config.ts';

export type ReplicaRole =
  | { readonly kind: 'leader'; readonly leaderEpoch: number; readonly isr: readonly number[] }
  | { readonly kind: 'follower'; readonly leaderEpoch: number; readonly leader: number | null }
  | { readonly kind: 'closed' };

/** Broker-wide replication settings (Kafka's broker configs of the same names). */
export interface ReplicationSettings {
  /** replica.lag.time.max.ms: an ISR follower not caught up for this long is dropped. */
  readonly replicaLagTimeMaxMs: number;
  /** acks=all produces that may wait for the HW at once, per partition (the core's bound). */
  readonly ackWaitersMax: number;
  /** An unanswered ISR change is proposed again after this long. */
  readonly isrChangeRetryMs: number;
  /** A follower request unanswered for this long is presumed lost (> the fetch wait). */
  readonly followerRequestTimeoutMs: number;
  /** replica.fetch.backoff.ms: after an epoch error, the follower waits this long. */
  readonly followerRetryBackoffMs: number;
  /** producer.id.expiration.ms: a producer idle this long is forgotten by a partition. */
  readonly producerIdExpirationMs?: number;
  /** Idempotent producers remembered per partition; beyond it the longest idle is dropped. */
  readonly producersPerPartitionMax?: number;
}

/** What a replica needs besides its log: wall time (producer expiry) and its state files. */
export interface PartitionDeps {
  readonly wallMs: () => number;
  readonly producerStateFiles: ProducerStateFiles | null;
}

export const defaultReplicationSettings: ReplicationSettings = {
  replicaLagTimeMaxMs: 10_000,
  ackWaitersMax: 10_000,
  isrChangeRetryMs: 2_000,
  followerRequestTimeoutMs: 5_000,
  followerRetryBackoffMs: 100,
};

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly recordCount: number;
  /** The same idempotent batch was in the log already: these are its offsets, nothing written. */
  readonly duplicate?: true;
}

export interface PartitionOffsets {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
}

export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly topicId: string;
  readonly log: PartitionLogApi;
  #config: TopicConfig;
  readonly #settings: ReplicationSettings;
  readonly #nodeId: NodeId;
  #state: PartitionState | null = null;
  #leader: LeaderReplica | null = null;
  #follower: FollowerReplica<Uint8Array> | null = null;
  #closed = false;
  /** The HW while neither role runs (before the first image, after close). */
  #idleHighWatermark: number;
  /** End offset of this log covered by resolved (durable per flush policy) leader appends. */
  #durableEndOffset: number;
  /** The log as the leader core sees it: its end is the durable end, never a pending write. */
  readonly #leaderView: ReplicaLogView;
  /** Parked acks=all produces by produce id; the leader core decides each one's outcome. */
  readonly #ackResolvers = new Map<number, (outcome: AckOutcome) => void>();
  #nextProduceId = 1;
  /** Idempotent producers' last runs of batches: checked by the leader, built by followers. */
  readonly producers: ReplicaProducerState;
  readonly #wallMs: () => number;

  constructor(
    identity: { topic: string; partition: number; topicId: string; nodeId: number },
    log: PartitionLogApi,
    config: TopicConfig,
    settings: ReplicationSettings = defaultReplicationSettings,
    deps: PartitionDeps = { wallMs: () => 0, producerStateFiles: null },
  ) {
    this.topic = identity.topic;
    this.partition = identity.partition;
    this.topicId = identity.topicId;
    this.#nodeId = toNodeId(identity.nodeId);
    this.log = log;
    this.#config = config;
    this.#settings = settings;
    this.#durableEndOffset = log.logEndOffset;
    this.#idleHighWatermark = log.logStartOffset;
    this.#wallMs = deps.wallMs;
    const producerConfig = {
      producersMax: settings.producersPerPartitionMax ?? defaultProducerStateConfig.producersMax,
      expirationMs: settings.producerIdExpirationMs ?? defaultProducerStateConfig.expirationMs,
    };
    this.producers = new ReplicaProducerState(producerConfig, log, deps.producerStateFiles);
    const durableEnd = (): number => Math.min(this.#durableEndOffset, log.logEndOffset);
    this.#leaderView = {
      get logStartOffset() {
        return log.logStartOffset;
      },
      get logEndOffset() {
        return durableEnd();
      },
      latestEpoch: () => log.latestEpoch(),
      endOffsetForEpoch: (epoch) => {
        const found = log.endOffsetForEpoch(epoch);
        if (found === null) return null;
        return { epoch: found.epoch, endOffset: Math.min(found.endOffset, durableEnd()) };
      },
    };
  }

  get key(): string {
    return `${this.topic}-${this.partition}`;
  }
  get role(): ReplicaRole {
    const state = this.#state;
    if (this.#closed || state === null) return { kind: 'closed' };
    if (this.#leader !== null) {
      return { kind: 'leader', leaderEpoch: state.leaderEpoch, isr: state.isr };
    }
    return { kind: 'follower', leaderEpoch: state.leaderEpoch, leader: state.leader };
  }
  get config(): TopicConfig {
    return this.#config;
  }
  /** The leader's computed HW (what followers receive), or this follower's. */
  get highWatermark(): number {
    return this.#leader?.highWatermark ?? this.#follower?.highWatermark ?? this.#idleHighWatermark;
  }
  /** The end of the log the leader serves to followers: its durable end. */
  get leaderEndOffset(): number {
    return this.#leaderView.logEndOffset;
  }
  /** The leader core while this node leads the partition. */
  get leaderReplica(): LeaderReplica | null {
    return this.#closed ? null : this.#leader;
  }
  /** The follower core while this node follows the partition. */
  get followerReplica(): FollowerReplica<Uint8Array> | null {
    return this.#closed ? null : this.#follower;
  }
  offsets(): PartitionOffsets {
    return {
      logStartOffset: this.log.logStartOffset,
      highWatermark: this.highWatermark,
      logEndOffset: this.log.logEndOffset,
    };
  }

  setConfig(config: TopicConfig, nowMs: number): void {
    this.#config = config;
    this.leaderReplica?.onMinInsyncReplicasChange(config.minInsyncReplicas, nowMs);
  }

  /**
   * Takes the role the image gives this node, as the replication core's index.ts says: the
   * same leader epoch updates the running core, a new one replaces it. An older record is
   * ignored. Returns true when the role or leader epoch changed.
   */
  applyImage(image: PartitionImage, nowMs: number): boolean {
    const state = toPartitionState(image);
    const previous = this.#state;
    if (previous !== null && !isNewerState(state, previous)) return false;
    this.#state = state;
    if (state.leader === this.#nodeId) {
      if (this.#leader !== null && this.#leader.leaderEpoch === state.leaderEpoch) {
        this.#leader.onPartitionState(state, nowMs);
        return false;
      }
      this.#becomeLeader(state, nowMs);
      return true;
    }
    const wasLeader = this.#leader !== null;
    if (wasLeader) this.#resignLeadership();
    this.#follower ??= new FollowerReplica<Uint8Array>(
      {
        replicaId: this.#nodeId,
        requestTimeoutMs: this.#settings.followerRequestTimeoutMs,
        retryBackoffMs: this.#settings.followerRetryBackoffMs,
      },
      this.log,
      this.#idleHighWatermark,
    );
    this.#follower.onLeaderChange({ leaderId: state.leader, leaderEpoch: state.leaderEpoch });
    return wasLeader || previous?.leaderEpoch !== state.leaderEpoch;
  }

  #becomeLeader(state: PartitionState, nowMs: number): void {
    const previousHighWatermark = this.highWatermark;
    if (this.#leader !== null) this.#resignLeadership();
    this.#follower = null;
    // Everything in the log was appended and resolved before this role began.
    this.#durableEndOffset = this.log.logEndOffset;
    // A leader alone in its ISR owns every byte of its log: nothing committed lives elsewhere.
    const alone = state.isr.length === 1 && state.isr[0] === this.#nodeId;
    const initialHighWatermark = alone ? this.log.logEndOffset : previousHighWatermark;
    this.#leader = new LeaderReplica(
      {
        replicaId: this.#nodeId,
        minInsyncReplicas: this.#config.minInsyncReplicas,
        replicaLagMsMax: this.#settings.replicaLagTimeMaxMs,
        ackWaitersMax: this.#settings.ackWaitersMax,
        isrChangeRetryMs: this.#settings.isrChangeRetryMs,
      },
      this.#leaderView,
      state,
      initialHighWatermark,
      nowMs,
    );
  }

  #resignLeadership(): void {
    const leader = this.#leader;
    if (leader === null) return;
    // Every parked acks=all produce fails NOT_LEADER_OR_FOLLOWER, as the core decides.
    this.#resolveAcks(leader.resign());
    this.#idleHighWatermark = leader.highWatermark;
    this.#leader = null;
  }

  close(): void {
    this.#closed = true;
    this.#resignLeadership();
  }

  // ---- leader ----------------------------------------------------------------------------

  /** A follower's fetch, answered by the leader core. Null: this replica does not lead. */
  onFollowerFetch(
    request: Omit<FollowerFetchRequest, 'replicaId'> & { readonly replicaId: number },
    nowMs: number,
  ): FollowerFetchDecision | null {
    const replicaId = toNodeId(request.replicaId);
    return this.leaderReplica?.onFollowerFetch({ ...request, replicaId }, nowMs) ?? null;
  }

  onEpochEndOffsetRequest(
    replicaId: number,
    currentLeaderEpoch: number,
    epoch: number,
  ): EpochEndOffsetDecision | null {
    const leader = this.leaderReplica;
    if (leader === null) return null;
    return leader.onEpochEndOffsetRequest(toNodeId(replicaId), currentLeaderEpoch, epoch);
  }

  /** A consumer's read, or the reason it cannot be served yet. */
  consumerRead(offset: number): ConsumerReadDecision | null {
    return this.leaderReplica?.onConsumerRead(offset, null) ?? null;
  }

  /** The ISR change the leader wants committed now, or null. */
  pollIsrChange(nowMs: number): IsrChangeRequest | null {
    return this.leaderReplica?.pollIsrChange(nowMs) ?? null;
  }

  onIsrChangeResult(request: IsrChangeRequest, result: IsrChangeResult, nowMs: number): void {
    const leader = this.leaderReplica;
    if (leader === null || leader.leaderEpoch !== request.leaderEpoch) return;
    leader.onIsrChangeResult(request, result, nowMs);
  }

  /** Produce admission before the append. Codes: NOT_ENOUGH_REPLICAS; null: go ahead. */
  admitProduce(acks: 0 | 1 | 'all'): 'NOT_ENOUGH_REPLICAS' | 'NOT_LEADER_OR_FOLLOWER' | null {
    const leader = this.leaderReplica;
    if (leader === null) return 'NOT_LEADER_OR_FOLLOWER';
    const code = leader.admitProduce(acks);
    return code === 'NOT_ENOUGH_REPLICAS' ? code : null;
  }

  /**
   * Parks an acks=all produce whose append ended at lastOffset in the leader core until the
   * core decides it (acked, NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT at deadlineMs,
   * NOT_LEADER_OR_FOLLOWER on resignation or a new leader epoch). The shell must call
   * deliverAckOutcomes after every HW or ISR change and at the deadline. BROKER_BUSY:
   * ackWaitersMax are parked already.
   */
  awaitAck(
    leaderEpoch: number,
    lastOffset: number,
    deadlineMs: number,
    nowMs: number,
    signal?: AbortSignal,
  ): Promise<AckOutcome> {
    const leader = this.leaderReplica;
    // Leadership moved (and maybe came back) while appending: the outcome is unknown.
    if (leader === null || leader.leaderEpoch !== leaderEpoch) {
      return Promise.resolve({ produceId: 0, kind: 'failed', code: 'NOT_LEADER_OR_FOLLOWER' });
    }
    const produceId = this.#nextProduceId;
    this.#nextProduceId += 1;
    const outcome = new Promise<AckOutcome>((resolve) =>
      this.#ackResolvers.set(produceId, resolve),
    );
    const refused = leader.awaitHighWatermark({ produceId, lastOffset, deadlineMs }, nowMs);
    if (refused !== null) {
      this.#ackResolvers.delete(produceId);
      return Promise.resolve({ produceId, kind: 'failed', code: refused });
    }
    this.deliverAckOutcomes(nowMs);
    if (signal === undefined || !this.#ackResolvers.has(produceId)) return outcome;
    // The client went away: its waiter leaves the core (freeing its ackWaitersMax slot) and
    // the wait ends as timed out; the caller sees the aborted signal and answers nobody.
    const onAbort = (): void => {
      const resolve = this.#ackResolvers.get(produceId);
      if (resolve === undefined) return;
      this.#ackResolvers.delete(produceId);
      this.leaderReplica?.cancelAckWaiter(produceId);
      resolve({ produceId, kind: 'failed', code: 'REQUEST_TIMED_OUT' });
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return outcome.finally(() => signal.removeEventListener('abort', onAbort));
  }

  /** Answers the parked produces the leader core has decided by nowMs. */
  deliverAckOutcomes(nowMs: number): void {
    if (this.#ackResolvers.size === 0) return;
    const leader = this.leaderReplica;
    if (leader !== null) this.#resolveAcks(leader.takeAckOutcomes(nowMs));
  }

  /** Shutdown: every parked produce not yet acknowledged answers REQUEST_TIMED_OUT now. */
  expireAcks(): void {
    // The core expires a waiter once nowMs reaches its deadline: every deadline has passed
    // at the end of time, and acked ones are still reported as acked first.
    this.deliverAckOutcomes(Number.MAX_SAFE_INTEGER);
  }

  get parkedAcks(): number {
    return this.#ackResolvers.size;
  }

  #resolveAcks(outcomes: readonly AckOutcome[]): void {
    for (const outcome of outcomes) {
      const resolve = this.#ackResolvers.get(outcome.produceId);
      if (resolve === undefined) continue;
      this.#ackResolvers.delete(outcome.produceId);
      resolve(outcome);
    }
  }

  // ---- follower --------------------------------------------------------------------------

  /** Performs the follower core's log commands in order. */
  async performFollowerCommands(commands: FollowerCommands<Uint8Array>): Promise<void> {
    for (const command of commands) {
      switch (command.kind) {
        case 'truncateTo':
          await this.log.truncateTo(command.offset);
          this.producers.truncateTo(command.offset);
          break;
        case 'truncateFullyAndStartAt':
          await this.log.truncateFullyAndStartAt(command.offset);
          this.producers.truncateFullyAndStartAt(command.offset);
          break;
        case 'append':
          await this.log.appendAsFollower(command.records);
          // The state moves with leadership: a follower records what its leader wrote.
          this.producers.onReplicated(command.records, this.#wallMs());
          break;
        case 'setHighWatermark':
          // The follower core keeps it; a restarted follower starts low, which only delays
          // the HW it would report as a new leader (the core holds it until settled anyway).
          break;
      }
    }
  }

  // ---- produce and read ------------------------------------------------------------------

  /**
   * Validates client batches against the topic rules, as Kafka's LogValidator: framing, CRC,
   * sizes, codec, and every record of every uncompressed batch walked in place. `compressed`
   * says whether validateCompressedRecords must still run (it decompresses, so is async).
   * `producer` is the idempotent identity of the produce (all its batches), or null. Without
   * `walkRecords` (benchmarks only) records are neither walked nor decompressed.
   * Codes: CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD, UNKNOWN_PRODUCER_ID.
   */
  validateBatches(
    bytes: Uint8Array,
    walkRecords = true,
  ): {
    batches: readonly BatchHeader[];
    recordCount: number;
    compressed: boolean;
    producer: BatchIdentity | null;
  } {
    // Framing and CRC first: a length field claiming more bytes than were sent is corruption,
    // not an oversize batch.
    const scan = scanBatches(bytes);
    if (!scan.ok)
      throw new BrokerError('CORRUPT_MESSAGE', scan.error.message, { cause: scan.error });
    for (const header of scan.batches) {
      if (batchSize(header) > this.#config.maxMessageBytes) {
        throw new BrokerError(
          'MESSAGE_TOO_LARGE',
          `a batch of ${batchSize(header)} bytes exceeds max.message.bytes ` +
            `${this.#config.maxMessageBytes} of topic ${this.topic}`,
        );
      }
    }
    if (scan.batches.length === 0) throw new BrokerError('INVALID_RECORD', 'no record batch');
    let compressed = false;
    let position = 0;
    for (const header of scan.batches) {
      this.#checkTopicRules(header);
      // Without walkRecords: framing, CRC and sizes only, as produce did before issue 15.
      if (walkRecords && compressionFromAttributes(header.attributes) === 'none') {
        const start = position + BATCH_HEADER_BYTES;
        const end = position + batchSize(header);
        const keyRequired = this.#config.cleanupPolicy.compact;
        const refused = checkRecords(header, bytes, start, end, true, keyRequired);
        if (refused !== null) throw refusal(refused, position);
      } else if (walkRecords) {
        compressed = true;
      }
      position += batchSize(header);
    }
    const producer = producerIdentityOf(scan.batches);
    return { batches: scan.batches, recordCount: scan.recordCount, compressed, producer };
  }

  #checkTopicRules(header: BatchHeader): void {
    if (header.recordCount === 0) throw new BrokerError('INVALID_RECORD', 'an empty batch');
    const wanted = this.#config.compressionType;
    if (wanted === 'producer') return;
    const codec = compressionFromAttributes(header.attributes);
    if (codec !== kafkaCodecName(wanted)) {
      throw new BrokerError(
        'INVALID_RECORD',
        `topic ${this.topic} has compression.type=${wanted}; the broker does not recompress`,
      );
    }
  }

  /**
   * The record walk of validateBatches for the compressed batches among `batches` (its result
   * for these very bytes), each decompressed within decompressedBytesBound of the topic's
   * max.message.bytes. Codes: CORRUPT_MESSAGE (also: expands past the bound), INVALID_RECORD.
   */
  async validateCompressedRecords(
    bytes: Uint8Array,
    batches: readonly BatchHeader[],
  ): Promise<void> {
    let position = 0;
    for (const header of batches) {
      if (compressionFromAttributes(header.attributes) !== 'none') {
        try {
          await validateBatchRecords(bytes, position, header, {
            producer: true,
            keyRequired: this.#config.cleanupPolicy.compact,
            maxMessageBytes: this.#config.maxMessageBytes,
          });
        } catch (error) {
          if (error instanceof LogError) throw refusal(error, position);
          throw error;
        }
      }
      position += batchSize(header);
    }
  }

  /** The producer state's gapWait for a produce of `producer`, at this replica's wall time. */
  producerGapWait(producer: BatchIdentity): GapWait {
    return this.producers.gapWait(producer, this.#wallMs());
  }

  /**
   * Appends batches that passed validateBatches, stamped with the leader epoch; resolves once
   * durable per the flush policy. Throws the log's LogError (LOG_CLOSED, LOG_BUSY, ...).
   * `scanned` is validateBatches' `batches` for these very bytes: the log then skips its own
   * CRC pass (it still checks sizes and density) and stamps offsets into `bytes` in place.
   * `producer` (validateBatches' identity) is checked against the producer state inside the
   * log's append turn: a retry answers its batch's original offsets with `duplicate`.
   * Codes besides the log's: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
   * UNKNOWN_PRODUCER_ID (nothing written for any).
   */
  async appendAsLeader(
    bytes: Uint8Array,
    leaderEpoch: number,
    recordCount: number,
    nowMs: () => number,
    scanned?: readonly BatchHeader[],
    producer: BatchIdentity | null = null,
  ): Promise<AppendResult> {
    const guard = this.producers.guard(producer, this.#wallMs());
    const result = await this.log.appendAsLeader(bytes, leaderEpoch, scanned, guard);
    if (result.duplicate === true) {
      const { baseOffset, lastOffset } = result;
      return { baseOffset, lastOffset, recordCount: lastOffset - baseOffset + 1, duplicate: true };
    }
    this.#durableEndOffset = Math.max(this.#durableEndOffset, result.lastOffset + 1);
    const leader = this.leaderReplica;
    if (leader !== null && leader.leaderEpoch === leaderEpoch) {
      leader.onAppend(Math.min(result.lastOffset, this.#leaderView.logEndOffset - 1), nowMs());
    }
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset, recordCount };
  }

  /** Whole batches from `offset` below `maxOffsetExclusive` (a consumer's HW, a follower's LEO). */
  read(offset: number, maxBytes: number, maxOffsetExclusive: number): Promise<LogReadResult> {
    return this.log.read(offset, maxBytes, maxOffsetExclusive);
  }
}

/** A record-level LogError as the produce answer: CORRUPT_MESSAGE or INVALID_RECORD. */
function refusal(error: LogError, position: number): BrokerError {
  const code = error.code === 'LOG_INVALID_RECORD' ? 'INVALID_RECORD' : 'CORRUPT_MESSAGE';
  return new BrokerError(code, `batch at byte ${position}: ${error.message}`, { cause: error });
}

/** compression.type names Kafka's codecs as the codec itself, except 'uncompressed'. */
function kafkaCodecName(type: Exclude<TopicConfig['compressionType'], 'producer'>): Compression {
  return type === 'uncompressed' ? 'none' : type;
}
