// The producer's per-partition batches, before they are sent. Records append to the open batch
// of their partition; a batch closes when the next record would pass batchSizeBytes, and is
// ready to send once closed, lingered lingerMs, or flushed. A partition sends one request at a
// time, and a failed batch goes back to the front of its queue, so retries keep record order.
// Pure: time comes in as nowMs; memory is accounted by ./buffer-memory.ts.
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

export interface ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: PendingRecord[];
  sizeBytes: number;
  readonly createdAtMs: number;
  /** Sends that failed with a retriable error so far. */
  attempts: number;
  /** Not sent again before this time (backoff after a failure). */
  retryAtMs: number;
  /** The leader its last send went to (null before the first): reports leader changes. */
  sentToLeaderId: number | null;
}

interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  /** Oldest first; only the last may be open (still accepting records). */
  readonly batches: ProducerBatch[];
  lastClosed: boolean;
  inFlight: boolean;
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
  readonly #queues = new Map<string, PartitionQueue>();
  #recordCount = 0;

  constructor(config: { batchSizeBytes: number; lingerMs: number }) {
    assert(config.batchSizeBytes > batchOverheadBytes, 'batchSizeBytes is below a batch header');
    assert(config.lingerMs >= 0, 'lingerMs must be >= 0');
    this.#batchSizeBytes = config.batchSizeBytes;
    this.#lingerMs = config.lingerMs;
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
    const key = partitionKey(topic, partition);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { topic, partition, batches: [], lastClosed: true, inFlight: false };
      this.#queues.set(key, queue);
    }
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
      attempts: 0,
      retryAtMs: 0,
      sentToLeaderId: null,
    });
    queue.lastClosed = false;
    return open === undefined ? 'appended' : 'closed';
  }

  /**
   * Takes the batches of every partition that may send now (none in flight, first batch ready),
   * up to requestBytesMax per partition (at least one batch). Marks those partitions in flight.
   */
  drain(
    nowMs: number,
    flushing: boolean,
    requestBytesMax: number,
    canSend: (topic: string, partition: number) => boolean,
  ): ProducerBatch[][] {
    const requests: ProducerBatch[][] = [];
    for (const queue of this.#queues.values()) {
      if (queue.inFlight || !this.#isReady(queue, nowMs, flushing)) continue;
      if (!canSend(queue.topic, queue.partition)) continue;
      const taken: ProducerBatch[] = [];
      let bytes = 0;
      while (queue.batches.length > 0) {
        const next = queue.batches[0] as ProducerBatch;
        const isOpenLast = queue.batches.length === 1 && !queue.lastClosed;
        const lingered = nowMs - next.createdAtMs >= this.#lingerMs;
        if (isOpenLast && !flushing && !lingered && taken.length > 0) break;
        if (
          taken.length > 0 &&
          (bytes + next.sizeBytes > requestBytesMax || next.retryAtMs > nowMs)
        )
          break;
        taken.push(queue.batches.shift() as ProducerBatch);
        bytes += next.sizeBytes;
        if (queue.batches.length === 0) queue.lastClosed = true;
      }
      queue.inFlight = true;
      requests.push(taken);
    }
    return requests;
  }

  /** The request for a partition finished; `retry` goes back to the front, in order. */
  complete(topic: string, partition: number, done: number, retry: readonly ProducerBatch[]): void {
    const queue = this.#queues.get(partitionKey(topic, partition));
    assert(queue !== undefined && queue.inFlight, `${topic}/${partition} had no request in flight`);
    queue.inFlight = false;
    this.#recordCount -= done;
    assert(this.#recordCount >= 0, 'record count went negative');
    if (retry.length > 0) {
      if (queue.batches.length === 0) queue.lastClosed = true;
      queue.batches.unshift(...retry);
    }
    if (queue.batches.length === 0) this.#queues.delete(partitionKey(topic, partition));
  }

  /** The sequence number of the oldest record waiting here (not in flight), or Infinity. */
  oldestSeq(): number {
    let oldest = Infinity;
    for (const queue of this.#queues.values()) {
      const seq = queue.batches[0]?.records[0]?.seq;
      if (seq !== undefined && seq < oldest) oldest = seq;
    }
    return oldest;
  }

  /** When the next batch becomes ready by time alone, or null if none waits on time. */
  nextReadyAtMs(nowMs: number): number | null {
    let next: number | null = null;
    for (const queue of this.#queues.values()) {
      const first = queue.batches[0];
      if (queue.inFlight || first === undefined) continue;
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
