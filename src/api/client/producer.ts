// The producer: records are placed on a partition (explicit, murmur2 of the key, or sticky),
// gathered per partition by ./record-accumulator.ts within buffer.memory, encoded as Kafka
// RecordBatch v2 (compressed per the codec in the batch attributes) and POSTed straight to each
// partition's leader. Retriable failures go back to their partition's queue in creation order
// after a jittered backoff, with metadata refreshed first when the leader moved. Idempotent by
// default (Kafka's enable.idempotence): the producer takes an id from POST /v1/producers, each
// batch carries it with a per-partition sequence that its retries keep, up to five requests per
// partition are in flight, and the leader answers a retry of a stored batch with its original
// offsets — so ambiguous failures (a timeout, a dropped connection, a leader change) are
// retried without duplicates. UNKNOWN_PRODUCER_ID (and a gap no earlier batch explains) takes
// a new identity once the earlier batches' outcome is known; INVALID_PRODUCER_EPOCH (fenced)
// fails the records. With `idempotent: false` one request per partition is in flight and a
// retry may store a batch twice (at least once).
import { assert, type Clock, type Random, type WallClock } from '../../common/index.ts';
import { encodeBatches, type Compression, type LogRecord } from '../../log/index.ts';
import { batchContentType } from '../wire.ts';
import { backoffDelayMs, defaultBackoff, type BackoffConfig } from './backoff.ts';
import { BufferMemory } from './buffer-memory.ts';
import { ClientError, staleMetadataCodes } from './client-error.ts';
import type { LeaderAddress, MetadataCache } from './metadata-cache.ts';
import {
  batchOverheadBytes,
  idlePartitionsMaxDefault,
  RecordAccumulator,
  recordSizeBytes,
  type PendingRecord,
  type ProducerBatch,
  type ProducerIdentity,
  type RecordMetadata,
} from './record-accumulator.ts';
import { StickyPartitioner } from './sticky-partitioner.ts';
import { jsonBody, responseError, type Transport } from './transport.ts';

export type { RecordMetadata } from './record-accumulator.ts';
export type Acks = 'all' | 1 | 0;
export type Bytes = Uint8Array | string;

/** One header as records carry it (and consumers return it), in record order. */
export interface RecordHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface ProducerMessage {
  readonly topic: string;
  readonly key?: Bytes | null;
  readonly value: Bytes | null;
  /**
   * Header name → value, or the headers as records carry them (a consumed record's `headers`
   * pass on unchanged, and no per-record conversion is made).
   */
  readonly headers?: Readonly<Record<string, Bytes | null>> | readonly RecordHeader[];
  readonly partition?: number;
  /** ms since the Unix epoch; now when absent. */
  readonly timestampMs?: number;
}

/**
 * What a producer reports to `onEvent` while it works: a retry of a partition's request after a
 * retriable failure, and a retried request going to another leader than before.
 */
export type ProducerEvent =
  | {
      readonly type: 'retry';
      readonly topic: string;
      readonly partition: number;
      /** 1 for the first retry. */
      readonly attempt: number;
      readonly code: ClientError['code'];
      readonly message: string;
      readonly backoffMs: number;
      readonly records: number;
    }
  | {
      readonly type: 'leader-change';
      readonly topic: string;
      readonly partition: number;
      readonly fromLeaderId: number;
      readonly toLeaderId: number;
      readonly leaderEpoch: number;
    };

