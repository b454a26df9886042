// The consumer: assigned partitions, a position (the next offset to return) per partition, and
// one long-polling binary fetch in flight per partition straight to its leader. A fetch answer
// is whole batches, the first of which may begin before the position: earlier records are
// skipped. Answers are buffered (one per partition) until poll() hands them out, so memory is
// bounded by partitions × fetchBytesMax. Leader moves refresh metadata and retry after backoff;
// OFFSET_OUT_OF_RANGE resets per autoOffsetReset or surfaces from poll(). A batch that does not
// decode ends an answer: the records before it are returned, and a fetch that starts at it makes
// poll() throw CORRUPT_MESSAGE with details { offset, nextOffset } (seek past it to go on).
// A paused partition keeps its position and buffer but is neither fetched nor returned.
import { assert, type Clock, type Random } from '../../common/index.ts';
import {
  DECOMPRESSED_BYTES_MAX,
  decodeReadableChunks,
  isLogError,
  type StoredRecord,
} from '../../log/index.ts';
import { batchContentType, fetchHeaders } from '../wire.ts';
import { backoffDelayMs, defaultBackoff, type BackoffConfig } from './backoff.ts';
import { ClientError, staleMetadataCodes } from './client-error.ts';
import type { MetadataCache } from './metadata-cache.ts';
import { jsonBody, responseError, type Transport } from './transport.ts';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface ConsumerRecord extends StoredRecord {
  readonly topic: string;
  readonly partition: number;
}

export type OffsetReset = 'earliest' | 'latest' | 'none';

export interface ConsumerConfig {
  readonly fetchBytesMax: number; // max.partition.fetch.bytes: bytes asked per fetch
  readonly fetchMaxWaitMs: number; // fetch.max.wait.ms: a prefetch's long-poll
  readonly pollRecordsMax: number; // max.poll.records
  readonly autoOffsetReset: OffsetReset; // auto.offset.reset when a position is out of range
  readonly partitionsMax: number; // partitions assigned at once
  readonly retryBackoff: BackoffConfig;
  readonly requestTimeoutMs: number;
}

export const defaultConsumerConfig: ConsumerConfig = {
  fetchBytesMax: 4 * 1024 * 1024,
  fetchMaxWaitMs: 500,
  pollRecordsMax: 10_000,
  autoOffsetReset: 'none',
  partitionsMax: 10_000,
  retryBackoff: defaultBackoff,
  requestTimeoutMs: 30_000,
};

export interface ConsumerDeps {
  readonly transport: Transport;
  readonly metadata: MetadataCache;
  readonly clock: Clock;
  readonly random: Random;
}

/** What a partition's next offset is: known, or to be looked up. */
type Position =
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'reset'; readonly to: 'earliest' | 'latest' };

interface PartitionState {
  readonly tp: TopicPartition;
  position: Position;
  /** Records at and after the position, from the last fetch, not yet returned. */
  buffered: StoredRecord[];
  fetching: boolean;
  /** Cancels the fetch in flight: a seek makes its answer useless. */
  cancelFetch: AbortController | null;
  /** A failure poll() must report (OFFSET_OUT_OF_RANGE without a reset policy). */
  error: ClientError | null;
  retryAtMs: number;
  failures: number;
  highWatermark: number;
  /** Bumped by seek: an answer to an older fetch is dropped. */
  generation: number;
  /** Not fetched and not returned by poll() until resumed. */
  paused: boolean;
}

export class Consumer {
  readonly #config: ConsumerConfig;
  readonly #deps: ConsumerDeps;
  readonly #partitions = new Map<string, PartitionState>();
  /** Where the next poll starts taking buffered records (an index into #partitions). */
  #takeFrom = 0;
  /** Resolved (and replaced) whenever a fetch finishes, to wake a waiting poll(). */
  #wake: () => void = () => {};
  #closed = false;
  /** Set by wakeup(): the poll() waiting (or the next one) returns at once. */
  #wokenUp = false;

