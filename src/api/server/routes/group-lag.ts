// Where a partition's log stands for consumer-group answers: its HW and log start, the offset
// for a time, and the timestamp of the record at an offset (for lag in seconds). Each is asked
// of the partition's leader: this node's broker when it leads, else the leader over HTTP/2
// (bounded, short timeout). An answer that cannot be had is null, never an error.
import { decodeBatches } from '../../../log/index.ts';
import type { PartitionOffsetsBody } from '../../wire.ts';
import type { RouteContext } from '../route-context.ts';
import { readSlices } from '../slice-sender.ts';

/** How long a group answer waits for another node's offsets or record. */
export const groupForwardTimeoutMs = 1_500;
/** Record-timestamp look-ups one describe (or scrape) makes at most; the rest are null. */
export const lagSecondsLookupsMax = 1_000;
/** Concurrent look-ups of one describe. */
const lookupsInFlightMax = 16;
const answerBytesMax = 1024 * 1024;

interface LeaderRef {
  readonly local: boolean;
  readonly url: string | null;
}

function leaderOf(context: RouteContext, topic: string, partition: number): LeaderRef {
  const { broker } = context;
  let leader: number | null = null;
  try {
    leader = broker.describeTopic(topic).partitions[partition]?.leader ?? null;
  } catch {
    return { local: false, url: null }; // Unknown topic: no leader to ask.
  }
  if (leader === broker.nodeId) return { local: true, url: null };
  const url = broker.describeCluster().brokers.find((b) => b.id === leader)?.url ?? null;
  return { local: false, url };
}

async function getJson<T>(context: RouteContext, url: string, path: string): Promise<T | null> {
  try {
    const response = await context.forwarder.request(url, {
      method: 'GET',
      path,
      responseBytesMax: answerBytesMax,
      timeoutMs: groupForwardTimeoutMs,
    });
    if (response.status !== 200) return null;
    return JSON.parse(response.body.toString('utf8')) as T;
  } catch {
    return null; // Unreachable, slow or garbled: unknown.
  }
}

/** {logStartOffset, highWatermark, offset?} from the leader, or null. */
export async function partitionOffsets(
  context: RouteContext,
  topic: string,
  partition: number,
  timestamp?: number,
): Promise<PartitionOffsetsBody | null> {
  const leader = leaderOf(context, topic, partition);
  if (leader.local) {
    try {
      const offsets = context.broker.listOffsets(topic, partition);
      if (timestamp === undefined) return offsets;
      const offset = await context.broker.offsetForTimestamp(topic, partition, timestamp);
      return { ...offsets, offset };
    } catch {
      return null; // Leadership moving, HW not settled: unknown for now.
    }
  }
  if (leader.url === null) return null;
  const query = timestamp === undefined ? '' : `?timestamp=${timestamp}`;
  const path = `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets${query}`;
  return getJson<PartitionOffsetsBody>(context, leader.url, path);
}

/** The timestamp of the first record at or after `offset` below the HW, or null. */
export async function recordTimestamp(
  context: RouteContext,
  topic: string,
  partition: number,
  offset: number,
): Promise<number | null> {
  const leader = leaderOf(context, topic, partition);
  if (leader.local) {
    try {
      const fetched = await context.broker.fetch({
        topic,
        partition,
        offset,
        maxBytes: 1,
        maxWaitMs: 0,
      });
      let bytes: Uint8Array;
      try {
        bytes = await readSlices(fetched.read.slices);
      } finally {
        fetched.read.release();
      }
      for (const batch of await decodeBatches(bytes)) {
        const found = batch.records.find((r) => r.offset >= offset);
        if (found !== undefined) return found.timestampMs;
      }
      return null;
    } catch {
      return null; // Out of range (compacted, deleted) or moving: unknown.
    }
  }
  if (leader.url === null) return null;
  const path =
    `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records` +
    `?offset=${offset}&maxBytes=1`;
  const body = await getJson<{ records?: { offset: number; timestamp: number }[] }>(
    context,
    leader.url,
    path,
  );
  const found = body?.records?.find((r) => r.offset >= offset);
  return found?.timestamp ?? null;
}

export interface LagInput {
  readonly topic: string;
  readonly partition: number;
  readonly committedOffset: number | null;
}

export interface LagOutput extends LagInput {
  readonly highWatermark: number | null;
  readonly lag: number | null;
  readonly lagSeconds: number | null;
}

/** HW, lag (records) and lag (seconds) of each entry, asking leaders in bounded parallel. */
export async function partitionLags(
  context: RouteContext,
  entries: readonly LagInput[],
): Promise<LagOutput[]> {
  const out: LagOutput[] = new Array<LagOutput>(entries.length);
  let lookups = 0;
  const one = async (entry: LagInput): Promise<LagOutput> => {
    const offsets = await partitionOffsets(context, entry.topic, entry.partition);
    const highWatermark = offsets?.highWatermark ?? null;
    const committed = entry.committedOffset;
    if (highWatermark === null || committed === null) {
      return { ...entry, highWatermark, lag: null, lagSeconds: null };
    }
    const lag = Math.max(0, highWatermark - committed);
    if (lag === 0) return { ...entry, highWatermark, lag, lagSeconds: 0 };
    if (lookups >= lagSecondsLookupsMax) return { ...entry, highWatermark, lag, lagSeconds: null };
    lookups += 1;
    const timestamp = await recordTimestamp(context, entry.topic, entry.partition, committed);
    const lagSeconds =
      timestamp === null ? null : Math.max(0, (context.wallClock.wallMs() - timestamp) / 1000);
    return { ...entry, highWatermark, lag, lagSeconds };
  };
  for (let start = 0; start < entries.length; start += lookupsInFlightMax) {
    const chunk = entries.slice(start, start + lookupsInFlightMax);
    const answers = await Promise.all(chunk.map(one));
    answers.forEach((answer, i) => {
      out[start + i] = answer;
    });
  }
  return out;
}
