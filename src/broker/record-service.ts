// Produce, consumer fetch, offsets and DeleteRecords on the partitions this node leads: the
// client-facing half of the Broker façade. Leadership comes from the image and the open local
// replica; acks=all is decided by the leader core (Partition.awaitAck), this only parks the
// request and times its deadline; a fetch at the HW parks in the fetch purgatory until the HW
// moves, leadership changes or maxWaitMs passes. A request whose signal aborts (its client went
// away) stops at the next step with the signal's reason: its slot, wait and read are freed.
import { assert, assertNever, type Clock } from '../common/index.ts';
import type { BatchHeader, LogReadResult } from '../log/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { FetchRequest, FetchResult, ProduceRequest, ProduceResult } from './broker-types.ts';
import { fromLogError } from './error-mapping.ts';
import { BrokerError } from './errors.ts';
import type { LocalReplicas } from './local-replicas.ts';
import type { MetadataImage } from './metadata-image.ts';
import type { ProducerIdVerdict } from './producer-id-image.ts';
import type { AppendResult, Partition } from './partition.ts';
import { partitionDirectoryName } from './partition-store.ts';
import type { BatchIdentity } from './producer-state.ts';
import type { Purgatory } from './purgatory.ts';
import { requireTopic } from './topic-admin.ts';

export interface RecordServiceDeps {
  readonly nodeId: number;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  readonly image: MetadataImage;
  readonly replicas: LocalReplicas;
  /** Consumer fetches parked at the HW; woken by the leader side after progress. */
  readonly fetchPurgatory: Purgatory;
  readonly fetchWaitersMax: number;
  readonly ackWaitersMax: number;
  /** Walk every record at produce (BrokerConfig.produceValidation 'records'); else framing only. */
  readonly walkRecords: boolean;
  /** Throws BROKER_NOT_READY unless the broker is running. */
  readonly requireRunning: () => void;
  /** True once the broker drains for shutdown: nothing parks any more. */
  readonly isDraining: () => boolean;
  /** After an append on a leader: wake parked sessions and fetches, maybe change the ISR. */
  readonly afterLeaderProgress: (replica: Partition) => void;
  /** Waits for the metadata committed so far to be applied here (a barrier); false if not. */
  readonly catchUpMetadata: () => Promise<boolean>;
}

/**
 * Longest wait of a produce refused for arriving ahead of its producer's sequence (see
 * #appendInOrder): the earlier request is normally a few milliseconds behind it.
 */
export const sequenceGapWaitMs = 500;

/** One produce's append as leader: its bytes, their scanned headers, and who wrote them. */
interface LeaderAppend {
  readonly bytes: Uint8Array;
  readonly scanned: readonly BatchHeader[];
  readonly leaderEpoch: number;
  readonly recordCount: number;
  readonly producer: BatchIdentity | null;
}

export class RecordService {
  readonly #deps: RecordServiceDeps;

  constructor(deps: RecordServiceDeps) {
    this.#deps = deps;
  }