export interface ProducerConfig {
  readonly acks: Acks;
  readonly compression: Compression;
  readonly batchSizeBytes: number; // batch.size
  readonly lingerMs: number; // linger.ms
  readonly bufferMemoryBytes: number; // buffer.memory
  readonly maxBlockMs: number; // max.block.ms: longest wait for buffer space or metadata
  readonly sendWaitersMax: number; // sends waiting for buffer space at once
  readonly requestBytesMax: number; // max.request.size: batches of one partition per POST
  readonly maxInFlightRequestsPerBroker: number;
  readonly retriesMax: number; // retries
  readonly retryBackoff: BackoffConfig; // retry.backoff.ms / retry.backoff.max.ms
  readonly deliveryTimeoutMs: number; // delivery.timeout.ms: send() to acknowledgement
  readonly requestTimeoutMs: number; // request.timeout.ms
  /** Told of retries and leader changes (e.g. `rill produce --verbose`); must not throw. */
  readonly onEvent?: (event: ProducerEvent) => void;
  /** enable.idempotence: retries never store a batch twice (the default). */
  readonly idempotent: boolean;
  /**
   * Requests in flight per partition with idempotence (max.in.flight.requests.per.connection,
   * per partition here), at most batchesPerProducerMax; 1 without idempotence. Beside one in
   * flight a further request goes only when it is full (requestBytesMax).
   */
  readonly maxInFlightPerPartition: number;
  /**
   * Idle partitions whose state the producer keeps (idempotent: each one's next sequence). A
   * new partition beyond it drops the idle ones; batches to partitions met afterwards then go
   * under a new identity (one more POST /v1/producers), never under a forgotten sequence.
   */
  readonly idlePartitionsMax: number;
  /**
   * Kafka's transactional.id, for fencing: a producer started with the same name bumps the
   * epoch and the older instance's writes fail with INVALID_PRODUCER_EPOCH.
   */
  readonly producerName?: string;
}

/** Batches the broker remembers per producer and partition (its producer-state.ts). */
export const batchesPerProducerMax = 5;

export const defaultProducerConfig: ProducerConfig = {
  acks: 'all',
  compression: 'none',
  batchSizeBytes: 16 * 1024,
  lingerMs: 5,
  bufferMemoryBytes: 32 * 1024 * 1024,
  maxBlockMs: 60_000,
  sendWaitersMax: 100_000,
  requestBytesMax: 1024 * 1024,
  maxInFlightRequestsPerBroker: 5,
  retriesMax: 20,
  retryBackoff: defaultBackoff,
  deliveryTimeoutMs: 120_000,
  requestTimeoutMs: 30_000,
  idempotent: true,
  maxInFlightPerPartition: 5,
  idlePartitionsMax: idlePartitionsMaxDefault,
};

export interface ProducerDeps {
  readonly transport: Transport;
  readonly metadata: MetadataCache;
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly random: Random;
}

/** A send holding its buffer memory, waiting for its topic's partition count. */
interface TopicWaiter {
  readonly message: ProducerMessage;
  readonly record: LogRecord;
  readonly sizeBytes: number;
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: unknown) => void;
}

/** One metadata look-up of a topic and the sends waiting on it; `done` never rejects. */
interface TopicLookup {
  readonly waiters: TopicWaiter[];
  readonly done: Promise<void>;
}

/** Bucket for in-flight counting when a partition's leader is not cached yet. */
const unknownLeader = -1;
const produceResponseBytesMax = 64 * 1024;

