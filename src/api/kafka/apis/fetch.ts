// Fetch (key 1), v4-v17: topics by name to v12, by topic id from v13 (an id this node does not
// know answers UNKNOWN_TOPIC_ID); flexible from v12. No incremental fetch sessions: session_id
// 0 makes every client send full fetches. Each partition is read through the same broker.fetch
// the HTTP route calls; the stored batch bytes go out as they are, never decoded or re-encoded
// (the first batch may start before the fetch offset, as in Kafka). While fewer than min_bytes
// are ready, the request parks on every asked partition past what it has read until one gets
// data or max_wait_ms passes. No transactions, so last_stable_offset = high watermark.
import { readSlices } from '../../server/slice-sender.ts';
import { topicParam } from '../../server/request-checks.ts';
import type { KafkaApi, KafkaRequestContext } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import { topicNamesById } from '../kafka-topics.ts';
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
  /** The topic's name; '' when asked by an id this node does not know (v13+). */
  readonly name: string;
  /** The topic id the request named it by (v13+). */
  readonly topicId?: Buffer;
  readonly partitions: readonly FetchPartition[];
}

export interface FetchRequestBody {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly topics: readonly FetchTopic[];
}

/** The first version that names topics by id instead of by name (KIP-516). */
export const fetchTopicIdsFrom = 13;

/**
 * Reads a Fetch request body. From v13 topics come by id: `nameOfId` gives each id's name
 * (undefined when unknown).
 */
export function readFetchRequest(
  reader: KafkaReader,
  version: number,
  nameOfId: (id: Buffer) => string | undefined = () => undefined,
): FetchRequestBody {
  const flexible = version >= 12;
  if (version <= 14) reader.int32(); // replica_id: -1 for consumers (v15+: a tagged field)
  const maxWaitMs = reader.int32();
  const minBytes = reader.int32();
  const maxBytes = reader.int32();
  reader.int8(); // isolation_level: without transactions both levels read the same
  if (version >= 7) {
    reader.int32(); // session_id
    reader.int32(); // session_epoch
  }
  const topics = reader.arrayOf(
    flexible,
    (r) => readFetchTopic(r, version, nameOfId),
    fetchTopicsMax,
  );
  if (version >= 7) {
    reader.arrayOf(flexible, (r) => {
      if (version >= fetchTopicIdsFrom) r.uuid();
      else r.stringOf(flexible);
      r.arrayOf(flexible, (pr) => pr.int32(), fetchPartitionsMax);
      r.tagsOf(flexible);
    });
  }
  if (version >= 11) reader.stringOf(flexible); // rack_id
  reader.tagsOf(flexible);
  return { maxWaitMs, minBytes, maxBytes, topics };
}

function readFetchTopic(
  r: KafkaReader,
  version: number,
  nameOfId: (id: Buffer) => string | undefined,
): FetchTopic {
  const flexible = version >= 12;
  let name: string;
  let topicId: Buffer | undefined;
  if (version >= fetchTopicIdsFrom) {
    topicId = Buffer.from(r.uuid());
    name = nameOfId(topicId) ?? '';
  } else {
    name = r.stringOf(flexible);
  }
  const partitions = r.arrayOf(
    flexible,
    (pr) => {
      const partition = pr.int32();
      if (version >= 9) pr.int32(); // current_leader_epoch
      const offset = pr.int64Number();
      if (version >= 12) pr.int32(); // last_fetched_epoch (followers' divergence check)
      if (version >= 5) pr.int64(); // log_start_offset (followers only)
      const partitionBytesMax = pr.int32();
      pr.tagsOf(flexible); // v17 replica_directory_id (followers only)
      return { partition, offset, partitionBytesMax };
    },
    fetchPartitionsMax,
  );
  r.tagsOf(flexible);
  return topicId === undefined ? { name, partitions } : { name, topicId, partitions };
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
  readonly topicId?: Buffer;
  readonly partitions: PartitionAnswer[];
}

/** Answers for each partition of a topic asked by an id this node does not know. */
function unknownTopicId(topic: FetchTopic): PartitionAnswer[] {
  return topic.partitions.map(({ partition }) => ({
    partition,
    errorCode: kafkaErrorCode.UNKNOWN_TOPIC_ID,
    highWatermark: -1,
    logStartOffset: -1,
    records: Buffer.alloc(0),
    served: 0,
  }));
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
    const { topicId } = topic;
    if (topicId !== undefined && topic.name === '') {
      hasError = true;
      topics.push({ name: '', topicId, partitions: unknownTopicId(topic) });
      continue;
    }
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
        // Only the answer's first records may pass max_bytes (KIP-74): a later partition whose
        // first batch does not fit in what is left sends none, and is read on the next fetch.
        const fits = bytes === 0 || records.length <= budget;
        if (!fits) records = Buffer.alloc(0);
        budget = Math.max(0, budget - records.length);
        bytes += records.length;
        const { highWatermark, logStartOffset } = result;
        const served = fits ? Math.max(0, result.read.nextOffset - offset) : 0;
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
    topics.push(
      topicId === undefined ? { name: topic.name, partitions } : { ...topic, partitions },
    );
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
  const flexible = version >= 12;
  const chunks: Uint8Array[] = [];
  let w = new KafkaWriter(256);
  w.int32(0); // throttle_time_ms
  if (version >= 7) w.int16(kafkaErrorCode.NONE).int32(0); // error_code, session_id
  const count = (n: number) => (flexible ? w.uvarint(n + 1) : w.int32(n));
  count(topics.length);
  for (const topic of topics) {
    if (version >= fetchTopicIdsFrom) w.uuid(topic.topicId ?? Buffer.alloc(16));
    else w.stringOf(flexible, topic.name);
    count(topic.partitions.length);
    for (const answer of topic.partitions) {
      w.int32(answer.partition).int16(answer.errorCode).int64(answer.highWatermark);
      w.int64(answer.highWatermark); // last_stable_offset
      if (version >= 5) w.int64(answer.logStartOffset);
      w.nullableArrayOf(flexible, null, () => undefined); // aborted_transactions
      if (version >= 11) w.int32(-1); // preferred_read_replica
      const size = answer.records.length;
      if (flexible) w.uvarint(size + 1);
      else w.int32(size);
      if (size > 0) {
        chunks.push(w.finish(), answer.records);
        w = new KafkaWriter(256);
      }
      w.tagsOf(flexible);
    }
    w.tagsOf(flexible);
  }
  w.tagsOf(flexible);
  chunks.push(w.finish());
  return chunks;
}

export const fetchApi: KafkaApi = {
  apiKey: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 17,
  flexibleFrom: 12,
  async handle(context, reader, header) {
    const version = header.apiVersion;
    const names = version >= fetchTopicIdsFrom ? topicNamesById(context.services) : null;
    const request = readFetchRequest(reader, version, (id) => names?.get(id.toString('hex')));
    const answer = await longPoll(context, request);
    for (const topic of answer.topics) {
      const bytes = topic.partitions.reduce((sum, p) => sum + p.records.length, 0);
      if (bytes > 0) context.services.metrics.countFetched(topic.name, bytes);
      context.services.metrics.countConsumed(
        topic.partitions.reduce((sum, p) => sum + p.served, 0),
      );
    }
    return writeResponse(answer.topics, version);
  },
};