  /**
   * Validates and appends client batches on the leader, answering per `acks`.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
   * CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD, NOT_ENOUGH_REPLICAS,
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, BROKER_BUSY;
   * idempotent batches: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
   * UNKNOWN_PRODUCER_ID. A retried idempotent batch answers its original offsets, `duplicate`.
   */
  async produce(request: ProduceRequest): Promise<ProduceResult> {
    const { topic, partition, acks } = request;
    let replica = this.#leaderReplica(topic, partition);
    let role = replica.role;
    assert(role.kind === 'leader', 'leaderReplica returns leaders');
    const validated = replica.validateBatches(request.batches, this.#deps.walkRecords);
    const { batches, recordCount, compressed, producer } = validated;
    const epoch = role.leaderEpoch;
    let yielded = false;
    if (producer !== null) {
      const { producerId, producerEpoch } = producer;
      let verdict = this.#deps.image.producerIds.verdict(producerId, producerEpoch);
      if (verdict.kind === 'unknown') {
        // Unknown may mean unknown *here* only: another node issued the id (POST /v1/producers,
        // InitProducerId) from a block whose record this node had not applied yet.
        yielded = true;
        if (await this.#deps.catchUpMetadata()) {
          verdict = this.#deps.image.producerIds.verdict(producerId, producerEpoch);
        }
      }
      throwUnlessCurrent(verdict);
    }
    if (compressed) {
      await replica.validateCompressedRecords(request.batches, batches);
      yielded = true;
    }
    if (yielded) {
      // The event loop ran meanwhile (a barrier, decompression): leadership may have moved.
      replica = this.#leaderReplica(topic, partition);
      role = replica.role;
      assert(role.kind === 'leader', 'leaderReplica returns leaders');
      if (role.leaderEpoch !== epoch) {
        throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `${replica.key} changed leader epoch`);
      }
    }
    const refused = replica.admitProduce(acks);
    if (refused === 'NOT_ENOUGH_REPLICAS') {
      throw new BrokerError(
        refused,
        `${replica.key} has ${role.isr.length} in-sync replicas, min.insync.replicas is ` +
          `${replica.config.minInsyncReplicas}`,
      );
    }
    if (refused !== null) throw new BrokerError(refused, `${replica.key} is changing leadership`);
    // A client that reset the stream never learns the outcome: nothing to append for it.
    request.signal?.throwIfAborted();
    // The headers go along so the log does not check every CRC a second time.
    const appending = this.#appendInOrder(replica, {
      bytes: request.batches,
      scanned: batches,
      leaderEpoch: role.leaderEpoch,
      recordCount,
      producer,
    });
    if (acks === 0) {
      // acks=0: the client asked not to learn the outcome; a failure is only logged.
      appending.catch((error: unknown) =>
        this.#deps.logger.warn({ err: error, partition: replica.key }, 'acks=0 append failed'),
      );
      return { topic, partition, baseOffset: -1, lastOffset: -1, recordCount };
    }
    const appended = await appending;
    if (acks === 'all') {
      await this.#awaitReplication(
        replica,
        { leaderEpoch: role.leaderEpoch, lastOffset: appended.lastOffset },
        request.timeoutMs,
        request.signal,
      );
    }
    return { topic, partition, ...appended };
  }

  /**
   * #append, and for an idempotent produce refused (OUT_OF_ORDER_SEQUENCE_NUMBER or
   * UNKNOWN_PRODUCER_ID) because it lies ahead of its producer's next sequence — most likely it
   * overtook an earlier request of the same producer, as HTTP/2 streams finish in any order
   * where Kafka's one connection keeps requests in order — one more try once that producer
   * appends here, at most sequenceGapWaitMs later (sequenceGapWaitersMax bounds the waiting).
   */
  async #appendInOrder(replica: Partition, append: LeaderAppend): Promise<AppendResult> {
    try {
      return await this.#append(replica, append);
    } catch (error) {
      const { producer, leaderEpoch } = append;
      if (producer === null || !isSequenceRefusal(error)) throw error;
      const wait = replica.producerGapWait(producer);
      if (wait === 'busy') throw error;
      if (wait !== 'in-turn') {
        const cancelTimer = this.#deps.clock.schedule(sequenceGapWaitMs, wait.cancel);
        try {
          await wait.promise;
        } finally {
          cancelTimer();
          wait.cancel();
        }
      }
      // The log refused before stamping anything, so the bytes go again as they were; the
      // leader epoch guards against a leadership change meanwhile (LOG_INVALID_EPOCH).
      const current = this.#leaderReplica(replica.topic, replica.partition);
      const role = current.role;
      if (current !== replica || role.kind !== 'leader' || role.leaderEpoch !== leaderEpoch) {
        throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `${replica.key} changed leader epoch`);
      }
      return this.#append(replica, append);
    }
  }

  async #append(replica: Partition, append: LeaderAppend): Promise<AppendResult> {
    let appended: AppendResult;
    try {
      const nowMs = () => this.#deps.clock.nowMs();
      const { bytes, leaderEpoch, recordCount, scanned, producer } = append;
      appended = await replica.appendAsLeader(
        bytes,
        leaderEpoch,
        recordCount,
        nowMs,
        scanned,
        producer,
      );
    } catch (error) {
      throw fromLogError(error, replica);
    }
    this.#deps.afterLeaderProgress(replica);
    return appended;
  }

  /**
   * An acks=all produce answers once the HW passes its last offset (DESIGN.md §4); the leader
   * core decides, this only parks the request and times its deadline.
   */
  async #awaitReplication(
    replica: Partition,
    appended: { readonly leaderEpoch: number; readonly lastOffset: number },
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { clock } = this.#deps;
    const nowMs = clock.nowMs();
    const deadlineMs = nowMs + (this.#deps.isDraining() ? 0 : timeoutMs);
    const { leaderEpoch, lastOffset } = appended;
    const outcome = replica.awaitAck(leaderEpoch, lastOffset, deadlineMs, nowMs, signal);
    const cancel = clock.schedule(deadlineMs - nowMs, () =>
      replica.deliverAckOutcomes(clock.nowMs()),
    );
    const decided = await outcome.finally(cancel);
    if (decided.kind === 'acked') return;
    signal?.throwIfAborted();
    switch (decided.code) {
      case 'NOT_LEADER_OR_FOLLOWER':
        throw new BrokerError(decided.code, `${replica.key} lost its leadership`);
      case 'NOT_ENOUGH_REPLICAS_AFTER_APPEND':
        throw new BrokerError(
          decided.code,
          `${replica.key}: the ISR shrank below min.insync.replicas`,
        );
      case 'REQUEST_TIMED_OUT':
        throw new BrokerError(decided.code, `${replica.key}: not replicated in ${timeoutMs} ms`);
      case 'BROKER_BUSY':
        throw busy(`${replica.key}: more than ${this.#deps.ackWaitersMax} acks=all waiting`);
      default:
        assert(false, `unexpected acks=all outcome ${decided.code}`);
    }
  }

  /**
   * Whole batches from `offset` below the HW; long-polls up to maxWaitMs at the HW.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
   * OFFSET_OUT_OF_RANGE (details: logStartOffset, highWatermark), OFFSET_NOT_AVAILABLE (a new
   * leader whose HW has not caught up), BROKER_BUSY.
   */
  async fetch(request: FetchRequest): Promise<FetchResult> {
    const { topic, partition, offset } = request;
    let replica = this.#leaderReplica(topic, partition);
    let decision = this.#consumerRead(replica, offset);
    if (offset === decision.highWatermark && request.maxWaitMs > 0 && !this.#deps.isDraining()) {
      const waiting = replica;
      const isDone = () => waiting.highWatermark > offset || waiting.role.kind !== 'leader';
      const { fetchPurgatory, fetchWaitersMax } = this.#deps;
      const parked = fetchPurgatory.wait(replica.key, request.maxWaitMs, isDone, request.signal);
      if (parked === null) throw busy(`more than ${fetchWaitersMax} waiting fetches`);
      await parked;
      request.signal?.throwIfAborted();
      replica = this.#leaderReplica(topic, partition);
      decision = this.#consumerRead(replica, offset);
    }
    request.signal?.throwIfAborted();
    let read: LogReadResult;
    try {
      read = await replica.read(offset, request.maxBytes, decision.highWatermark);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    if (request.signal?.aborted === true) {
      read.release(); // The client is gone: hand the file lease back before anything is read.
      request.signal.throwIfAborted();
    }
    const logStartOffset = replica.log.logStartOffset;
    const { highWatermark, leaderEpoch } = decision;
    return { read, highWatermark, logStartOffset, leaderEpoch };
  }

  /** The leader core's answer to a consumer read at `offset`, or the error a client acts on. */
  #consumerRead(replica: Partition, offset: number) {
    const decision = replica.consumerRead(offset);
    if (decision === null) {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${replica.key} is changing leadership`);
    }
    if (decision.kind === 'read') return decision;
    const { logStartOffset, highWatermark } = replica.offsets();
    if (decision.code === 'OFFSET_OUT_OF_RANGE') {
      throw new BrokerError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside [${logStartOffset}, ${highWatermark}] of ${replica.key}`,
        { details: { logStartOffset, highWatermark } },
      );
    }
    throw new BrokerError(
      decision.code === 'OFFSET_NOT_AVAILABLE' ? 'OFFSET_NOT_AVAILABLE' : 'NOT_LEADER_OR_FOLLOWER',
      `${replica.key} cannot serve offset ${offset} yet (${decision.code})`,
    );
  }

  /** Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE. */
  listOffsets(topic: string, partition: number): { logStartOffset: number; highWatermark: number } {
    const { logStartOffset, highWatermark } = this.#settledLeader(topic, partition).offsets();
    return { logStartOffset, highWatermark };
  }

  /**
   * The first offset whose timestamp is ≥ timestampMs, below the HW, or null. Kafka's special
   * timestamps: -1 is the HW (latest), -2 the log start (earliest). Codes: as listOffsets.
   */
  async offsetForTimestamp(
    topic: string,
    partition: number,
    timestampMs: number,
  ): Promise<number | null> {
    const replica = this.#settledLeader(topic, partition);
    if (timestampMs === -1) return replica.highWatermark;
    if (timestampMs === -2) return replica.log.logStartOffset;
    let offset: number | null;
    try {
      offset = await replica.log.offsetForTimestamp(timestampMs);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    if (offset === null || offset >= replica.highWatermark) return null;
    return Math.max(offset, replica.log.logStartOffset);
  }

  /**
   * Advances the log start offset to `beforeOffset` (-1: the HW), as Kafka's DeleteRecords.
   * Codes: as listOffsets, OFFSET_OUT_OF_RANGE.
   */
  async deleteRecords(topic: string, partition: number, beforeOffset: number) {
    const replica = this.#settledLeader(topic, partition);
    const target = beforeOffset === -1 ? replica.highWatermark : beforeOffset;
    const { logStartOffset, highWatermark } = replica.offsets();
    if (target < 0 || target > highWatermark) {
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `cannot delete past the HW ${highWatermark}`, {
        details: { logStartOffset, highWatermark },
      });
    }
    try {
      if (target > logStartOffset) await replica.log.deleteRecordsBefore(target);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    return { logStartOffset: replica.log.logStartOffset };
  }

  /** This node's open leader replica of the partition, or the error a client acts on. */
  #leaderReplica(topic: string, partition: number): Partition {
    this.#deps.requireRunning();
    const image = requireTopic(this.#deps.image, topic).partitions[partition];
    if (image === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${topic}-${partition}`);
    }
    if (image.leader === null) {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader`);
    }
    if (image.leader !== this.#deps.nodeId) {
      const leader = this.#deps.image.node(image.leader);
      throw new BrokerError(
        'NOT_LEADER_OR_FOLLOWER',
        `node ${image.leader} leads ${topic}-${partition}`,
        { details: { leader: { id: image.leader, url: leader?.url ?? null } } },
      );
    }
    const replica = this.#deps.replicas.get(partitionDirectoryName({ topic, partition }));
    if (replica === undefined || replica.role.kind !== 'leader') {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${topic}-${partition} is still opening`);
    }
    return replica;
  }

  /** A leader whose HW may be shown: a new leader's is held until its ISR catches up (P14). */
  #settledLeader(topic: string, partition: number): Partition {
    const replica = this.#leaderReplica(topic, partition);
    if (replica.leaderReplica?.isHighWatermarkSettled !== true) {
      throw new BrokerError(
        'OFFSET_NOT_AVAILABLE',
        `${replica.key} has a new leader whose high watermark is catching up`,
      );
    }
    return replica;
  }
}

function busy(message: string): BrokerError {
  return new BrokerError('BROKER_BUSY', message);
}

/**
 * The image vouches for a batch's producer: an id it issued, at its current epoch.
 * Codes: UNKNOWN_PRODUCER_ID (never issued, or a named producer's epoch from the future),
 * INVALID_PRODUCER_EPOCH (fenced by a newer instance of the same producer name).
 */
function throwUnlessCurrent(verdict: ProducerIdVerdict): void {
  switch (verdict.kind) {
    case 'current':
      return;
    case 'unknown':
      throw new BrokerError('UNKNOWN_PRODUCER_ID', verdict.message);
    case 'fenced':
      throw new BrokerError('INVALID_PRODUCER_EPOCH', verdict.message);
    default:
      assertNever(verdict, 'producer id verdict');
  }
}

/** A refusal of the producer-state check that a produce ahead of its turn gets. */
function isSequenceRefusal(error: unknown): boolean {
  return (
    error instanceof BrokerError &&
    (error.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' || error.code === 'UNKNOWN_PRODUCER_ID')
  );
}
