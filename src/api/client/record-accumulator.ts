// The producer's per-partition batches, before they are sent. Records append to the open batch
// of their partition; a batch closes when the next record would pass batchSizeBytes, and is
// ready to send once closed, lingered lingerMs, or flushed. Without idempotence a partition
// sends one request at a time; with it, up to five requests (beside one in flight, only a full
// one), whose batches are stamped at their first send with the producer identity and the
// partition's next sequences, which every retry keeps (a retried batch goes alone). A
// failed batch goes back in creation order and the partition then sends one request at a time
// until one succeeds, so retries keep record order. Pure: time comes in as nowMs; memory is
// accounted by ./buffer-memory.ts.
import { assert } from '../../common/index.ts';
import type { LogRecord } from '../../log/index.ts';
import type { ClientError } from './client-error.ts';

export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset; -1 when acks=0 (the broker does not say). */
  readonly offset: number;
}

/** One record waiting for its acknowledgement. */
export interface PendingRecord {
  readonly record: LogRecord;
  readonly sizeBytes: number;
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: ClientError) => void;
  /** Appended records are numbered 1, 2, 3 … by the producer (flush waits by number). */
  readonly seq: number;
}

/** appended; appended after closing the open batch; or not appended (see append). */
export type AppendResult = 'appended' | 'closed' | 'aborted';

/**
 * The idempotent identity batches are stamped with (POST /v1/producers). `generation` counts
 * the identities this producer had: a partition's sequences restart at 0 with each.
 */
export interface ProducerIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly generation: number;
}

export interface ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: PendingRecord[];
  sizeBytes: number;
  readonly createdAtMs: number;
  /** Creation order within its partition: retried batches go back in this order. */
  readonly number: number;
  /** Sends that failed with a retriable error so far. */
  attempts: number;
  /** Not sent again before this time (backoff after a failure). */
  retryAtMs: number;
  /** The leader its last send went to (null before the first): reports leader changes. */
  sentToLeaderId: number | null;
  /** Idempotent: stamped at the first send and kept by every retry (null: not yet). */
  producer: ProducerIdentity | null;
  /** Idempotent: the batch's first sequence under `producer` (-1 with none). */
  baseSequence: number;
}

/** A partition's batches; with idempotence it lives as long as the producer (its sequence). */
interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Waiting to be sent, by number; only the last may be open (still accepting records). */
  readonly batches: ProducerBatch[];
  lastClosed: boolean;
  /** Requests in flight (each one or more batches). */
  inFlight: number;
  readonly inFlightBatches: Set<ProducerBatch>;
  /** After a failure: one request at a time until one succeeds, so retries keep order. */
  recovering: boolean;
  /** The sequence the next stamped batch gets, under identity generation `generation`. */
  nextSequence: number;
  generation: number;
  /** Created after an idle queue was dropped: its first stamp needs a newer identity. */
  fresh: boolean;
  nextNumber: number;
}

export interface AccumulatorConfig {
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  /**
   * Requests in flight per partition: 1 without idempotence (a retry could reorder otherwise),
   * up to 5 with it (the broker remembers a producer's last five runs: one per request).
   */
  readonly inFlightPerPartitionMax?: number;
  /** Stamp batches with the producer identity and per-partition sequences. */
  readonly idempotent?: boolean;
  /**
   * Idle partition queues kept (each holds its partition's next sequence with idempotence). A
   * new partition beyond it drops every idle one, and batches of partitions met afterwards wait
   * for a new identity (their sequences under the old one are forgotten).
   */
  readonly idlePartitionsMax?: number;
}

/** Default idlePartitionsMax: a producer writing to more partitions renews its identity. */
export const idlePartitionsMaxDefault = 10_000;

/** Largest sequence; the next is 0 (as the broker's producer-state.ts wraps). */
const sequenceMax = 0x7fffffff;

