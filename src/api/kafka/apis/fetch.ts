// Fetch (key 1), v4-v11 (topics by name; no incremental fetch sessions: session_id 0 makes
// every client send full fetches). Each partition is read through the same broker.fetch the
// HTTP route calls; the stored batch bytes go out as they are, never decoded or re-encoded
// (the first batch may start before the fetch offset, as in Kafka). When fewer than min_bytes
// are ready, the request parks on every asked partition until one gets data or max_wait_ms
// passes, then reads again. There are no transactions, so last_stable_offset = high watermark.
import { readSlices } from '../../server/slice-sender.ts';
import { topicParam } from '../../server/request-checks.ts';
import type { KafkaApi, KafkaRequestContext } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import { KafkaWriter } from '../protocol/writer.ts';

/** Topics, and partitions per topic, one Fetch request may name. */
export const fetchTopicsMax = 10_000;
export const fetchPartitionsMax = 100_000;

interface FetchPartition {
  readonly partition: number;
  readonly offset: number;
  readonly partitionBytesMax: number;
}

interface FetchTopic {
  readonly name: string;
  readonly partitions: readonly FetchPartition[];
}

export interface FetchRequestBody {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly topics: readonly FetchTopic[];
}

export function readFetchRequest(reader: KafkaReader, version: number): FetchRequestBody {
  reader.int32(); // replica_id: -1 for consumers
  const maxWaitMs = reader.int32();
  const minBytes = reader.int32();
  const maxBytes = reader.int32();
  reader.int8(); // isolation_level: without transactions both levels read the same
  if (version >= 7) {
    reader.int32(); // session_id
    reader.int32(); // session_epoch
  }
  const topics = reader.array((r) => {
    const name = r.string();
    const partitions = r.array((pr) => {
      const partition = pr.int32();
      if (version >= 9) pr.int32(); // current_leader_epoch
      const offset = pr.int64Number();
      if (version >= 5) pr.int64(); // log_start_offset (followers only)
      const partitionBytesMax = pr.int32();
      return { partition, offset, partitionBytesMax };
    }, fetchPartitionsMax);
    return { name, partitions };
  }, fetchTopicsMax);
  if (version >= 7) {
    reader.array((r) => [r.string(), r.array((pr) => pr.int32(), fetchPartitionsMax)]);
  }
  if (version >= 11) reader.string(); // rack_id
  return { maxWaitMs, minBytes, maxBytes, topics };
}

interface PartitionAnswer {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly records: Buffer;
  /** Offsets the answer moves the consumer past (0 for an error). */
  readonly served: number;
}

interface TopicAnswer {
  readonly name: string;
  readonly partitions: PartitionAnswer[];
}

/** Reads every asked partition once, without waiting, within the request's byte budget. */
async function readAll(
  context: KafkaRequestContext,
  request: FetchRequestBody,
): Promise<{ topics: TopicAnswer[]; bytes: number; hasError: boolean }> {
  const { broker, config } = context.services;
  let budget = Math.max(1, Math.min(request.maxBytes, config.fetchBytesMax));
  let bytes = 0;
  let hasError = false;
  const topics: TopicAnswer[] = [];
  for (const topic of request.topics) {
    const partitions: PartitionAnswer[] = [];
    for (const { partition, offset, partitionBytesMax } of topic.partitions) {
      try {
        topicParam(topic.name);
        const maxBytes = Math.max(1, Math.min(partitionBytesMax, budget));
        const signal = context.signal;
        const result = await broker.fetch({
          topic: topic.name,
          partition,
          offset,
          maxBytes,
          maxWaitMs: 0,
          signal,
        });
        let records: Buffer;
        try {
          records = await readSlices(result.read.slices, signal);
        } finally {
          result.read.release();
        }
        budget = Math.max(0, budget - records.length);
        bytes += records.length;
        const { highWatermark, logStartOffset } = result;
        const served = Math.max(0, result.read.nextOffset - offset);
        const answered = { highWatermark, logStartOffset, records, served };
        partitions.push({ partition, errorCode: 0, ...answered });
      } catch (error) {
        context.signal.throwIfAborted();
        hasError = true;
        const offsets = knownOffsets(context, topic.name, partition);
        const errorCode = kafkaErrorCodeOf(error);
        partitions.push({ partition, errorCode, ...offsets, records: Buffer.alloc(0), served: 0 });
      }
    }
    topics.push({ name: topic.name, partitions });
  }
  return { topics, bytes, hasError };
}