  constructor(config: Partial<ConsumerConfig>, deps: ConsumerDeps) {
    this.#config = { ...defaultConsumerConfig, ...config };
    assert(this.#config.pollRecordsMax > 0, 'pollRecordsMax must be > 0');
    this.#deps = deps;
  }

  /** Replaces the assignment; partitions new to it start at autoOffsetReset (or earliest). */
  assign(partitions: readonly TopicPartition[]): void {
    if (partitions.length > this.#config.partitionsMax) {
      throw new ClientError(
        'INVALID_REQUEST',
        `more than ${this.#config.partitionsMax} partitions`,
      );
    }
    const kept = new Map<string, PartitionState>();
    for (const tp of partitions) {
      const key = keyOf(tp);
      const to = this.#config.autoOffsetReset === 'latest' ? 'latest' : 'earliest';
      kept.set(key, this.#partitions.get(key) ?? newState(tp, { kind: 'reset', to }));
    }
    for (const [key, state] of this.#partitions) if (!kept.has(key)) state.cancelFetch?.abort();
    this.#partitions.clear();
    for (const [key, state] of kept) this.#partitions.set(key, state);
  }

  assignment(): TopicPartition[] {
    return [...this.#partitions.values()].map((state) => state.tp);
  }

  seek(tp: TopicPartition, offset: number): void {
    assert(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset} must be >= 0`);
    this.#reposition(tp, { kind: 'offset', offset });
  }

  seekToBeginning(tp: TopicPartition): void {
    this.#reposition(tp, { kind: 'reset', to: 'earliest' });
  }

  seekToEnd(tp: TopicPartition): void {
    this.#reposition(tp, { kind: 'reset', to: 'latest' });
  }

  /** Stops fetching and returning `partitions` (assigned ones) until resume(); keeps positions. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp).paused = true;
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#state(tp).paused = false;
  }

  paused(): TopicPartition[] {
    return [...this.#partitions.values()].filter((s) => s.paused).map((s) => s.tp);
  }

  /** Makes a waiting poll() return at once ([] if nothing is buffered), as Kafka's wakeup(). */
  wakeup(): void {
    this.#wokenUp = true;
    this.#wake();
  }

  /** The next offset poll() will return for `tp`, or null while it is being looked up. */
  position(tp: TopicPartition): number | null {
    const state = this.#state(tp);
    return state.position.kind === 'offset' ? state.position.offset : null;
  }

  /** The high watermark from the partition's last fetch (-1 before any). */
  highWatermark(tp: TopicPartition): number {
    return this.#state(tp).highWatermark;
  }

  /**
   * Records at the positions, waiting up to maxWaitMs for some to arrive; [] if none did.
   * Throws OFFSET_OUT_OF_RANGE (autoOffsetReset 'none') and non-retriable fetch errors; for
   * CORRUPT_MESSAGE (an undecodable stored batch) its details name `offset` and `nextOffset`:
   * the position stays at the batch until the caller seeks (Kafka's CorruptRecordException).
   */
  async poll(options: { maxWaitMs?: number } = {}): Promise<ConsumerRecord[]> {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the consumer is closed');
    const deadlineMs = this.#deps.clock.nowMs() + (options.maxWaitMs ?? 1_000);
    for (;;) {
      this.#throwPendingError();
      const records = this.#takeBuffered();
      if (records.length > 0) {
        this.#startFetches(); // Prefetch while the caller works on these.
        return records;
      }
      const remainingMs = deadlineMs - this.#deps.clock.nowMs();
      if (remainingMs <= 0 || this.#wokenUp || this.#closed) {
        this.#wokenUp = false;
        return [];
      }
      const woken = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#startFetches(remainingMs);
      const cancel = this.#deps.clock.schedule(Math.min(remainingMs, this.#nextRetryInMs()), () =>
        this.#wake(),
      );
      await woken;
      cancel();
    }
  }

  /** Cancels the fetches in flight; poll() fails with CLIENT_CLOSED afterwards. */
  close(): void {
    this.#closed = true;
    // Per-fetch controllers only: a long-lived signal joined with AbortSignal.any in every
    // fetch would keep a reference to each of them.
    for (const state of this.#partitions.values()) state.cancelFetch?.abort();
    this.#wake();
  }

  #state(tp: TopicPartition): PartitionState {
    const state = this.#partitions.get(keyOf(tp));
    if (state === undefined) {
      throw new ClientError('CLIENT_NOT_ASSIGNED', `${tp.topic}/${tp.partition} is not assigned`);
    }
    return state;
  }

  #reposition(tp: TopicPartition, position: Position): void {
    const state = this.#state(tp);
    state.position = position;
    state.buffered = [];
    state.error = null;
    state.generation += 1;
    state.cancelFetch?.abort();
    state.retryAtMs = 0;
  }

  #throwPendingError(): void {
    for (const state of this.#partitions.values()) {
      if (state.error === null) continue;
      const error = state.error;
      state.error = null;
      throw error;
    }
  }

  /**
   * Up to pollRecordsMax buffered records, partition after partition, advancing positions. Each
   * poll starts after the partition the previous one took from last, so a partition with much
   * buffered never starves the others.
   */
  #takeBuffered(): ConsumerRecord[] {
    const out: ConsumerRecord[] = [];
    const states = [...this.#partitions.values()];
    const start = this.#takeFrom % Math.max(1, states.length);
    for (let n = 0; n < states.length; n += 1) {
      const index = (start + n) % states.length;
      const state = states[index] as PartitionState;
      if (state.buffered.length === 0 || state.position.kind !== 'offset' || state.paused) continue;
      this.#takeFrom = index + 1;
      const room = this.#config.pollRecordsMax - out.length;
      const taken = state.buffered.length <= room ? state.buffered : state.buffered.slice(0, room);
      state.buffered = taken === state.buffered ? [] : state.buffered.slice(room);
      const { topic, partition } = state.tp;
      for (const record of taken) {
        const { offset, key, value, headers, timestampMs } = record;
        out.push({ topic, partition, offset, key, value, headers, timestampMs });
      }
      const last = taken.at(-1) as StoredRecord;
      state.position = { kind: 'offset', offset: last.offset + 1 };
      if (out.length >= this.#config.pollRecordsMax) break;
    }
    return out;
  }

  #nextRetryInMs(): number {
    const nowMs = this.#deps.clock.nowMs();
    let next = Infinity;
    for (const state of this.#partitions.values()) {
      if (!state.fetching && state.retryAtMs > nowMs)
        next = Math.min(next, state.retryAtMs - nowMs);
    }
    return next;
  }

  #startFetches(maxWaitMs = this.#config.fetchMaxWaitMs): void {
    const nowMs = this.#deps.clock.nowMs();
    for (const state of this.#partitions.values()) {
      if (state.fetching || state.buffered.length > 0 || state.error !== null) continue;
      if (state.retryAtMs > nowMs || state.paused) continue;
      state.fetching = true;
      const waitMs = Math.max(1, Math.ceil(Math.min(maxWaitMs, this.#config.fetchMaxWaitMs)));
      void this.#fetch(state, waitMs).finally(() => {
        state.fetching = false;
        this.#wake();
      });
    }
  }

  /** One fetch (or offset look-up) for one partition; never rejects. */
  async #fetch(state: PartitionState, maxWaitMs: number): Promise<void> {
    const generation = state.generation;
    const cancel = new AbortController();
    state.cancelFetch = cancel;
    try {
      if (state.position.kind === 'reset') {
        const offset = await this.#resolveReset(state.tp, state.position.to, cancel.signal);
        if (generation === state.generation) state.position = { kind: 'offset', offset };
      } else {
        const offset = state.position.offset;
        const startMs = this.#deps.clock.nowMs();
        const fetched = await this.#fetchRecords(state, offset, maxWaitMs, cancel.signal);
        if (generation !== state.generation) return;
        const records = fetched.records;
        state.buffered = records;
        // Batches with no record at or after the position (a compacted log's gaps, or a
        // batch the cleaner emptied) move the position past them, or it would never move.
        if (records.length === 0 && fetched.endOffset > offset) {
          state.position = { kind: 'offset', offset: fetched.endOffset };
          state.failures = 0;
          return;
        }
        // A broker long-polls, so an empty answer comes after maxWaitMs; one that comes sooner
        // must not make this a busy loop.
        if (state.buffered.length === 0) state.retryAtMs = startMs + maxWaitMs;
      }
      state.failures = 0;
    } catch (error) {
      if (generation !== state.generation || this.#closed) return;
      this.#onFetchError(state, error);
    } finally {
      if (state.cancelFetch === cancel) state.cancelFetch = null;
    }
  }

  /** The fetched records at and after `offset`, and the offset after the last batch. */
  async #fetchRecords(
    state: PartitionState,
    offset: number,
    maxWaitMs: number,
    cancel: AbortSignal,
  ): Promise<{ records: StoredRecord[]; endOffset: number }> {
    const { topic, partition } = state.tp;
    const leader = await this.#deps.metadata.leader(topic, partition);
    const path =
      `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records` +
      `?offset=${offset}&maxBytes=${this.#config.fetchBytesMax}&maxWaitMs=${maxWaitMs}`;
    const response = await this.#deps.transport.request(leader.url, {
      method: 'GET',
      path,
      headers: { accept: batchContentType },
      // A batch larger than maxBytes is still sent whole, up to max.message.bytes beyond it.
      responseBytesMax: this.#config.fetchBytesMax + 16 * 1024 * 1024,
      timeoutMs: maxWaitMs + this.#config.requestTimeoutMs,
      signal: cancel,
    });
    if (response.status !== 200) throw responseError(response, `fetch ${topic}/${partition}`);
    const highWatermark = Number(response.headers[fetchHeaders.highWatermark] ?? -1);
    if (Number.isSafeInteger(highWatermark)) state.highWatermark = highWatermark;
    // The broker bounded decompression by the topic's max.message.bytes; this client does not
    // know it, so it takes the absolute bound, which is never below the broker's.
    const { batches, unreadable } = await decodeReadableChunks(response.chunks ?? [response.body], {
      decompressedBytesMax: DECOMPRESSED_BYTES_MAX,
    });
    // The first batch may begin before `offset`: its earlier records are skipped.
    const records: StoredRecord[] = [];
    let endOffset = offset;
    for (const batch of batches) {
      for (const record of batch.records) if (record.offset >= offset) records.push(record);
      endOffset = Math.max(endOffset, batch.header.baseOffset + batch.header.lastOffsetDelta + 1);
    }
    if (records.length === 0 && unreadable !== null) {
      const at = Math.max(unreadable.baseOffset ?? offset, offset);
      throw new ClientError(
        'CORRUPT_MESSAGE',
        `fetch ${topic}/${partition}: the batch at offset ${at} does not decode ` +
          `(${unreadable.error.message}); seek to nextOffset to skip it`,
        {
          cause: unreadable.error,
          details: { topic, partition, offset: at, nextOffset: unreadable.nextOffset ?? at + 1 },
        },
      );
    }
    return { records, endOffset };
  }

  async #resolveReset(
    tp: TopicPartition,
    to: 'earliest' | 'latest',
    cancel: AbortSignal,
  ): Promise<number> {
    const path = `/v1/topics/${encodeURIComponent(tp.topic)}/partitions/${tp.partition}/offsets`;
    const leader = await this.#deps.metadata.leader(tp.topic, tp.partition);
    const response = await this.#deps.transport.request(leader.url, {
      method: 'GET',
      path,
      responseBytesMax: 64 * 1024,
      timeoutMs: this.#config.requestTimeoutMs,
      signal: cancel,
    });
    const what = `offsets of ${tp.topic}/${tp.partition}`;
    if (response.status !== 200) throw responseError(response, what);
    const body = jsonBody(response, what) as { logStartOffset?: unknown; highWatermark?: unknown };
    const offset = to === 'earliest' ? body.logStartOffset : body.highWatermark;
    if (typeof offset !== 'number') {
      throw new ClientError('CLIENT_BAD_RESPONSE', `${what}: no ${to} offset in the answer`);
    }
    return offset;
  }

