// OffsetFetch (key 9), v0-v8 (flexible from v6; v8 batches groups): a group's committed offsets
// from its coordinator, -1 for partitions without one. Null topics (v2+) asks for every offset
// of the group. RequireStable (v7+) changes nothing: without transactions no offset is pending.
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { kafkaErrorCode } from '../error-codes.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import {
  checkGroupId,
  groupErrorCode,
  groupsPerRequestMax,
  partitionsPerTopicMax,
  topicsPerRequestMax,
} from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const topic: readonly Field[] = [
  { name: 'name', type: 'string', versions: v(0) },
  { name: 'partitionIndexes', type: { of: 'int32', max: partitionsPerTopicMax }, versions: v(0) },
];

const group: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(8) },
  {
    name: 'topics',
    type: { of: topic, max: topicsPerRequestMax },
    versions: v(8),
    nullableFrom: 8,
  },
];

export const offsetFetchRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0, 7) },
  {
    name: 'topics',
    type: { of: topic, max: topicsPerRequestMax },
    versions: v(0, 7),
    nullableFrom: 2,
  },
  { name: 'groups', type: { of: group, max: groupsPerRequestMax }, versions: v(8) },
  { name: 'requireStable', type: 'bool', versions: v(7), absent: false },
];

const partitionResult: readonly Field[] = [
  { name: 'partitionIndex', type: 'int32', versions: v(0) },
  { name: 'committedOffset', type: 'int64', versions: v(0) },
  { name: 'committedLeaderEpoch', type: 'int32', versions: v(5) },
  { name: 'metadata', type: 'string', versions: v(0), nullableFrom: 0 },
  { name: 'errorCode', type: 'int16', versions: v(0) },
];

const topicResult: readonly Field[] = [
  { name: 'name', type: 'string', versions: v(0) },
  {
    name: 'partitions',
    type: { of: partitionResult, max: partitionsPerTopicMax },
    versions: v(0),
  },
];

const groupResult: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(8) },
  { name: 'topics', type: { of: topicResult, max: topicsPerRequestMax }, versions: v(8) },
  { name: 'errorCode', type: 'int16', versions: v(8) },
];

export const offsetFetchResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(3) },
  { name: 'topics', type: { of: topicResult, max: topicsPerRequestMax }, versions: v(0, 7) },
  { name: 'errorCode', type: 'int16', versions: v(2, 7) },
  { name: 'groups', type: { of: groupResult, max: groupsPerRequestMax }, versions: v(8) },
];

/** One group's answer: its topics, and the group-level code. */
function fetchGroup(
  services: KafkaServices,
  groupId: string,
  topics: readonly Message[] | null,
): { topics: Message[]; errorCode: number } {
  let committed: Map<string, { offset: number; metadata: string }>;
  try {
    checkGroupId(groupId);
    committed = services.groups.committedOffsets(groupId);
  } catch (error) {
    const errorCode = groupErrorCode(error);
    const failed = (topics ?? []).map((t) => ({
      name: t['name'],
      partitions: (t['partitionIndexes'] as number[]).map((p) => entry(p, null, errorCode)),
    }));
    return { topics: failed, errorCode };
  }
  const asked =
    topics ??
    [...groupByTopic(committed)].map(([name, partitions]) => ({
      name,
      partitionIndexes: partitions,
    }));
  return {
    errorCode: 0,
    topics: asked.map((t) => ({
      name: t['name'],
      partitions: (t['partitionIndexes'] as number[]).map((p) =>
        entry(p, committed.get(`${String(t['name'])}:${p}`) ?? null, 0),
      ),
    })),
  };
}

function entry(
  partition: number,
  value: { offset: number; metadata: string } | null,
  errorCode: number,
): Message {
  return {
    partitionIndex: partition,
    committedOffset: value?.offset ?? -1,
    committedLeaderEpoch: -1,
    metadata: value?.metadata ?? '',
    errorCode,
  };
}

function groupByTopic(committed: Map<string, unknown>): Map<string, number[]> {
  const byTopic = new Map<string, number[]>();
  for (const key of committed.keys()) {
    const at = key.lastIndexOf(':');
    const name = key.slice(0, at);
    byTopic.set(name, [...(byTopic.get(name) ?? []), Number(key.slice(at + 1))]);
  }
  return byTopic;
}

export const offsetFetchApi: KafkaApi = {
  apiKey: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 6,
  handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, offsetFetchRequest, version, flexible);
    const body = new KafkaWriter(256);
    if (version >= 8) {
      const groups = (request['groups'] as Message[]).map((g) => {
        const groupId = g['groupId'] as string;
        return {
          groupId,
          ...fetchGroup(context.services, groupId, g['topics'] as Message[] | null),
        };
      });
      writeMessage(body, offsetFetchResponse, version, flexible, { throttleTimeMs: 0, groups });
      return Promise.resolve(body);
    }
    const topics =
      version < 2 ? (request['topics'] as Message[]) : (request['topics'] as Message[] | null);
    const one = fetchGroup(context.services, request['groupId'] as string, topics);
    // v0-v1 have no group-level code: a failure shows on each partition only.
    const errorCode = version >= 2 ? one.errorCode : kafkaErrorCode.NONE;
    writeMessage(body, offsetFetchResponse, version, flexible, {
      throttleTimeMs: 0,
      topics: one.topics,
      errorCode,
    });
    return Promise.resolve(body);
  },
};