function knownOffsets(context: KafkaRequestContext, topic: string, partition: number) {
  try {
    return context.services.broker.listOffsets(topic, partition);
  } catch {
    return { highWatermark: -1, logStartOffset: -1 }; // Not the leader here: unknown.
  }
}

/** Parks on every asked partition until one has data past its offset or the wait ends. */
async function waitForData(
  context: KafkaRequestContext,
  request: FetchRequestBody,
  maxWaitMs: number,
): Promise<void> {
  const { broker } = context.services;
  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const waits = request.topics.flatMap((topic) =>
    topic.partitions.map(async ({ partition, offset }) => {
      const result = await broker.fetch({
        topic: topic.name,
        partition,
        offset,
        maxBytes: 1,
        maxWaitMs,
        signal,
      });
      result.read.release();
    }),
  );
  try {
    await Promise.race(waits);
  } catch {
    // A partition failed or the wait was cut short: the re-read reports what there is.
  } finally {
    stop.abort();
    await Promise.allSettled(waits);
  }
}

/**
 * Reads, and while fewer than min_bytes are ready and max_wait_ms has not passed, waits for
 * more past what was read and reads again. A read that did not grow after a wake (the new data
 * is beyond a byte limit) or any error ends the wait, as does the deadline.
 */
async function longPoll(
  context: KafkaRequestContext,
  request: FetchRequestBody,
): Promise<Awaited<ReturnType<typeof readAll>>> {
  const { clock, config } = context.services;
  const minBytes = Math.max(1, request.minBytes);
  const deadline = clock.nowMs() + Math.min(Math.max(0, request.maxWaitMs), config.fetchWaitMsMax);
  const hasPartitions = request.topics.some((topic) => topic.partitions.length > 0);
  let answer = await readAll(context, request);
  while (hasPartitions && !answer.hasError && answer.bytes < minBytes) {
    const maxWaitMs = deadline - clock.nowMs();
    if (maxWaitMs <= 0) break;
    await waitForData(context, pastRead(request, answer.topics), maxWaitMs);
    const before = answer.bytes;
    answer = await readAll(context, request);
    if (answer.bytes <= before && clock.nowMs() < deadline) break;
  }
  return answer;
}

/** The request with each partition's offset moved past the offsets already read. */
function pastRead(request: FetchRequestBody, answers: readonly TopicAnswer[]): FetchRequestBody {
  const topics = request.topics.map((topic, t) => ({
    name: topic.name,
    partitions: topic.partitions.map((p, i) => {
      const served = answers[t]?.partitions[i]?.served ?? 0;
      return { ...p, offset: p.offset + served };
    }),
  }));
  return { ...request, topics };
}

function writeResponse(topics: readonly TopicAnswer[], version: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let w = new KafkaWriter(256);
  w.int32(0); // throttle_time_ms
  if (version >= 7) w.int16(kafkaErrorCode.NONE).int32(0); // error_code, session_id
  w.int32(topics.length);
  for (const topic of topics) {
    w.string(topic.name).int32(topic.partitions.length);
    for (const answer of topic.partitions) {
      w.int32(answer.partition).int16(answer.errorCode).int64(answer.highWatermark);
      w.int64(answer.highWatermark); // last_stable_offset
      if (version >= 5) w.int64(answer.logStartOffset);
      w.int32(-1); // aborted_transactions: null
      if (version >= 11) w.int32(-1); // preferred_read_replica
      w.int32(answer.records.length);
      if (answer.records.length > 0) {
        chunks.push(w.finish(), answer.records);
        w = new KafkaWriter(256);
      }
    }
  }
  chunks.push(w.finish());
  return chunks;
}

export const fetchApi: KafkaApi = {
  apiKey: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  flexibleFrom: 12,
  async handle(context, reader, header) {
    const request = readFetchRequest(reader, header.apiVersion);
    const answer = await longPoll(context, request);
    for (const topic of answer.topics) {
      const bytes = topic.partitions.reduce((sum, p) => sum + p.records.length, 0);
      if (bytes > 0) context.services.metrics.countFetched(topic.name, bytes);
      context.services.metrics.countConsumed(
        topic.partitions.reduce((sum, p) => sum + p.served, 0),
      );
    }
    return writeResponse(answer.topics, header.apiVersion);
  },
};