  #onFetchError(state: PartitionState, raw: unknown): void {
    const error = raw instanceof ClientError ? raw : fetchFailure(state.tp, raw);
    if (error.code === 'OFFSET_OUT_OF_RANGE' && this.#config.autoOffsetReset !== 'none') {
      state.position = { kind: 'reset', to: this.#config.autoOffsetReset };
      return;
    }
    if (!error.retriable) {
      state.error = error;
      return;
    }
    if (staleMetadataCodes.has(error.code)) this.#deps.metadata.invalidate(state.tp.topic);
    const delayMs = backoffDelayMs(this.#config.retryBackoff, state.failures, this.#deps.random);
    state.failures += 1;
    state.retryAtMs = this.#deps.clock.nowMs() + delayMs;
  }
}

/** A failure outside the transport: the codec refused the fetched bytes. */
function fetchFailure(tp: TopicPartition, raw: unknown): ClientError {
  const reason = raw instanceof Error ? raw.message : String(raw);
  const where = `fetch ${tp.topic}/${tp.partition}`;
  if (isLogError(raw))
    return new ClientError('CORRUPT_MESSAGE', `${where}: ${reason}`, { cause: raw });
  return new ClientError('CLIENT_BAD_RESPONSE', `${where}: ${reason}`, { cause: raw });
}

function keyOf(tp: TopicPartition): string {
  return `${tp.partition}:${tp.topic}`;
}

function newState(tp: TopicPartition, position: Position): PartitionState {
  return {
    tp,
    position,
    buffered: [],
    fetching: false,
    cancelFetch: null,
    error: null,
    retryAtMs: 0,
    failures: 0,
    highWatermark: -1,
    generation: 0,
    paused: false,
  };
}
