// Untrusted consumer-group request bodies checked into typed requests (docs/api.md "Consumer
// groups"): types, lengths and the list bounds. The coordinator core checks the rest (epochs,
// the regex's safety, subscription size).
import type { MemberHeartbeat, OffsetCommit } from '../../../broker/index.ts';
import { invalid, isPlainObject, objectBody } from '../request-checks.ts';

/** Group ids, member ids and instance ids: 1-249 characters (Kafka's topic name bound). */
export const groupIdMax = 249;
/** Partitions named in one heartbeat's ownedPartitions, offsets in one commit. */
export const partitionsPerRequestMax = 10_000;
const int32Max = 2 ** 31 - 1;

export function groupParam(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > groupIdMax) {
    throw invalid(`a group id is 1-${groupIdMax} characters`);
  }
  return value;
}

function optionalString(
  body: Record<string, unknown>,
  name: string,
  max: number,
): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw invalid(`${name} must be a string of at most ${max} characters`);
  }
  return value;
}

function epochField(body: Record<string, unknown>): number {
  const value = body['memberEpoch'];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -2 || value > int32Max) {
    throw invalid('memberEpoch must be an integer ≥ -2');
  }
  return value;
}

function memberIdField(body: Record<string, unknown>): string {
  const value = body['memberId'];
  if (typeof value !== 'string' || value.length > groupIdMax) {
    throw invalid(`memberId must be a string of at most ${groupIdMax} characters`);
  }
  return value;
}

function topicPartitionsField(value: unknown): { topic: string; partitions: number[] }[] {
  if (!Array.isArray(value)) throw invalid('ownedPartitions must be [{topic, partitions}]');
  let count = 0;
  return value.map((entry: unknown) => {
    const ok =
      isPlainObject(entry) &&
      typeof entry['topic'] === 'string' &&
      Array.isArray(entry['partitions']);
    if (!ok) throw invalid('ownedPartitions must be [{topic, partitions}]');
    const partitions = entry['partitions'] as unknown[];
    count += partitions.length;
    if (count > partitionsPerRequestMax) {
      throw invalid(`at most ${partitionsPerRequestMax} owned partitions`);
    }
    if (!partitions.every((p) => Number.isSafeInteger(p) && (p as number) >= 0)) {
      throw invalid('partitions must be non-negative integers');
    }
    return { topic: entry['topic'] as string, partitions: partitions as number[] };
  });
}

/** POST /v1/groups/{group}/heartbeat. */
export function heartbeatBody(raw: unknown, clientHost: string): MemberHeartbeat {
  const body = objectBody(raw);
  const topics = body['subscribedTopics'];
  if (
    topics !== undefined &&
    topics !== null &&
    !(Array.isArray(topics) && topics.every((t) => typeof t === 'string' && t.length <= 249))
  ) {
    throw invalid('subscribedTopics must be a list of topic names');
  }
  const assignor = body['assignor'];
  if (
    assignor !== undefined &&
    assignor !== null &&
    assignor !== 'uniform' &&
    assignor !== 'range'
  ) {
    throw invalid('assignor must be uniform or range');
  }
  const rebalance = body['rebalanceTimeoutMs'];
  if (
    rebalance !== undefined &&
    rebalance !== null &&
    (typeof rebalance !== 'number' || !Number.isSafeInteger(rebalance))
  ) {
    throw invalid('rebalanceTimeoutMs must be an integer');
  }
  const owned = body['ownedPartitions'];
  return {
    memberId: memberIdField(body),
    memberEpoch: epochField(body),
    instanceId: optionalString(body, 'instanceId', groupIdMax),
    rebalanceTimeoutMs: typeof rebalance === 'number' ? rebalance : undefined,
    subscribedTopics: Array.isArray(topics) ? (topics as string[]) : undefined,
    // A long one reaches the core, which names its limit (subscriptionRegexMax).
    subscribedTopicRegex: optionalString(body, 'subscribedTopicRegex', 10_000),
    assignor: assignor === 'uniform' || assignor === 'range' ? assignor : undefined,
    ownedPartitions:
      owned === undefined || owned === null ? undefined : topicPartitionsField(owned),
    clientHost,
  };
}

/** POST /v1/groups/{group}/offsets. */
export function commitBody(raw: unknown): {
  memberId: string;
  memberEpoch: number;
  offsets: OffsetCommit[];
} {
  const body = objectBody(raw);
  const offsets = body['offsets'];
  if (!Array.isArray(offsets) || offsets.length > partitionsPerRequestMax) {
    throw invalid(`offsets must be a list of at most ${partitionsPerRequestMax} entries`);
  }
  return {
    memberId: memberIdField(body),
    memberEpoch: epochField(body),
    offsets: offsets.map((entry: unknown): OffsetCommit => {
      if (!isPlainObject(entry) || typeof entry['topic'] !== 'string') {
        throw invalid('each offset is {topic, partition, offset, metadata?}');
      }
      const { partition, offset, metadata } = entry;
      if (
        !Number.isSafeInteger(partition) ||
        (partition as number) < 0 ||
        !Number.isSafeInteger(offset) ||
        (offset as number) < 0
      ) {
        throw invalid('partition and offset must be non-negative integers');
      }
      if (metadata !== undefined && metadata !== null && typeof metadata !== 'string') {
        throw invalid('metadata must be a string');
      }
      return {
        topic: entry['topic'],
        partition: partition as number,
        offset: offset as number,
        metadata: typeof metadata === 'string' ? metadata : undefined,
      };
    }),
  };
}

export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'timestamp'; readonly timestamp: number };

/** POST /v1/groups/{group}/offsets/reset. */
export function resetBody(raw: unknown): { topic: string; to: ResetTarget; dryRun: boolean } {
  const body = objectBody(raw);
  const topic = body['topic'];
  if (typeof topic !== 'string') throw invalid('topic must be a string');
  const dryRun = body['dryRun'] ?? false;
  if (typeof dryRun !== 'boolean') throw invalid('dryRun must be a boolean');
  const to = body['to'];
  let target: ResetTarget;
  if (to === 'earliest' || to === 'latest') target = { kind: to };
  else if (
    isPlainObject(to) &&
    Number.isSafeInteger(to['offset']) &&
    (to['offset'] as number) >= 0
  ) {
    target = { kind: 'offset', offset: to['offset'] as number };
  } else if (isPlainObject(to) && Number.isSafeInteger(to['timestamp'])) {
    target = { kind: 'timestamp', timestamp: to['timestamp'] as number };
  } else {
    throw invalid('to must be "earliest", "latest", {offset: N} or {timestamp: ms}');
  }
  return { topic, to: target, dryRun };
}