export class Producer {
  readonly #config: ProducerConfig;
  readonly #deps: ProducerDeps;
  readonly #memory: BufferMemory;
  readonly #accumulator: RecordAccumulator;
  readonly #partitioner: StickyPartitioner;
  /** leader id → produce requests in flight to it. */
  readonly #inFlight = new Map<number, number>();
  /** Produce requests in flight, each one partition's batches. */
  readonly #requests = new Set<readonly ProducerBatch[]>();
  /** Woken whenever a request finishes, to let flush() check its progress. */
  #flushWaiters: (() => void)[] = [];
  /** Sequence number of the latest appended record (records are numbered from 1). */
  #appendSeq = 0;
  /** The executor shared by every acknowledgement promise: no closure per record. */
  readonly #captureAck: (
    resolve: (metadata: RecordMetadata) => void,
    reject: (error: ClientError) => void,
  ) => void;
  #capturedResolve: (metadata: RecordMetadata) => void = () => {};
  #capturedReject: (error: ClientError) => void = () => {};
  /** Sends not yet in the accumulator because they wait for buffer space. */
  readonly #appending = new Set<Promise<unknown>>();
  /**
   * topic → its metadata look-up, for sends that hold buffer space but whose topic is not
   * cached (the first burst to a topic: up to buffer.memory of records). They share the one
   * look-up and cost one promise each, as on the fast path, instead of a chain of async calls
   * each; an entry lives until its look-up settles, so there is at most one per topic sent to.
   */
  readonly #lookups = new Map<string, TopicLookup>();
  #flushing = 0;
  #closed = false;
  #cancelTimer: (() => void) | null = null;
  #timerAtMs = Infinity;
  /** The idempotent identity new batches are stamped with (null: none yet, or being renewed). */
  #identity: ProducerIdentity | null = null;
  /** Identities taken so far: the next one's generation. */
  #generation = 0;
  /** The one POST /v1/producers in flight. */
  #initializing: Promise<void> | null = null;

  constructor(config: Partial<ProducerConfig>, deps: ProducerDeps) {
    this.#config = { ...defaultProducerConfig, ...config };
    const c = this.#config;
    assert(c.batchSizeBytes <= c.requestBytesMax, 'batchSizeBytes must be <= requestBytesMax');
    assert(c.maxInFlightRequestsPerBroker > 0, 'maxInFlightRequestsPerBroker must be > 0');
    assert(c.retriesMax >= 0, 'retriesMax must be >= 0');
    assert(
      c.maxInFlightPerPartition >= 1 && c.maxInFlightPerPartition <= batchesPerProducerMax,
      `maxInFlightPerPartition must be in [1, ${batchesPerProducerMax}]`,
    );
    this.#deps = deps;
    this.#memory = new BufferMemory(
      { bytesMax: c.bufferMemoryBytes, maxBlockMs: c.maxBlockMs, waitersMax: c.sendWaitersMax },
      { clock: deps.clock },
    );
    this.#accumulator = new RecordAccumulator({
      batchSizeBytes: c.batchSizeBytes,
      lingerMs: c.lingerMs,
      idempotent: c.idempotent,
      inFlightPerPartitionMax: c.maxInFlightPerPartition,
      idlePartitionsMax: c.idlePartitionsMax,
    });
    this.#partitioner = new StickyPartitioner({ topicsMax: 10_000 }, { random: deps.random });
    this.#captureAck = (resolve, reject) => {
      this.#capturedResolve = resolve;
      this.#capturedReject = reject;
    };
  }

  /** Bytes of records appended and not yet acknowledged (bounded by bufferMemoryBytes). */
  get bufferedBytes(): number {
    return this.#memory.usedBytes;
  }

  /**
   * Appends a record, waiting while buffer.memory is full, and resolves once the broker
   * acknowledged it per `acks`. Fails with CLIENT_CLOSED, CLIENT_RECORD_TOO_LARGE,
   * CLIENT_BUFFER_TIMEOUT, CLIENT_BUFFER_FULL, CLIENT_DELIVERY_TIMEOUT, or the broker's
   * non-retriable code (or the last retriable one once retriesMax is spent).
   */
  send(message: ProducerMessage): Promise<RecordMetadata> {
    const ack = new Promise<RecordMetadata>(this.#captureAck);
    const resolve = this.#capturedResolve;
    if (this.#appendNow(message, resolve, this.#capturedReject)) return ack;
    return this.#sendSlow(message);
  }

  /**
   * send() without a promise per record: `onAck` or `onError` is called once, as send()'s
   * promise would settle. For callers that send many records and need only the outcomes (the
   * streams runtime), with one pair of functions for every record.
   */
  sendWith(
    message: ProducerMessage,
    onAck: (metadata: RecordMetadata) => void,
    onError: (error: unknown) => void,
  ): void {
    if (!this.#appendNow(message, onAck, onError)) this.#sendSlow(message).then(onAck, onError);
  }

  /**
   * The fast path: with buffer space and the topic's metadata at hand, the record is appended
   * right now; false when the slow path must take it (nothing was taken then).
   */
  #appendNow(
    message: ProducerMessage,
    resolve: (metadata: RecordMetadata) => void,
    reject: (error: ClientError) => void,
  ): boolean {
    if (this.#closed) return false;
    const partitionCount = this.#deps.metadata.cachedTopic(message.topic)?.partitions.length;
    if (message.partition === undefined && partitionCount === undefined) return false;
    // While a look-up of the topic is pending, later sends queue behind its waiters: in order.
    if (this.#lookups.size > 0 && this.#lookups.has(message.topic)) return false;
    const record = toLogRecord(message, this.#deps.wallClock);
    const sizeBytes = recordSizeBytes(record);
    if (sizeBytes + batchOverheadBytes > this.#config.requestBytesMax) return false;
    if (!this.#memory.tryAcquire(sizeBytes)) return false;
    this.#append(message, record, sizeBytes, partitionCount ?? 0, resolve, reject);
    return true;
  }

  #sendSlow(message: ProducerMessage): Promise<RecordMetadata> {
    if (this.#closed) {
      return Promise.reject(new ClientError('CLIENT_CLOSED', 'the producer is closed'));
    }
    const record = toLogRecord(message, this.#deps.wallClock);
    const sizeBytes = recordSizeBytes(record);
    if (sizeBytes + batchOverheadBytes > this.#config.requestBytesMax) {
      const text = `a ${sizeBytes}-byte record exceeds requestBytesMax`;
      return Promise.reject(new ClientError('CLIENT_RECORD_TOO_LARGE', text));
    }
    if (this.#memory.tryAcquire(sizeBytes)) {
      return this.#appendAfterLookup(message, record, sizeBytes);
    }
    // Until the record is in the accumulator, flush() must wait for this send by other means.
    const appended = this.#appendWhenReady(message, record, sizeBytes);
    this.#appending.add(appended);
    const forget = (): void => {
      this.#appending.delete(appended);
    };
    appended.then(forget, forget);
    return appended.then(({ ack }) => ack);
  }

  /** Joins (or starts) the topic's shared look-up; the record is appended once it settles. */
  #appendAfterLookup(
    message: ProducerMessage,
    record: LogRecord,
    sizeBytes: number,
  ): Promise<RecordMetadata> {
    const { topic } = message;
    const ack = new Promise<RecordMetadata>(this.#captureAck);
    let lookup = this.#lookups.get(topic);
    if (lookup === undefined) {
      const waiters: TopicWaiter[] = [];
      const done = this.#topicWithRetries(topic).then(
        (metadata) => {
          this.#lookups.delete(topic);
          const count = metadata.partitions.length;
          for (const w of waiters) {
            this.#append(w.message, w.record, w.sizeBytes, count, w.resolve, w.reject);
          }
        },
        (error: unknown) => {
          this.#lookups.delete(topic);
          for (const w of waiters) {
            this.#memory.release(w.sizeBytes);
            w.reject(error);
          }
        },
      );
      lookup = { waiters, done };
      this.#lookups.set(topic, lookup);
    }
    // The executor's reject takes any reason; the field is typed for the producer's own use.
    const reject = this.#capturedReject as (error: unknown) => void;
    lookup.waiters.push({ message, record, sizeBytes, resolve: this.#capturedResolve, reject });
    return ack;
  }

  /** Waits for buffer space and metadata, then appends; resolves with the acknowledgement. */
  async #appendWhenReady(
    message: ProducerMessage,
    record: LogRecord,
    sizeBytes: number,
  ): Promise<{ ack: Promise<RecordMetadata> }> {
    await this.#memory.acquire(sizeBytes);
    try {
      const metadata = await this.#topicWithRetries(message.topic);
      const ack = new Promise<RecordMetadata>(this.#captureAck);
      const count = metadata.partitions.length;
      this.#append(message, record, sizeBytes, count, this.#capturedResolve, this.#capturedReject);
      return { ack };
    } catch (error) {
      this.#memory.release(sizeBytes);
      throw error;
    }
  }

  /**
   * Sends everything appended so far at once (ignoring linger) and waits until each of those
   * records is acknowledged or failed. Records sent meanwhile are not waited for.
   */
  async flush(): Promise<void> {
    this.#flushing += 1;
    try {
      const lookups = [...this.#lookups.values()].map((lookup) => lookup.done);
      await Promise.allSettled([...this.#appending, ...lookups]);
      const target = this.#appendSeq;
      this.#sendSoon();
      while (this.#oldestOutstandingSeq() <= target) {
        await new Promise<void>((resolve) => this.#flushWaiters.push(resolve));
      }
    } finally {
      this.#flushing -= 1;
    }
  }

  /** The sequence number of the oldest record not yet acknowledged or failed. */
  #oldestOutstandingSeq(): number {
    let oldest = this.#accumulator.oldestSeq();
    for (const request of this.#requests) {
      oldest = Math.min(oldest, request[0]?.records[0]?.seq ?? Infinity);
    }
    return oldest;
  }

  /** Refuses new sends, then delivers (or fails) everything already appended. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }

  /** Topic metadata, retrying while the topic may still be spreading, up to maxBlockMs. */
  async #topicWithRetries(topic: string): Promise<{ partitions: readonly unknown[] }> {
    const startMs = this.#deps.clock.nowMs();
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#deps.metadata.topic(topic, attempt > 0);
      } catch (error) {
        const spentMs = this.#deps.clock.nowMs() - startMs;
        if (!(error instanceof ClientError) || !error.retriable) throw error;
        if (attempt >= this.#config.retriesMax || spentMs >= this.#config.maxBlockMs) throw error;
        await this.#sleep(backoffDelayMs(this.#config.retryBackoff, attempt, this.#deps.random));
      }
    }
  }

  /** Places and appends the record; a null key sticks to a partition until its batch is full. */
  #append(
    message: ProducerMessage,
    record: LogRecord,
    sizeBytes: number,
    partitionCount: number,
    resolve: (metadata: RecordMetadata) => void,
    reject: (error: ClientError) => void,
  ): void {
    const { topic } = message;
    const sticky = message.partition === undefined && record.key === null;
    let partition =
      message.partition ?? this.#partitioner.partition(topic, record.key, partitionCount);
    this.#appendSeq += 1;
    const pending: PendingRecord = { record, sizeBytes, resolve, reject, seq: this.#appendSeq };
    const nowMs = this.#now();
    let result = this.#accumulator.append(topic, partition, pending, nowMs, sticky);
    if (result === 'aborted') {
      // Kafka's abortOnNewBatch: rather than start a batch here, move to another partition.
      this.#partitioner.onBatchComplete(topic, partition, partitionCount);
      partition = this.#partitioner.partition(topic, null, partitionCount);
      result = this.#accumulator.append(topic, partition, pending, nowMs, false);
      this.#sendSoon();
    }
    if (result === 'closed') this.#sendSoon();
    else this.#wakeAt(nowMs + this.#config.lingerMs);
  }

  #now(): number {
    return this.#deps.clock.nowMs();
  }

  #sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.#deps.clock.schedule(delayMs, resolve));
  }

  #sendSoon(): void {
    this.#wakeAt(this.#now());
  }

  #wakeAt(atMs: number): void {
    if (atMs >= this.#timerAtMs) return;
    this.#cancelTimer?.();
    this.#timerAtMs = atMs;
    this.#cancelTimer = this.#deps.clock.schedule(atMs - this.#now(), () => {
      this.#cancelTimer = null;
      this.#timerAtMs = Infinity;
      this.#drain();
    });
  }

  #drain(): void {
    const nowMs = this.#now();
    if (this.#identity !== null && this.#accumulator.needsNewIdentity(this.#identity)) {
      this.#identity = null; // Partitions whose sequences were dropped (idlePartitionsMax).
    }
    if (this.#config.idempotent && this.#identity === null && this.#accumulator.recordCount > 0) {
      this.#initIdentity();
    }
    const requests = this.#accumulator.drain(
      nowMs,
      this.#flushing > 0,
      this.#config.requestBytesMax,
      (topic, partition) => this.#reserveBrokerSlot(topic, partition),
      this.#identity,
    );
    for (const batches of requests) {
      const first = batches[0] as ProducerBatch;
      const count = this.#deps.metadata.cachedTopic(first.topic)?.partitions.length;
      if (count !== undefined) {
        this.#partitioner.onBatchComplete(first.topic, first.partition, count);
      }
      const bucket = this.#leaderBucket(first.topic, first.partition);
      this.#requests.add(batches);
      void this.#sendRequest(batches).finally(() => {
        this.#requests.delete(batches);
        this.#inFlight.set(bucket, (this.#inFlight.get(bucket) ?? 1) - 1);
        this.#sendSoon();
        const waiters = this.#flushWaiters;
        this.#flushWaiters = [];
        for (const wake of waiters) wake();
      });
    }
    const next = this.#accumulator.nextReadyAtMs(nowMs);
    if (next !== null && next > nowMs) this.#wakeAt(next);
  }

  /**
   * Takes the identity new batches are stamped with (POST /v1/producers), retrying retriable
   * failures with backoff up to maxBlockMs; if none can be had, the batches waiting for one
   * fail with the last error.
   */
  #initIdentity(): void {
    if (this.#initializing !== null) return;
    const name = this.#config.producerName;
    const body = JSON.stringify(name === undefined ? {} : { producerName: name });
    const startMs = this.#now();
    const attempt = async (): Promise<void> => {
      for (let tries = 0; ; tries += 1) {
        try {
          const response = await this.#deps.metadata.requestAny({
            method: 'POST',
            path: '/v1/producers',
            body,
          });
          if (response.status !== 200) throw responseError(response, 'init producer');
          const answer = jsonBody(response, 'init producer') as Partial<ProducerIdentity>;
          const { producerId, producerEpoch } = answer;
          if (typeof producerId !== 'number' || typeof producerEpoch !== 'number') {
            throw new ClientError('CLIENT_BAD_RESPONSE', 'init producer: no producerId');
          }
          this.#identity = { producerId, producerEpoch, generation: this.#generation };
          this.#generation += 1;
          return;
        } catch (error) {
          const failure = toClientError(error);
          const spentMs = this.#now() - startMs;
          if (!failure.retriable || spentMs >= this.#config.maxBlockMs) throw failure;
          const { retryBackoff } = this.#config;
          await this.#sleep(backoffDelayMs(retryBackoff, tries, this.#deps.random));
        }
      }
    };
    this.#initializing = attempt()
      .catch((error: unknown) => this.#failUnstamped(toClientError(error)))
      .finally(() => {
        this.#initializing = null;
        this.#sendSoon();
        for (const wake of this.#flushWaiters.splice(0)) wake();
      });
  }

  /** No identity could be had: the batches waiting for one fail (never silently dropped). */
  #failUnstamped(error: ClientError): void {
    const batches = this.#accumulator.unstamped();
    this.#accumulator.remove(batches);
    for (const batch of batches) {
      for (const pending of batch.records) pending.reject(error);
      this.#memory.release(batch.sizeBytes - batchOverheadBytes);
    }
  }

  #leaderBucket(topic: string, partition: number): number {
    const cached = this.#deps.metadata.cachedTopic(topic);
    return cached?.partitions.find((p) => p.partition === partition)?.leaderId ?? unknownLeader;
  }

  /**
   * Takes one of the leader's request slots (maxInFlightRequestsPerBroker, with or without
   * idempotence: a request carries a partition's ready batches either way), or says there is none.
   */
  #reserveBrokerSlot(topic: string, partition: number): boolean {
    const bucket = this.#leaderBucket(topic, partition);
    const inFlight = this.#inFlight.get(bucket) ?? 0;
    if (inFlight >= this.#config.maxInFlightRequestsPerBroker) return false;
    this.#inFlight.set(bucket, inFlight + 1);
    return true;
  }

  /** One POST of one partition's batches; never rejects (outcomes go to the records). */
  async #sendRequest(batches: ProducerBatch[]): Promise<void> {
    const { topic, partition } = batches[0] as ProducerBatch;
    const recordCount = batches.reduce((n, b) => n + b.records.length, 0);
    try {
      const baseOffset = await this.#produce(topic, partition, batches);
      let offset = baseOffset;
      for (const batch of batches) {
        for (const pending of batch.records) {
          pending.resolve({ topic, partition, offset: baseOffset < 0 ? -1 : offset });
          offset += 1;
        }
        this.#memory.release(batch.sizeBytes - batchOverheadBytes);
      }
      this.#accumulator.complete(batches, recordCount, []);
    } catch (error) {
      this.#onProduceError(batches, recordCount, toClientError(error));
    }
  }

  async #produce(topic: string, partition: number, batches: ProducerBatch[]): Promise<number> {
    const leader = await this.#deps.metadata.leader(topic, partition);
    this.#noteLeader(batches, leader);
    // One buffer for the whole request: the batches are encoded in place, not joined after.
    const body = await encodeBatches(
      batches.map((batch) => ({
        baseOffset: 0,
        partitionLeaderEpoch: -1, // Kafka's "none": the leader stamps its own epoch.
        records: batch.records.map((pending) => pending.record),
        compression: this.#config.compression,
        ...(batch.producer === null
          ? {}
          : {
              producerId: BigInt(batch.producer.producerId),
              producerEpoch: batch.producer.producerEpoch,
              baseSequence: batch.baseSequence,
            }),
      })),
    );
    const { acks, requestTimeoutMs } = this.#config;
    const path =
      `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records` +
      `?acks=${acks}&timeoutMs=${requestTimeoutMs}`;
    const response = await this.#deps.transport.request(leader.url, {
      method: 'POST',
      path,
      headers: { 'content-type': batchContentType },
      body,
      responseBytesMax: produceResponseBytesMax,
      timeoutMs: requestTimeoutMs + 5_000, // The broker answers REQUEST_TIMED_OUT first.
    });
    const what = `produce to ${topic}/${partition}`;
    if (response.status < 200 || response.status >= 300) throw responseError(response, what);
    if (response.body.length === 0) return -1;
    const answer = jsonBody(response, what) as { baseOffset?: unknown };
    return typeof answer.baseOffset === 'number' ? answer.baseOffset : -1;
  }

  /** Records where the batches go, reporting a retry that goes to another leader. */
  #noteLeader(batches: readonly ProducerBatch[], leader: LeaderAddress): void {
    const first = batches[0] as ProducerBatch;
    const from = first.sentToLeaderId;
    if (from !== null && from !== leader.leaderId) {
      this.#config.onEvent?.({
        type: 'leader-change',
        topic: first.topic,
        partition: first.partition,
        fromLeaderId: from,
        toLeaderId: leader.leaderId,
        leaderEpoch: leader.leaderEpoch,
      });
    }
    for (const batch of batches) batch.sentToLeaderId = leader.leaderId;
  }

  #onProduceError(batches: ProducerBatch[], recordCount: number, error: ClientError): void {
    const first = batches[0] as ProducerBatch;
    const { topic, partition } = first;
    const nowMs = this.#now();
    const expired = nowMs - first.createdAtMs >= this.#config.deliveryTimeoutMs;
    const action = this.#actionOn(first, error);
    if (action !== 'fail' && first.attempts < this.#config.retriesMax && !expired) {
      if (staleMetadataCodes.has(error.code)) this.#deps.metadata.invalidate(topic);
      if (action === 'restamp') this.#restamp(first);
      for (const batch of batches) {
        batch.attempts += 1;
        // A batch waiting for an earlier one goes as soon as that one is through.
        const backoff = backoffDelayMs(
          this.#config.retryBackoff,
          batch.attempts - 1,
          this.#deps.random,
        );
        batch.retryAtMs = nowMs + (error.code === 'OUT_OF_ORDER_SEQUENCE_NUMBER' ? 0 : backoff);
      }
      this.#config.onEvent?.({
        type: 'retry',
        topic,
        partition,
        attempt: first.attempts,
        code: error.code,
        message: error.message,
        backoffMs: Math.max(0, first.retryAtMs - nowMs),
        records: recordCount,
      });
      this.#accumulator.complete(batches, 0, batches);
      return;
    }
    const final = expired
      ? new ClientError(
          'CLIENT_DELIVERY_TIMEOUT',
          `${topic}/${partition}: not acknowledged within ${this.#config.deliveryTimeoutMs} ms`,
          { cause: error },
        )
      : error;
    for (const batch of batches) {
      for (const pending of batch.records) pending.reject(final);
      this.#memory.release(batch.sizeBytes - batchOverheadBytes);
    }
    this.#accumulator.complete(batches, recordCount, []);
  }

  /**
   * What a failed request asks for: a retry as it was (same identity and sequence), a restamp
   * (a new identity, sequences from 0: the broker has no usable state for this producer and
   * no earlier batch of the partition is outstanding, so nothing of this batch is in the log),
   * or failing its records. A sequence error while an earlier batch is still outstanding only
   * means this one overtook it: it is retried after it.
   */
  #actionOn(batch: ProducerBatch, error: ClientError): 'retry' | 'restamp' | 'fail' {
    if (batch.producer === null) return error.retriable ? 'retry' : 'fail';
    switch (error.code) {
      case 'OUT_OF_ORDER_SEQUENCE_NUMBER':
      case 'UNKNOWN_PRODUCER_ID': {
        const { topic, partition, number } = batch;
        return this.#accumulator.hasEarlier(topic, partition, number) ? 'retry' : 'restamp';
      }
      default:
        return error.retriable ? 'retry' : 'fail';
    }
  }

  /** The batch (and the partition's later waiting ones) go again under the next identity. */
  #restamp(batch: ProducerBatch): void {
    const generation = batch.producer?.generation;
    if (generation !== undefined && this.#identity?.generation === generation) {
      this.#identity = null; // The next drain takes a new one (POST /v1/producers).
    }
    batch.producer = null;
    batch.baseSequence = -1;
    this.#accumulator.unstampFrom(batch.topic, batch.partition, batch.number);
  }
}