function addSequence(sequence: number, increment: number): number {
  return sequence > sequenceMax - increment
    ? increment - (sequenceMax - sequence) - 1
    : sequence + increment;
}

/** Fixed bytes of a RecordBatch v2 header (docs/format.md). */
export const batchOverheadBytes = 61;

/** An upper estimate of a record's encoded size inside a batch (varints at their widest). */
export function recordSizeBytes(record: LogRecord): number {
  let size = 1 + 5 + 10 + 5 + 5 + 5 + 5; // length, attributes, deltas, key/value lengths, count
  size += record.key?.length ?? 0;
  size += record.value?.length ?? 0;
  for (const header of record.headers) {
    size += 10 + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
  }
  return size;
}

export function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

export class RecordAccumulator {
  readonly #batchSizeBytes: number;
  readonly #lingerMs: number;
  readonly #inFlightMax: number;
  readonly #idempotent: boolean;
  readonly #queues = new Map<string, PartitionQueue>();
  readonly #idlePartitionsMax: number;
  /**
   * The newest identity generation whose sequences of some partition were dropped with its
   * idle queue: a queue created since may be stamped only with a later generation.
   */
  #droppedGeneration = -1;
  #recordCount = 0;

  constructor(config: AccumulatorConfig) {
    assert(config.batchSizeBytes > batchOverheadBytes, 'batchSizeBytes is below a batch header');
    assert(config.lingerMs >= 0, 'lingerMs must be >= 0');
    const inFlightMax = config.inFlightPerPartitionMax ?? 1;
    assert(Number.isInteger(inFlightMax) && inFlightMax >= 1, 'inFlightPerPartitionMax >= 1');
    this.#batchSizeBytes = config.batchSizeBytes;
    this.#lingerMs = config.lingerMs;
    this.#idlePartitionsMax = config.idlePartitionsMax ?? idlePartitionsMaxDefault;
    assert(this.#idlePartitionsMax >= 1, 'idlePartitionsMax >= 1');
    this.#idempotent = config.idempotent === true;
    // Without sequence numbers only one request may be in flight, or a retry could reorder.
    this.#inFlightMax = this.#idempotent ? inFlightMax : 1;
  }

  /** Records appended and not yet acknowledged or failed. */
  get recordCount(): number {
    return this.#recordCount;
  }

  /**
   * Appends a record to its partition's open batch, or to a new one after closing the open
   * batch when the record does not fit ('closed'). With abortOnNewBatch, a record that would
   * need a new batch is not appended ('aborted', the open batch is closed): the sticky
   * partitioner then moves it to another partition, as Kafka's abortOnNewBatch does.
   */
  append(
    topic: string,
    partition: number,
    pending: PendingRecord,
    nowMs: number,
    abortOnNewBatch = false,
  ): AppendResult {
    const queue = this.#queue(topic, partition);
    const open = queue.lastClosed ? undefined : queue.batches.at(-1);
    if (open !== undefined && open.sizeBytes + pending.sizeBytes <= this.#batchSizeBytes) {
      open.records.push(pending);
      open.sizeBytes += pending.sizeBytes;
      this.#recordCount += 1;
      return 'appended';
    }
    if (abortOnNewBatch && open !== undefined) {
      queue.lastClosed = true;
      return 'aborted';
    }
    this.#recordCount += 1;
    queue.batches.push({
      topic,
      partition,
      records: [pending],
      sizeBytes: batchOverheadBytes + pending.sizeBytes,
      createdAtMs: nowMs,
      number: queue.nextNumber,
      attempts: 0,
      retryAtMs: 0,
      sentToLeaderId: null,
      producer: null,
      baseSequence: -1,
    });
    queue.nextNumber += 1;
    queue.lastClosed = false;
    return open === undefined ? 'appended' : 'closed';
  }

  #queue(topic: string, partition: number): PartitionQueue {
    const key = partitionKey(topic, partition);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      if (this.#queues.size >= this.#idlePartitionsMax) this.#dropIdle();
      queue = {
        topic,
        partition,
        batches: [],
        lastClosed: true,
        inFlight: 0,
        inFlightBatches: new Set(),
        recovering: false,
        nextSequence: 0,
        generation: -1,
        fresh: this.#droppedGeneration >= 0,
        nextNumber: 0,
      };
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /**
   * Takes the requests that may be sent now: per partition with room (fewer than its in-flight
   * max, or none while recovering) and a ready first batch, for which `canSend` (the broker's
   * room, asked last) agrees. Without idempotence a request takes a partition's ready batches
   * up to requestBytesMax (at least one); with it too, stamped with `identity` and consecutive
   * sequences at their first send, except that a retried (already stamped) batch goes alone
   * (none is stamped while `identity` is null, or while an older identity's batch of the
   * partition is still in flight).
   */
  drain(
    nowMs: number,
    flushing: boolean,
    requestBytesMax: number,
    canSend: (topic: string, partition: number) => boolean,
    identity: ProducerIdentity | null = null,
  ): ProducerBatch[][] {
    const requests: ProducerBatch[][] = [];
    for (const queue of this.#queues.values()) {
      while (this.#hasRoom(queue) && this.#isReady(queue, nowMs, flushing)) {
        if (this.#idempotent && !this.#canStamp(queue, identity)) break;
        // Beside a request in flight, only a full request goes: the batches keep gathering
        // until that answers (as with one request in flight), so more in flight never means
        // smaller requests — more requests for the same records cost the broker more appends.
        if (queue.inFlight > 0 && !flushing && !this.#fillsRequest(queue, requestBytesMax)) break;
        if (!canSend(queue.topic, queue.partition)) break;
        const taken = this.#idempotent
          ? this.#takeStamped(queue, identity, nowMs, flushing, requestBytesMax)
          : this.#takeBatches(queue, nowMs, flushing, requestBytesMax);
        queue.inFlight += 1;
        for (const batch of taken) queue.inFlightBatches.add(batch);
        requests.push(taken);
      }
    }
    return requests;
  }

  /**
   * The partition's closed batches fill a request: one more batch of batchSizeBytes would not
   * fit in requestBytesMax beside them.
   */
  #fillsRequest(queue: PartitionQueue, requestBytesMax: number): boolean {
    let bytes = 0;
    const closed = queue.lastClosed ? queue.batches.length : queue.batches.length - 1;
    for (let i = 0; i < closed; i += 1) {
      bytes += (queue.batches[i] as ProducerBatch).sizeBytes;
      if (bytes + this.#batchSizeBytes > requestBytesMax) return true;
    }
    return false;
  }

  #hasRoom(queue: PartitionQueue): boolean {
    if (queue.recovering) return queue.inFlight === 0;
    return queue.inFlight < this.#inFlightMax;
  }

  /**
   * Drops every idle queue (the bound is hit). With idempotence their sequences go with them,
   * so the identities they were stamped under may not stamp a partition met afterwards.
   */
  #dropIdle(): void {
    for (const [key, queue] of this.#queues) {
      if (queue.batches.length > 0 || queue.inFlight > 0) continue;
      this.#queues.delete(key);
      this.#droppedGeneration = Math.max(this.#droppedGeneration, queue.generation);
    }
  }

  /**
   * Does a waiting batch need an identity newer than `identity` (its partition's queue was
   * created after idle queues stamped under `identity` were dropped)? The producer then takes
   * a new one.
   */
  needsNewIdentity(identity: ProducerIdentity): boolean {
    if (identity.generation > this.#droppedGeneration) return false;
    for (const queue of this.#queues.values()) {
      if (queue.fresh && queue.generation === -1 && queue.batches.length > 0) return true;
    }
    return false;
  }

  /** Partition queues held (idle ones up to idlePartitionsMax). */
  get partitionCount(): number {
    return this.#queues.size;
  }

  /** The head batch keeps its identity, or may be stamped with `identity` now. */
  #canStamp(queue: PartitionQueue, identity: ProducerIdentity | null): boolean {
    const head = queue.batches[0] as ProducerBatch;
    if (head.producer !== null) return true;
    if (identity === null) return false;
    // Never stamped, and perhaps its partition's sequence was dropped: a newer identity only.
    const unstampedFresh = queue.fresh && queue.generation === -1;
    if (unstampedFresh && identity.generation <= this.#droppedGeneration) return false;
    for (const batch of queue.inFlightBatches) {
      if (batch.producer?.generation !== identity.generation) return false;
    }
    return true;
  }

  /**
   * A batch stamped before (a retry) goes alone, with its identity and sequence: a request never
   * joins batches that earlier went in different requests, so each request was written whole or
   * not at all. Otherwise the partition's ready unstamped batches go together (as without
   * idempotence), stamped with `identity` and consecutive sequences: one produce, one run.
   */
  #takeStamped(
    queue: PartitionQueue,
    identity: ProducerIdentity | null,
    nowMs: number,
    flushing: boolean,
    requestBytesMax: number,
  ): ProducerBatch[] {
    const head = queue.batches[0] as ProducerBatch;
    if (head.producer !== null) {
      queue.batches.shift();
      if (queue.batches.length === 0) queue.lastClosed = true;
      return [head];
    }
    assert(identity !== null, 'a batch is stamped only with an identity');
    const taken = this.#takeBatches(queue, nowMs, flushing, requestBytesMax, true);
    if (queue.generation !== identity.generation) {
      queue.generation = identity.generation;
      queue.nextSequence = 0;
    }
    for (const batch of taken) {
      batch.producer = identity;
      batch.baseSequence = queue.nextSequence;
      queue.nextSequence = addSequence(queue.nextSequence, batch.records.length);
    }
    return taken;
  }

  #takeBatches(
    queue: PartitionQueue,
    nowMs: number,
    flushing: boolean,
    requestBytesMax: number,
    unstampedOnly = false,
  ): ProducerBatch[] {
    const taken: ProducerBatch[] = [];
    let bytes = 0;
    while (queue.batches.length > 0) {
      const next = queue.batches[0] as ProducerBatch;
      if (unstampedOnly && next.producer !== null) break;
      const isOpenLast = queue.batches.length === 1 && !queue.lastClosed;
      const lingered = nowMs - next.createdAtMs >= this.#lingerMs;
      if (isOpenLast && !flushing && !lingered && taken.length > 0) break;
      if (taken.length > 0 && (bytes + next.sizeBytes > requestBytesMax || next.retryAtMs > nowMs))
        break;
      taken.push(queue.batches.shift() as ProducerBatch);
      bytes += next.sizeBytes;
      if (queue.batches.length === 0) queue.lastClosed = true;
    }
    return taken;
  }

  /**
   * A request of `sent` finished: `done` records are settled, `retry` goes back in number
   * order (before later batches) and the partition recovers one request at a time; a success
   * with nothing else in flight ends the recovery.
   */
  complete(sent: readonly ProducerBatch[], done: number, retry: readonly ProducerBatch[]): void {
    const first = sent[0];
    assert(first !== undefined, 'a request has batches');
    const key = partitionKey(first.topic, first.partition);
    const queue = this.#queues.get(key);
    assert(queue !== undefined && queue.inFlight > 0, `${key} had no request in flight`);
    queue.inFlight -= 1;
    for (const batch of sent) queue.inFlightBatches.delete(batch);
    this.#recordCount -= done;
    assert(this.#recordCount >= 0, 'record count went negative');
    if (retry.length > 0) {
      if (queue.batches.length === 0) queue.lastClosed = true;
      for (const batch of retry) {
        const at = queue.batches.findIndex((queued) => queued.number > batch.number);
        const earlier = at === -1 ? queue.batches : queue.batches.slice(0, at);
        if (earlier.some((queued) => queued.producer === null)) {
          // An earlier batch goes under a new identity: this one must follow it there.
          batch.producer = null;
          batch.baseSequence = -1;
        }
        queue.batches.splice(at === -1 ? queue.batches.length : at, 0, batch);
      }
      queue.recovering = true;
    } else if (queue.inFlight === 0) {
      queue.recovering = false;
    }
    this.#maybeForget(key, queue);
  }

  /** An idle queue goes, unless it holds the partition's next sequence (idempotent). */
  #maybeForget(key: string, queue: PartitionQueue): void {
    if (this.#idempotent || queue.batches.length > 0 || queue.inFlight > 0) return;
    this.#queues.delete(key);
  }

  /** Is a batch of the partition created before `number` still waiting or in flight? */
  hasEarlier(topic: string, partition: number, number: number): boolean {
    const queue = this.#queues.get(partitionKey(topic, partition));
    if (queue === undefined) return false;
    if (queue.batches.some((batch) => batch.number < number)) return true;
    for (const batch of queue.inFlightBatches) if (batch.number < number) return true;
    return false;
  }

  /**
   * The waiting batches of the partition from `number` on lose their stamp: they are sent
   * again under the next identity, from sequence 0 (after UNKNOWN_PRODUCER_ID).
   */
  unstampFrom(topic: string, partition: number, number: number): void {
    const queue = this.#queues.get(partitionKey(topic, partition));
    for (const batch of queue?.batches ?? []) {
      if (batch.number < number) continue;
      batch.producer = null;
      batch.baseSequence = -1;
    }
  }

  /** The sequence number of the oldest record waiting here (not in flight), or Infinity. */
  oldestSeq(): number {
    let oldest = Infinity;
    for (const queue of this.#queues.values()) {
      for (const batch of queue.batches) {
        const seq = batch.records[0]?.seq;
        if (seq !== undefined && seq < oldest) oldest = seq;
      }
    }
    return oldest;
  }

  /** Waiting batches never stamped, oldest first (they fail if no identity can be had). */
  unstamped(): ProducerBatch[] {
    const found: ProducerBatch[] = [];
    for (const queue of this.#queues.values()) {
      for (const batch of queue.batches) if (batch.producer === null) found.push(batch);
    }
    return found;
  }

  /** Takes waiting batches out (they are failed by the caller); their records leave the count. */
  remove(batches: readonly ProducerBatch[]): void {
    for (const batch of batches) {
      const key = partitionKey(batch.topic, batch.partition);
      const queue = this.#queues.get(key);
      const at = queue?.batches.indexOf(batch) ?? -1;
      if (queue === undefined || at === -1) continue;
      queue.batches.splice(at, 1);
      if (at === queue.batches.length) queue.lastClosed = true;
      this.#recordCount -= batch.records.length;
      this.#maybeForget(key, queue);
    }
  }

  /** When the next batch becomes ready by time alone, or null if none waits on time. */
  nextReadyAtMs(nowMs: number): number | null {
    let next: number | null = null;
    for (const queue of this.#queues.values()) {
      const first = queue.batches[0];
      if (!this.#hasRoom(queue) || first === undefined) continue;
      // Beside a request in flight it goes when full (the append that closes a batch wakes
      // the producer) or when that request answers; lingering alone does not send it.
      if (queue.inFlight > 0) continue;
      const lingerAtMs =
        queue.batches.length > 1 || queue.lastClosed
          ? first.retryAtMs
          : Math.max(first.retryAtMs, first.createdAtMs + this.#lingerMs);
      const at = Math.max(lingerAtMs, nowMs);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  #isReady(queue: PartitionQueue, nowMs: number, flushing: boolean): boolean {
    const first = queue.batches[0];
    if (first === undefined || first.retryAtMs > nowMs) return false;
    if (flushing || queue.batches.length > 1 || queue.lastClosed) return true;
    return nowMs - first.createdAtMs >= this.#lingerMs;
  }
}