function toClientError(error: unknown): ClientError {
  if (error instanceof ClientError) return error;
  // Anything else (an encoder failure) is not the broker's doing: fail the records, not the app.
  const reason = error instanceof Error ? error.message : String(error);
  return new ClientError('INVALID_RECORD', `could not encode the batch: ${reason}`, {
    cause: error,
  });
}

function toBytes(value: Bytes): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

const noHeaders: LogRecord['headers'] = [];

function isHeaderList(headers: ProducerMessage['headers']): headers is readonly RecordHeader[] {
  return Array.isArray(headers);
}

function toLogRecord(message: ProducerMessage, wallClock: WallClock): LogRecord {
  const given = message.headers;
  let headers: LogRecord['headers'] = noHeaders;
  if (isHeaderList(given)) headers = given;
  else if (given !== undefined) {
    const list: RecordHeader[] = [];
    for (const key of Object.keys(given)) {
      const value = given[key] as Bytes | null;
      list.push({ key, value: value === null ? null : toBytes(value) });
    }
    headers = list;
  }
  return {
    key: message.key === undefined || message.key === null ? null : toBytes(message.key),
    value: message.value === null ? null : toBytes(message.value),
    headers,
    timestampMs: message.timestampMs ?? wallClock.wallMs(),
  };
}
